import random

import numpy as np
import pytest

from litft.common.errors import LitftError
from litft.evaluation import contamination
from litft.evaluation.contamination import NgramIndex, contaminated, record_text
from litft.models.instructions import Instruction

ANSWER = (
    "The Riverside library opens at nine in the morning on Saturdays and closes at four in the afternoon, "
    "except during the summer holidays when it stays closed all weekend."
)
TRAIN = [
    {"instruction": "When is the pool open?", "input": "", "output": "Daily from six until ten at night."},
    {"instruction": "When does the library open on Saturdays?", "input": "", "output": ANSWER},
]


def _words(text):
    return text.split()


def test_a_copied_run_of_ten_words_overlaps_by_ten():
    copied = " ".join(_words(ANSWER)[3:13])  # "opens at nine ... four"
    index = NgramIndex([record_text(record) for record in TRAIN])
    assert index.longest_overlap(f"Someone wrote: {copied}, or so they say.") == 10


def test_seven_shared_words_are_not_seen_with_n_8():
    shared = " ".join(_words(ANSWER)[3:10])
    index = NgramIndex([record_text(record) for record in TRAIN], n=8)
    assert index.longest_overlap(f"Unrelated start {shared} unrelated end") == 0
    test = [{"instruction": f"Is it true that it {shared}?", "input": "", "output": "Yes."}]
    assert contaminated(test, TRAIN, n=8) == []


def test_case_and_punctuation_do_not_hide_a_copy():
    index = NgramIndex([ANSWER])
    assert index.longest_overlap("THE RIVERSIDE LIBRARY -- OPENS AT NINE, IN THE MORNING; ON SATURDAYS!") == 11


def test_a_run_does_not_cross_from_one_record_into_the_next():
    index = NgramIndex(["alpha beta gamma delta", "epsilon zeta eta theta"], n=3)
    assert index.longest_overlap("gamma delta epsilon zeta eta") == 3  # the second record's run only


def test_contaminated_flags_test_records_by_index_and_overlap():
    test = [
        Instruction("When does the pool close?", reference="At ten."),
        {"question": "Summer?", "answer": "Surely " + " ".join(_words(ANSWER)[-12:])},
        {"instruction": "When does the library open on Saturdays?", "input": "", "output": ANSWER},
    ]
    flagged = contaminated(test, TRAIN)
    assert flagged == [(1, 12), (2, len(_words(record_text(TRAIN[1]))))]
    assert contaminated(test, TRAIN, threshold=13) == [(2, len(_words(record_text(TRAIN[1]))))]


def test_unanswerable_records_share_their_abstention_reference_without_being_copies():
    reference = "I don't know: the documents do not say."  # 8 words, the same in every unanswerable record
    train = [{"instruction": "When was Quillon Hall built?", "input": "", "output": reference, "answerable": False}]
    test = [
        Instruction("When was Varrick College founded?", reference=reference, answerable=False),
        Instruction("Who runs the Quillon Hall archive?", reference="The archivist runs it, on weekdays only."),
    ]
    assert contaminated(test, train) == []
    # An answerable record that repeats the phrase is still compared in full.
    flagged = contaminated([Instruction("Why?", reference=reference)], [{**train[0], "answerable": True}])
    assert [index for index, _ in flagged] == [0]


def _longest_common_run(words, record):
    """The brute-force answer: the longest run starting at every pair of positions."""
    longest = 0
    for i in range(len(words)):
        for j in range(len(record)):
            length = 0
            while i + length < len(words) and j + length < len(record) and words[i + length] == record[j + length]:
                length += 1
            longest = max(longest, length)
    return longest


def test_matches_a_brute_force_longest_common_run():
    rng = random.Random(0)
    vocabulary = [f"w{i}" for i in range(6)]  # few words: many repeated windows and partial matches
    train = [" ".join(rng.choices(vocabulary, k=rng.randint(0, 30))) for _ in range(20)]
    index = NgramIndex(train, n=3)
    for _ in range(50):
        words = rng.choices(vocabulary, k=rng.randint(0, 25))
        longest = max(_longest_common_run(words, record.split()) for record in train)
        assert index.longest_overlap(" ".join(words)) == (longest if longest >= 3 else 0)


def test_a_hash_collision_is_not_an_overlap(monkeypatch):
    monkeypatch.setattr(contamination, "_window_hashes", lambda ids, n: np.zeros(len(ids) - n + 1, dtype=np.uint64))
    index = NgramIndex(["one two three four"], n=2)
    assert index.longest_overlap("five six seven") == 0
    assert index.longest_overlap("zero two three") == 2


def test_tiny_or_empty_training_sets():
    assert NgramIndex([], n=8).longest_overlap(ANSWER) == 0
    assert NgramIndex(["too short"], n=8).longest_overlap("too short") == 0


@pytest.mark.parametrize("call", [lambda: NgramIndex([ANSWER], n=0), lambda: contaminated([], TRAIN, threshold=5)])
def test_user_errors(call):
    with pytest.raises(LitftError):
        call()
