"""Cleaning and validation of LLM output (fast, no model)."""

from __future__ import annotations

import pytest

from synthneg.llm.parse import (
    NegativeRules,
    QueryRules,
    clean,
    copies_a_sentence,
    copies_title,
    looks_like_code,
    validate_negative,
    validate_query,
)
from synthneg.llm.prompts import QUERY_STYLES, load_template, parse_template

PASSAGE = (
    "We study the thermal conductivity of graphene nanoribbons. Using molecular dynamics simulations, we show "
    "that edge roughness reduces conductivity by up to 60 percent. The effect is strongest for narrow ribbons."
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            '"how does edge roughness affect graphene heat transport?"',
            "how does edge roughness affect graphene heat transport?",
        ),
        ("Query: edge roughness graphene conductivity", "edge roughness graphene conductivity"),
        # two label words in a row, as the 0.5B wrote in the arXiv run
        ("Passage question: What is the primary difference?", "What is the primary difference?"),
        ("**Search query 2:** graphene heat flow", "graphene heat flow"),
        # a word that only starts like a label stays
        ("Question answering: how do readers rank?", "Question answering: how do readers rank?"),
        ("**Search query:** graphene ribbons heat", "graphene ribbons heat"),
        ("Here is the query:\n\n1. graphene ribbon heat flow", "graphene ribbon heat flow"),
        ("```\ngraphene heat\n```", "graphene heat"),
        ("# Question\nWhy is graphene conductive?\nExplanation: because", "Why is graphene conductive?"),
        ("“graphene thermal transport”", "graphene thermal transport"),
    ],
)
def test_clean_query(raw, expected):
    assert clean(raw, single_line=True) == expected


def test_clean_passage_joins_paragraphs():
    assert clean("Passage: First part.\n\nSecond part.", single_line=False) == "First part. Second part."


@pytest.mark.parametrize(
    "text",
    ["SELECT * FROM papers WHERE topic = 'graphene'", "def f(x):\n    return x", "import numpy as np", "<div>x</div>"],
)
def test_code_is_detected(text):
    assert looks_like_code(text)


def test_latex_math_is_not_code():
    assert not looks_like_code(r"modular forms over $\Q(\sqrt{5})$ of half integral weight on $SL_2(\mathbb{Z})$")


def test_prose_is_not_code():
    assert not looks_like_code(PASSAGE)
    assert not looks_like_code("what reduces thermal conductivity in graphene nanoribbons?")


def test_validate_query_accepts_and_rejects():
    ok = validate_query("Query: how does edge roughness change heat flow in graphene ribbons?", PASSAGE)
    assert ok.ok and ok.text.startswith("how does")
    assert validate_query("", PASSAGE).reason == "empty"
    assert validate_query("graphene", PASSAGE).reason == "too_short"
    assert validate_query(" ".join(["word"] * 60), PASSAGE).reason == "too_long"
    assert validate_query("SELECT title FROM papers WHERE x = 1", PASSAGE).reason == "code"
    copied = "The effect is strongest for narrow ribbons."
    assert validate_query(copied, PASSAGE).reason == "copies_passage"
    assert copies_a_sentence("we show that edge roughness reduces conductivity by up to 60 percent", PASSAGE)
    assert validate_query("graphene ribbons heat transport", PASSAGE, truncated=True).reason == "truncated"


TITLE = "Thermal conductivity of rough graphene nanoribbons"


@pytest.mark.parametrize(
    ("query", "copied"),
    [
        ("Thermal conductivity of rough graphene nanoribbons", True),
        ("Passage on thermal conductivity of graphene nanoribbons", True),  # filler + most of the title
        ("conductivity of rough graphene", True),  # 3 of its 5 content words
        ("What is the thermal conductivity of rough graphene nanoribbons?", False),  # a question about it
        ("graphene", False),  # covers too little of the title
        ("how does edge roughness change heat flow in graphene ribbons?", False),
    ],
)
def test_copied_title_is_detected(query, copied):
    assert copies_title(query, TITLE) is copied


def test_latex_markup_does_not_hide_a_copied_title():
    assert copies_title("Relaxation time in MgB$_2$ superconductor", "Relaxation time in the MgB2 superconductor")


def test_validate_query_rejects_a_copied_title_only_when_the_title_is_known():
    assert validate_query(TITLE, PASSAGE, title=TITLE).reason == "copies_title"
    assert validate_query(TITLE, PASSAGE).ok
    assert validate_query("What limits heat flow in rough graphene nanoribbons?", PASSAGE, title=TITLE).ok


def test_rules_revision_1_keeps_the_rules_of_the_arxiv_run():
    """Revision 1 (the committed arXiv-500 run) strips one label only and has no title rule; 2 does both."""
    raw = "Passage question: What limits heat flow in rough graphene nanoribbons?"
    v1, v2 = QueryRules(revision=1), QueryRules()
    assert validate_query(raw, PASSAGE, v1).text == raw
    assert validate_query(raw, PASSAGE, v2).text == raw.split(": ", 1)[1]
    assert validate_query("Query: What limits heat flow?", PASSAGE, v1).text == "What limits heat flow?"
    assert validate_query(TITLE, PASSAGE, v1, title=TITLE).ok
    assert validate_query(TITLE, PASSAGE, v2, title=TITLE).reason == "copies_title"
    neg = "Hard negative passage: Boron nitride sheets conduct heat in a different way."
    assert clean(neg, single_line=False, revision=1) == clean(neg, single_line=False)


def test_validate_negative():
    neg = (
        "Phonon transport in hexagonal boron nitride sheets is examined with first-principles calculations. "
        "We find that isotope disorder, rather than edge roughness, dominates the reduction of heat flow, and that "
        "strain engineering can partially restore it in wide sheets at room temperature and above."
    )
    assert validate_negative(neg, "graphene edge roughness conductivity", PASSAGE).ok
    dup = validate_negative(PASSAGE + " Also more.", "graphene edge roughness", PASSAGE)
    assert dup.reason == "near_duplicate_positive"
    assert validate_negative("Too short.", "q", PASSAGE).reason == "too_short"
    long = " ".join(["word"] * 400)
    assert validate_negative(long, "q", PASSAGE, NegativeRules(max_words=320)).reason == "too_long"
    # cut by max_tokens: trimmed to the last full sentence and kept if still long enough
    cut = validate_negative(neg + " And then the", "q", PASSAGE, truncated=True)
    assert cut.ok and cut.text.endswith("above.")


def test_builtin_templates_render_and_say_plain_text():
    for task, fields in (
        ("query", {"passage", "style_instruction"}),
        ("query-examples", {"examples", "passage", "style_instruction"}),
        ("negative-query", {"query"}),
        ("negative-query-positive", {"query", "positive"}),
    ):
        tpl = load_template(task)
        assert tpl.fields == fields
        msgs = tpl.render(**dict.fromkeys(fields, "{braces} stay"))
        assert msgs[0].role == "system" and "plain" in msgs[0].content
        assert "{braces} stay" in msgs[-1].content
    assert set(QUERY_STYLES) == {"keyword", "question", "claim", "title"}


def test_template_errors_name_the_problem(tmp_path):
    from synthneg.errors import SynthnegError

    with pytest.raises(SynthnegError, match="no \\[user\\]"):
        parse_template("[system]\nonly system")
    tpl = parse_template("Write about {topic}.")
    with pytest.raises(SynthnegError, match="topic"):
        tpl.render()
    with pytest.raises(SynthnegError, match="neither a built-in"):
        load_template(tmp_path / "missing.txt")


def test_degenerate_repetition_is_rejected() -> None:
    from synthneg.llm.parse import validate_negative

    loop = "Pebble game algorithms model games on an infinite board. " * 5 + "They are studied in graph theory."
    verdict = validate_negative(loop, "pebble game algorithms", None)
    assert not verdict.ok and verdict.reason == "repetitive"
    varied = (
        "Sparse graphs have few edges relative to their vertices. Rigidity theory studies bar frameworks. "
        "Pebble games count the degrees of freedom of such frameworks and run in quadratic time."
    )
    assert validate_negative(varied, "pebble game algorithms", None).ok
