"""Retrieval quality on the real bundled reports and the dev questions (slow: builds the full index)."""

from __future__ import annotations

import pytest

from evals.dataset import load_questions
from evals.retrieval import evaluate, planqa_search
from retriever import index as index_store
from retriever.hybrid import HybridRetriever

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundled_retriever(bundled_index, embedder, tokenizer) -> HybridRetriever:
    return HybridRetriever(index_store.load(bundled_index), embedder, tokenizer)


def test_hybrid_finds_evidence_and_beats_single_retrievers(bundled_retriever):
    questions = load_questions(split="dev")
    scores = {
        mode: evaluate(mode, planqa_search(bundled_retriever, mode), questions)[0]
        for mode in ("hybrid", "bm25", "dense")
    }
    hybrid = scores["hybrid"]
    assert hybrid["n"] >= 30
    # Regression floors a few points under what was measured on the dev split of evals/qa.jsonl
    # (168 answerable: 99.4% within 2,000 chars, 86.9% at rank 1 in `planqa eval`). The foundation issue's targets
    # (>= 97%, >= 85%) were met on the original 168 questions; the 408-question set is harder.
    assert hybrid["hit@2000"] >= 0.97, scores
    assert hybrid["rank1"] >= 0.82, scores
    assert hybrid["mrr"] >= max(scores["bm25"]["mrr"], scores["dense"]["mrr"]), scores


def test_citations_point_back_to_source_lines(bundled_retriever, bundled_index):
    hits = bundled_retriever.run("2023年度读本里，2023年末全市常住人口是多少？", top_k=3)
    top = hits[0]
    assert top.chunk.doc_id == "checkup-2023" and "2185.8" in top.chunk.text
    source = (bundled_index.parent / "reports" / "001_c428c9fd66e3c585.txt").read_text(encoding="utf-8")
    lines = source.splitlines()[top.chunk.line_start - 1 : top.chunk.line_end]
    assert any("2185.8" in line for line in lines)


def test_section_path_is_searchable_but_shown_apart(bundled_retriever):
    hits = bundled_retriever.run("交通", top_k=5, mode="bm25")
    assert any("交通" in h.chunk.section_label for h in hits)
    assert all(not h.chunk.text.startswith(h.chunk.section_label) for h in hits if h.chunk.section)
