import pytest

from litft.evaluation.no_answer import is_no_answer

QUESTION = "When does the Riverside library open on Saturdays?"


@pytest.mark.parametrize("answer", ["", "   ", "\n\t", "...", " ?! "])
def test_empty(answer):
    assert is_no_answer(answer, QUESTION) == "empty"


@pytest.mark.parametrize(
    "answer",
    [
        "I don't know.",
        "i do not know",
        "I don\u2019t know when it opens.",
        "I DON'T KNOW",
        "I cannot answer that question.",
        "I can't answer this based on the text.",
        "I'm not sure.",
        "I am not sure",
        "  Not sure  ",
        "As an AI language model, I have no access to opening hours.",
        "I don't have enough information to answer.",
        "There is no information about Saturdays.",
        "The context does not mention the opening hours.",
        "The provided context does not say.",
        "No information.",
        "No information provided.",
        "Not mentioned in the context.",
        "It is not mentioned in the context.",
        "Unknown.",
    ],
)
def test_refusals(answer):
    assert is_no_answer(answer, QUESTION) == "refusal"


@pytest.mark.parametrize(
    "answer",
    [
        "When does the Riverside library open on Saturdays?",
        "when does the riverside library open on saturdays",
        "does the Riverside library open on Saturdays",  # 7 of the question's 8 words, in order
    ],
)
def test_repeats_of_the_question(answer):
    assert is_no_answer(answer, QUESTION) == "repeats the question"


@pytest.mark.parametrize(
    "answer",
    [
        "It opens at 9 am on Saturdays.",
        "You should know that it opens at 9.",
        "As far as I know, it opens at 9 am.",
        "I know: 9 am.",
        "Everyone knows it opens at 9.",
        "I don't knowingly close early; it opens at 9.",  # "know" inside a longer word is no refusal
        "No information is kept about visitors, but it opens at 9.",
        "I'm not sure it opens before 10, probably 9.",  # a hedged answer is still an answer
        "Not sure of the minute, but around 9.",
        "Riverside library open on Saturdays",  # 6 of the question's 8 words
        "The Riverside library opens on Saturdays at 9.",  # not a run of the question's words
        "Saturdays",
    ],
)
def test_real_answers_are_not_flagged(answer):
    assert is_no_answer(answer, QUESTION) is None
