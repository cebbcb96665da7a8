"""`planqa eval` as a user runs it: files written, figures sane, reports self-contained and escaped."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from assistant.cli import main
from evals.dataset import DEFAULT_PATH, EvalQuestion, load_questions
from evals.report import write_run
from evals.runner import run_retrieval

ROOT = Path(__file__).resolve().parents[2]
RUN_FILES = ("results.jsonl", "metrics.json", "report.md", "report.html")
# The tags the report writer itself emits; any other tag in a report came from unescaped text.
REPORT_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "ul", "li", "table", "thead",
    "tbody", "tr", "th", "td", "img", "div", "details", "summary",
}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.add(tag)


def tags_of(page: str) -> set[str]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def rates(node) -> list[float]:
    """Every number under a metrics node that is a rate (keys other than counts and latencies)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in (
                "n",
                "grounded_with_missing_figure",
                "fallbacks",
                "latency_ms",
                "wall_s",
                "p50",
                "p95",
            ):
                continue
            found += rates(value)
    elif isinstance(node, float):
        found.append(node)
    return found


@pytest.fixture()
def bundled_env(bundled_index, monkeypatch):
    monkeypatch.setenv("PLANQA_INDEX_DIR", str(bundled_index))
    monkeypatch.setenv("PLANQA_CORPUS_DIR", str(bundled_index.parent / "reports"))
    return bundled_index


# ---------------------------------------------------------------- without models


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "q001", "question": "北京"\n', "not valid"),  # broken JSON
        ('{"id": "q001"}\n', "not valid"),  # fields missing
        (None, "does not exist"),
    ],
)
def test_bad_question_file_is_a_plain_error(tmp_path, capsys, content, message):
    qa = tmp_path / "qa.jsonl"
    if content is not None:
        qa.write_text(content, encoding="utf-8")
    out = tmp_path / "run"
    assert main(["eval", "--qa", str(qa), "--retrieval-only", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("planqa: ") and message in err and "Traceback" not in err
    assert not out.exists()


def test_report_escapes_question_and_passage_text(tmp_path):
    hostile = "<script>alert('x')</script> & 常住人口"
    question = EvalQuestion(
        id="q001",
        question=f"2024年{hostile}是多少？",
        answers=("2183.2万",),
        match="any",
        doc="000_806e4535e5dab8e1.txt",
        evidence=("2024年全市常住人口2183.2万人。",),
        type="number",
        difficulty="easy",
        split="dev",
    )
    passages = [{"rank": 1, "doc_id": "checkup-2024", "text": f"无关段落 <b>{hostile}</b>"}]

    def search(_question: str):
        return passages, {}

    run = run_retrieval("test-system", [question], search, {}, quiet=True)
    write_run(tmp_path, run, meta=_meta())
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;" in page and "&amp;" in page
    assert tags_of(page) <= REPORT_TAGS
    assert page.count('<img src="data:image/png;base64,') >= 4


def _meta() -> dict:
    return {
        "qa_file": "qa.jsonl",
        "split": "dev",
        "questions": 1,
        "index": "index",
        "embedder": "test",
        "started_at": "2026-01-01T00:00:00",
        "wall_s": 0.1,
    }


# ---------------------------------------------------------------- the real bundled index


@pytest.mark.slow
def test_retrieval_only_dev_writes_four_sane_files(bundled_env, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["eval", "--retrieval-only", "--split", "dev", "--out", str(out), "--quiet"]) == 0
    assert "planqa-hybrid" in capsys.readouterr().out
    assert all((out / name).is_file() for name in RUN_FILES)

    dev = load_questions(DEFAULT_PATH, "dev")
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(dev)
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == [q.id for q in dev]
    assert all(r["retrieved"] and "chunk_id" in r["retrieved"][0] for r in records)

    data = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert data["n_questions"] == len(dev) and data["answers"] is None
    retrieval = data["retrieval"]
    assert retrieval["n"] == sum(q.answerable for q in dev)
    assert all(0.0 <= v <= 1.0 for v in rates(data)), data
    # the curves only rise
    by_rank = list(retrieval["hit_by_rank"].values())
    assert by_rank == sorted(by_rank) and retrieval["hit@10"] >= retrieval["hit@1"] > 0.5

    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') == 5
    assert tags_of(page) <= REPORT_TAGS
    assert "hit@1" in (out / "report.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_extractive_answers_on_test_split(bundled_env, tmp_path):
    out = tmp_path / "run"
    args = ["eval", "--backend", "extractive", "--split", "test", "--out", str(out), "--quiet"]
    assert main(args) == 0
    test = load_questions(DEFAULT_PATH, "test")
    records = [json.loads(line) for line in (out / "results.jsonl").open(encoding="utf-8")]
    assert len(records) == len(test)
    for r in records:
        # the `planqa ask --json` record, plus what the benchmark knows and its scores
        assert {"answer", "refused", "citations", "retrieved", "timings_ms"} <= set(r)
        assert {"type", "expected", "scores"} <= set(r) and r["backend"] == "extractive"
        assert set(r["timings_ms"]) == {"retrieve", "generate", "total"}
    data = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    answers = data["answers"]
    assert answers["n"] == len(test)
    assert all(0.0 <= v <= 1.0 for v in rates(data)), data
    assert answers["answer_accuracy"] > 0.5
    assert set(data["latency_ms"]) == {"retrieve", "generate", "total"}
    assert tags_of((out / "report.html").read_text(encoding="utf-8")) <= REPORT_TAGS


@pytest.mark.slow
def test_hybrid_filters_mode_searches_only_the_named_report(bundled_env):
    from assistant.services import open_retriever
    from assistant.settings import Settings
    from evals.runner import planqa_search

    search = planqa_search(open_retriever(Settings.from_env()), "hybrid+filters")
    passages, extra = search("2023年度读本里，2023年末全市常住人口是多少？")
    assert extra["filter_reports"] == ["checkup-2023"]
    assert passages and {p["doc_id"] for p in passages} == {"checkup-2023"}
    passages, extra = search("北京的森林覆盖率是多少？")
    assert extra["filter_reports"] == [] and len({p["doc_id"] for p in passages}) > 1


@pytest.fixture()
def one_report_env(tmp_path, embedder, tokenizer, monkeypatch):
    """The bundled 京津冀 overview alone, indexed, and the benchmark's questions about it."""
    from corpus.chunking import ChunkerSettings
    from retriever import index as index_store

    name = "004_c7998974165bb96b.txt"
    corpus = tmp_path / "reports"
    corpus.mkdir()
    shutil.copy(ROOT / "corpus" / "reports" / name, corpus / name)
    catalog = json.loads((ROOT / "corpus" / "reports" / "catalog.json").read_text("utf-8"))
    (corpus / "catalog.json").write_text(
        json.dumps([e for e in catalog if e["file"] == name], ensure_ascii=False), "utf-8"
    )
    index_store.build(corpus, tmp_path / "index", embedder, tokenizer, ChunkerSettings())
    lines = [
        line
        for line in DEFAULT_PATH.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line)["doc"] == name
    ][:3]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("PLANQA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("PLANQA_CORPUS_DIR", str(corpus))
    return qa


@pytest.mark.slow
def test_compare_runs_the_matrix_and_the_peers(one_report_env, tmp_path, capsys):
    out = tmp_path / "compare"
    args = ["eval", "--compare", "--qa", str(one_report_env), "--split", "all", "--out", str(out)]
    assert main([*args, "--quiet"]) == 0
    table = capsys.readouterr().out
    systems = [
        "planqa-bm25",
        "planqa-dense",
        "planqa-hybrid",
        "planqa-hybrid+filters",
        "planqa-extractive",
        "langchain-tutorial",
        "chatchat",
    ]
    assert all(name in table for name in systems)
    data = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert [row["system"] for row in data["systems"]] == systems
    assert all(0.0 <= v <= 1.0 for row in data["systems"] for v in rates(row))
    assert data["systems"][4]["accuracy"] is not None  # the extractive row answers
    assert data["systems"][6]["accuracy"] is None  # Chatchat answers need a model
    page = (out / "compare.html").read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') == 1
    assert "chatchat" in (out / "compare.md").read_text(encoding="utf-8")
    assert (out / "chatchat" / "results.jsonl").is_file()
