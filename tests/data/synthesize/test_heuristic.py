"""The offline generator: fixed question shapes, verbatim answers, nothing from vague sentences."""

from __future__ import annotations

import pytest

from litft.data.synthesize.heuristic import heuristic_pairs, pair_from_sentence


@pytest.mark.parametrize(
    "sentence, question",
    [
        ("Acme Robotics is a company that builds warehouse robots.", "What is Acme Robotics?"),
        ("The University of Leeds is a public research university.", "What is the University of Leeds?"),
        ("Robotic arms are the main product line of Acme.", "What are Robotic arms?"),
        ("LIDAR stands for light detection and ranging.", "What does LIDAR stand for?"),
        ("Acme Robotics was founded in 2011 by two engineers.", "When was Acme Robotics founded?"),
        ("The Leeds office is located in the old mill.", "Where is the Leeds office located?"),
        ("The Acme warranty covers all parts for three years.", "What does the Acme warranty cover?"),
        ("Acme Robots provide shelf scanning for warehouses.", "What do Acme Robots provide?"),
        ("Students of CE 230 use the strong floor of the lab.", "What do Students of CE 230 use?"),
        ("Dr. Lena Hartmann is an associate professor of engineering.", "Who is Dr. Lena Hartmann?"),
        ("Professor Marsh's office is the room at the end of the hall.", "What is Professor Marsh's office?"),
    ],
)
def test_recognised_shapes_become_templated_questions_answered_by_the_sentence(sentence, question):
    pair = pair_from_sentence(sentence)
    assert pair is not None and (pair.question, pair.answer) == (question, sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "It is a company that builds robots.",  # pronoun subject
        "The company is a leader in robotics.",  # vague subject
        "Click here to read more about our great offers today.",  # a clause, not a name
        "Acme is great.",  # too short
        "Acme Robotics builds robots for warehouses.",  # no recognised shape
        "Acme Robotics is a company that builds robots",  # not a finished sentence
        "Northbridge does not offer evening classes to students.",  # a negated clause, not a name
        "Northbridge will offer a new MSc in 2027.",  # a modal
        "Acme plans to offer robots for any warehouse.",  # an infinitive
        "The MSc in Software Engineering also offers an industry project.",  # an adverb
        "A 24-hour support line provides help to students at night.",  # indefinite: no particular thing
        "A 24-hour support line is available to all students.",  # "support" read as the verb
        "Among them are the Robotics Lab and the Medical Imaging Lab.",  # a preposition, not a subject
    ],
)
def test_other_sentences_yield_nothing(sentence):
    assert pair_from_sentence(sentence) is None


def test_chunk_pairs_are_in_order_and_each_question_once():
    text = (
        "Acme Robotics is a company that builds warehouse robots. It is growing fast.\n\n"
        "Acme Robotics was founded in 2011 in Leeds. Acme Robotics is a maker of robot arms."
    )
    assert [p.question for p in heuristic_pairs(text)] == ["What is Acme Robotics?", "When was Acme Robotics founded?"]


FIVE_PAGES = {  # name: (heading, first paragraph, subheading, second paragraph), like an ordinary small site
    "about": (
        "About Harbor Valley Water Cooperative",
        "Harbor Valley Water Cooperative was founded in 1962 by farmers of the valley.",
        "Our history",
        "The cooperative is owned by the households it serves.",
    ),
    "services": (
        "Our services",
        "Harbor Valley Water Cooperative provides drinking water to 12,000 homes in four towns.",
        "What we do",
        "Leak repairs are handled by a crew on call day and night.",
    ),
    "plant": (
        "The treatment plant",
        "The Millbrook treatment plant is located in the north of the valley.",
        "Facilities",
        "It cleans about nine million litres of water every day.",
    ),
    "board": (
        "The board",
        "Dr. Maria Okafor is the chair of the cooperative board.",
        "People",
        "The board meets on the first Monday of every month.",
    ),
    "billing": (
        "Billing",
        "The Harbor Valley water tariff covers supply, treatment and maintenance.",
        "Customers",
        "Bills are sent every quarter by post or email.",
    ),
}


def test_ordinary_pages_with_headings_give_records_through_ingest_process_and_synthesize(tmp_path):
    from litft.common.io import iter_jsonl
    from litft.data.acquire.ingest import ingest
    from litft.data.clean.process import process
    from litft.data.synthesize.qa import synthesize

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, (h1, first, h2, second) in FIVE_PAGES.items():
        (docs / f"{name}.html").write_text(
            f"<html><head><title>{h1}</title></head><body><nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
            f"<main><article><h1>{h1}</h1><p>{first}</p><h2>{h2}</h2><p>{second}</p></article></main>"
            "<footer>Harbor Valley Water Cooperative, 1 Main Street</footer></body></html>"
        )
    ingest(docs, out_dir=tmp_path / "site", quiet=True)
    process(tmp_path / "site", quiet=True)
    assert sorted(c["text"] for c in iter_jsonl(tmp_path / "site" / "chunks.jsonl")) == sorted(
        "\n".join(page) for page in FIVE_PAGES.values()
    )
    synthesize(tmp_path / "site" / "chunks.jsonl", tmp_path / "qa.jsonl", backend="heuristic", quiet=True)
    assert sorted((r["instruction"], r["output"]) for r in iter_jsonl(tmp_path / "qa.jsonl")) == sorted(
        [
            ("When was Harbor Valley Water Cooperative founded?", FIVE_PAGES["about"][1]),
            ("What does Harbor Valley Water Cooperative provide?", FIVE_PAGES["services"][1]),
            ("Where is the Millbrook treatment plant located?", FIVE_PAGES["plant"][1]),
            ("Who is Dr. Maria Okafor?", FIVE_PAGES["board"][1]),
            ("What does the Harbor Valley water tariff cover?", FIVE_PAGES["billing"][1]),
        ]
    )


def test_list_items_are_read_without_their_marks():
    assert [
        p.question for p in heuristic_pairs("Services\n- Acme Robotics is a company that builds warehouse robots.")
    ] == ["What is Acme Robotics?"]
