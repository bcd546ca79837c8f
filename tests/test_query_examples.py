"""Few-shot example queries: reading, sampling from a BEIR train split, style inference, the prompt,
the copy rule, and the queries' quality figures."""

from __future__ import annotations

import json

import pytest

from synthneg.data.triples import QueryRecord
from synthneg.errors import DataError, SynthnegError
from synthneg.generate import generate_queries
from synthneg.generate.examples import (
    QueryExample,
    infer_style,
    read_examples,
    render_examples,
    sample_beir_examples,
)
from synthneg.generate.query_quality import query_quality
from synthneg.llm import GenerationResult, load_template
from synthneg.llm.base import Generator
from synthneg.llm.parse import copies_example, validate_query


def test_read_examples_txt_and_jsonl_and_errors(tmp_path):
    txt = tmp_path / "ex.txt"
    txt.write_text("\ufeffVitamin D lowers the risk of falls.\r\n\r\nStatins  reduce mortality.\n", encoding="utf-8")
    ex = read_examples(txt)
    assert [e.query for e in ex] == ["Vitamin D lowers the risk of falls.", "Statins reduce mortality."]
    assert ex[0].id == "line-1" and ex[0].passage is None

    jl = tmp_path / "ex.jsonl"
    jl.write_text(json.dumps({"_id": 7, "text": "a claim here.", "passage": "P"}) + "\n", encoding="utf-8")
    assert read_examples(jl) == [QueryExample("7", "a claim here.", "P")]

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "ok"}\n{"query": 3}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl line 2: field 'query'"):
        read_examples(bad)
    many = tmp_path / "many.txt"
    many.write_text("".join(f"query number {i}\n" for i in range(9)), encoding="utf-8")
    with pytest.raises(DataError, match="at most 8"):
        read_examples(many)


def test_sample_beir_examples_reads_the_train_split_with_a_seed(scifact_dir):
    a = sample_beir_examples(scifact_dir, split="train", n=8, seed=0)
    b = sample_beir_examples(scifact_dir, split="train", n=8, seed=0)
    c = sample_beir_examples(scifact_dir, split="train", n=8, seed=1)
    assert a == b and a != c and len(a) == 8
    assert all(e.passage and e.query for e in a)
    from synthneg.data.beir import load_beir

    train = load_beir(scifact_dir, "train")
    test = load_beir(scifact_dir, "test")
    assert all(e.id in train.queries and e.id not in test.queries for e in a)
    assert infer_style([e.query for e in a]) == "claim"  # SciFact's queries are claims
    with pytest.raises(SynthnegError):
        sample_beir_examples(scifact_dir, n=9)


@pytest.mark.parametrize(
    ("queries", "style"),
    [
        (
            [
                "0-dimensional biomaterials show inductive properties.",
                "ALDH1 expression is associated with poor prognosis.",
            ],
            "claim",
        ),
        (["What causes statin myopathy?", "how do vaccines work", "Is coffee bad?"], "question"),
        (["statin side effects", "vitamin d falls", "coffee"], "keyword"),
        (
            [
                "Breast Cancer Cells Feed on Cholesterol",
                "Why Are Cancer Rates So Low in India",
                "Avoiding Cooked Meat Carcinogens",
            ],
            "title",
        ),
    ],
)
def test_infer_style(queries, style):
    assert infer_style(queries) == style


def test_render_examples_pairs_or_list():
    with_p = render_examples(
        [QueryExample("1", "Claim one.", " ".join(["word"] * 100)), QueryExample("2", "Claim two.")]
    )
    assert "Passage: " + " ".join(["word"] * 60) + " ...\nQuery: Claim one." in with_p
    assert with_p.endswith("Query: Claim two.")
    assert render_examples([QueryExample("1", "a b c"), QueryExample("2", "d e")]) == "- a b c\n- d e"


def test_copies_example_rule():
    examples = ["Ectopic expression of Sall4, Nanog, Esrrb, and Lin28 generates induced pluripotent stem cells."]
    copied = "Ectopic expression of Sall4, Nanog, Esrrb and Lin28 generates pluripotent cells from malaria parasites."
    assert copies_example(copied, examples) == examples[0]
    assert copies_example("Catheter infections fall with chlorhexidine dressings.", examples) is None
    v = validate_query(copied, "A passage on malaria parasites in red blood cells.", examples=examples)
    assert not v.ok and v.reason == "copies_example"
    assert validate_query(
        "Chlorhexidine dressings reduce catheter infections.", "Catheter infections and dressings."
    ).ok


class Echo(Generator):
    """Answers each prompt with a claim built from the passage's first words; records the prompts."""

    model_id = "echo"

    def __init__(self):
        self.prompts = []

    def generate(self, requests, on_result=None):
        out = []
        for i, r in enumerate(requests):
            self.prompts.append(r.messages)
            passage = r.messages[-1].content.split("Passage:\n", 1)[1].split("\n")[0]
            res = GenerationResult(f"{' '.join(passage.split()[:6])} is reported.", "stop", 10, 5)
            out.append(res)
            if on_result:
                on_result(i, res)
        return out


def test_generate_queries_with_examples_as_turns_or_as_a_list(tmp_path):
    from synthneg.data.beir import Document

    docs = [
        Document(f"d{i}", f"Title {i}", f"Gene X{i} regulates the growth of tumour cells in mice.") for i in range(3)
    ]
    ex = [
        QueryExample("e1", "Statins reduce mortality in heart failure.", "Statin trial abstract."),
        QueryExample("e2", "Gene Y causes disease Z.", "Gene Y abstract."),
    ]
    gen = Echo()
    res = generate_queries(docs, gen, tmp_path / "turns", styles=["auto"], examples=ex, show_progress=False)
    msgs = gen.prompts[0]
    # system, then (user: the example's passage, assistant: its query) per example, then the passage's own turn
    assert [m.role for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "Passage:\nStatin trial abstract." in msgs[1].content and msgs[2].content == ex[0].query
    assert "Gene X0 regulates" in msgs[-1].content and "factual claim" in msgs[-1].content  # auto -> claim
    assert gen.prompts[1][:-1] == msgs[:-1]  # every prompt shares the demonstrations: one prefill
    rows = [json.loads(x) for x in res.output.read_text().splitlines()]
    assert len(rows) == 3 and rows[0]["style"] == "claim" and rows[0]["provenance"]["examples"] == ["e1", "e2"]

    listed = Echo()
    bare = [QueryExample(e.id, e.query) for e in ex]
    res = generate_queries(docs, listed, tmp_path / "list", styles=["auto"], examples=bare, show_progress=False)
    user = listed.prompts[0][-1].content
    assert "- Statins reduce mortality in heart failure.\n- Gene Y causes disease Z." in user
    assert (
        json.loads(res.output.read_text().splitlines()[0])["provenance"]["template"]
        == load_template("query-examples").name
    )
    # other examples, other prompts: the calls are keyed apart (nothing reused)
    again = generate_queries(docs, Echo(), tmp_path / "list", styles=["auto"], examples=bare[:1], show_progress=False)
    assert again.ledger.cached_calls == 0 and again.ledger.calls == 3
    with pytest.raises(SynthnegError, match="auto"):
        generate_queries(docs, Echo(), tmp_path, styles=["auto"], show_progress=False)


def test_query_quality_counts_the_failure_shapes():
    recs = [
        QueryRecord(
            "q1",
            "The transcriptional landscape of the mammalian genome",
            "d1",
            "The transcriptional landscape of the mammalian genome. RNA ...",
        ),
        QueryRecord(
            "q2",
            "Does the passage provide information about RNA?",
            "d1",
            "The transcriptional landscape of the mammalian genome. RNA ...",
        ),
        QueryRecord("q3", "What is the purpose?", "d2", "Aspirin lowers fever."),
        QueryRecord("q4", "Aspirin reduces fever in children.", "d2", "Aspirin lowers fever."),
    ]
    titles = {"d1": "The transcriptional landscape of the mammalian genome.", "d2": ""}
    q = query_quality(recs, titles, target=["short claim here.", "another short claim here now."])
    assert q["queries"] == 4
    assert q["copies_title"] == 0.25 and q["mentions_passage"] == 0.25 and q["no_content_word"] == 0.25
    assert q["target_length_words"]["n"] == 2 and q["target_length_words"]["mean"] == 4.0
