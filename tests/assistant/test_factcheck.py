"""The fact-checker: verdicts and figure comparisons on the tiny corpus and the bundled reports,
and `planqa check` as a user runs it."""

from __future__ import annotations

import json

import pytest

from assistant.cli import main
from assistant.factcheck import MAX_CLAIM_CHARS, check_claim
from corpus.chunking import ChunkerSettings
from corpus.errors import BadQueryError
from retriever import index as index_store
from retriever.hybrid import HybridRetriever


@pytest.fixture()
def tiny_retriever(tiny_corpus, tmp_path, embedder, tokenizer) -> HybridRetriever:
    index_store.build(tiny_corpus, tmp_path / "idx", embedder, tokenizer, ChunkerSettings())
    return HybridRetriever(index_store.load(tmp_path / "idx"), embedder, tokenizer)


@pytest.fixture(scope="module")
def bundled_retriever(bundled_index, embedder, tokenizer) -> HybridRetriever:
    return HybridRetriever(index_store.load(bundled_index), embedder, tokenizer)


class TestTinyCorpus:
    @pytest.mark.parametrize("claim", ["", "   \n"])
    def test_empty_claim_is_a_plain_error(self, tiny_retriever, claim):
        with pytest.raises(BadQueryError, match="empty"):
            check_claim(claim, tiny_retriever)

    def test_invalid_arguments(self, tiny_retriever):
        with pytest.raises(BadQueryError, match="top_k"):
            check_claim("全市森林覆盖率达到44.9%", tiny_retriever, top_k=0)
        with pytest.raises(ValueError, match="min_match"):
            check_claim("全市森林覆盖率达到44.9%", tiny_retriever, min_match=1.5)

    def test_full_width_percent_is_the_same_figure(self, tiny_retriever):
        result = check_claim("全市森林覆盖率达到44.9％", tiny_retriever)
        assert result.verdict == "supported" and result.label == "支持"
        (figure,) = result.figures
        assert (figure.claimed, figure.stated, figure.matches) == ("44.9％", "44.9%", True)
        assert "44.9%" in result.evidence[0].quote

    def test_full_width_wrong_value_is_contradicted(self, tiny_retriever):
        result = check_claim("全市森林覆盖率达到45％", tiny_retriever)
        assert result.verdict == "contradicted" and result.label == "不一致"
        (figure,) = result.figures
        assert (figure.claimed, figure.stated, figure.matches) == ("45％", "44.9%", False)

    def test_stated_value_is_the_one_about_the_same_thing(self, tiny_retriever):
        # The sentence holds 44.9% (全市) and 32.5% (平原地区): the claim is about the plains.
        result = check_claim("平原地区森林覆盖率达到44.9%", tiny_retriever)
        assert result.verdict == "contradicted"
        assert result.figures[0].stated == "32.5%"

    def test_evidence_quotes_the_passage_exactly(self, tiny_retriever):
        result = check_claim("2023年末全市常住人口2185.8万人", tiny_retriever)
        assert result.verdict == "supported"
        record = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
        ev = record["evidence"][0]
        assert ev["text"][ev["quote_start"] : ev["quote_end"]] == ev["quote"]
        assert "2185.8万人" in ev["quote"] and ev["title"] == "人口与文化年报（2023年度）"
        assert ev["source_lines"][0] >= 1 and 0 < ev["score"] <= 1
        assert record["label"] == "支持"
        assert set(record["timings_ms"]) == {"retrieve", "check", "total"}

    def test_long_claim_is_cut(self, tiny_retriever):
        result = check_claim("全市森林覆盖率达到44.9%。" * 100, tiny_retriever)
        assert len(result.claim) == MAX_CLAIM_CHARS


@pytest.mark.slow
class TestBundledReports:
    def test_supported(self, bundled_retriever):
        result = check_claim("2024年北京森林覆盖率为44.95%", bundled_retriever)
        assert result.verdict == "supported"
        assert result.evidence[0].hit.chunk.doc_id == "checkup-2024"
        assert result.figures[0].matches

    def test_wrong_figure_gives_the_reports_value(self, bundled_retriever):
        result = check_claim("2024年北京森林覆盖率达到45%", bundled_retriever)
        assert result.verdict == "contradicted"
        assert [(f.claimed, f.stated) for f in result.figures] == [("45%", "44.95%")]
        assert "44.95%" in result.evidence[0].quote

    def test_other_years_value_is_contradicted(self, bundled_retriever):
        # 2185.8万 is the 2023 population; the 2024 report says 2183.2万.
        result = check_claim("2024年北京常住人口为2185.8万人", bundled_retriever)
        assert result.verdict == "contradicted"
        assert result.figures[0].stated == "2183.2万人"

    def test_last_years_value_in_the_same_sentence_is_not_this_years(self, bundled_retriever):
        result = check_claim("2024年北京外调绿电量为279亿千瓦时", bundled_retriever)
        assert result.verdict == "contradicted"
        assert result.figures[0].stated.startswith("354")

    def test_not_in_the_reports(self, bundled_retriever):
        result = check_claim("2024年北京新建5G基站1.2万个", bundled_retriever)
        assert result.verdict == "not_found" and result.label == "未找到"
        assert all(f.stated is None and not f.matches for f in result.figures)

    def test_year_no_report_covers_is_not_supported(self, bundled_retriever):
        # 2183.2万 is the 2024 figure; nothing in the reports gives 2025's.
        result = check_claim("2025年北京常住人口为2183.2万人", bundled_retriever)
        assert result.verdict == "not_found"

    def test_citywide_figure_does_not_speak_for_a_district(self, bundled_retriever):
        result = check_claim("通州区2024年常住人口为190万人", bundled_retriever)
        assert result.verdict == "not_found"


@pytest.fixture()
def env(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANQA_CORPUS_DIR", str(tiny_corpus))
    monkeypatch.setenv("PLANQA_INDEX_DIR", str(tmp_path / "idx"))
    assert main(["index", "--quiet"]) == 0
    return tmp_path


class TestCheckCommand:
    def test_json_output(self, env, capsys):
        capsys.readouterr()
        assert main(["check", "全市森林覆盖率达到45％", "--json"]) == 0
        record = json.loads(capsys.readouterr().out)
        assert record["verdict"] == "contradicted" and record["label"] == "不一致"
        assert record["figures"] == [{"claimed": "45％", "stated": "44.9%", "matches": False}]
        ev = record["evidence"][0]
        assert {
            "chunk_id",
            "doc_id",
            "title",
            "section",
            "text",
            "quote",
            "quote_start",
            "quote_end",
            "source_lines",
            "score",
        } <= set(ev)
        assert ev["text"][ev["quote_start"] : ev["quote_end"]] == ev["quote"]

    def test_plain_output(self, env, capsys):
        capsys.readouterr()
        assert main(["check", "全市森林覆盖率达到45%"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("不一致")
        assert "声称 45% ｜ 报告 44.9%" in out and "《交通与生态年报（2024年度）》" in out

    def test_batch(self, env, capsys):
        batch = env / "claims.jsonl"
        batch.write_text(
            '{"id": "a", "claim": "全市森林覆盖率达到44.9%"}\n'
            '{"id": "b", "claim": "上海迪士尼门票399元"}\n'
            '{"id": "c", "question": "not a claim"}\n',
            encoding="utf-8",
        )
        capsys.readouterr()
        assert main(["check", "--batch", str(batch), "--json"]) == 1  # line 3 is bad
        captured = capsys.readouterr()
        records = [json.loads(line) for line in captured.out.splitlines()]
        assert [(r["id"], r["verdict"]) for r in records] == [
            ("a", "supported"),
            ("b", "not_found"),
        ]
        assert "line 3" in captured.err

    def test_empty_claim_exit_2(self, env, capsys):
        assert main(["check", "  "]) == 2
        err = capsys.readouterr().err
        assert "empty" in err and "Traceback" not in err
