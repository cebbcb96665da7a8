"""The benchmark's metric functions on hand-made cases: numerals, matching, ranks, budgets, rates."""

from __future__ import annotations

import pytest

from evals.metrics import (
    answer_matches,
    chars_to_evidence,
    chinese_numerals_to_arabic,
    contains_answer,
    holds_evidence,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    score_answer,
    score_retrieval,
    summarise_answers,
    summarise_latency,
    summarise_retrieval,
)

# ---------------------------------------------------------------- numerals


@pytest.mark.parametrize(
    "text, expected",
    [
        ("八处", "8处"),
        ("两个", "2个"),
        ("二〇三五年", "2035年"),
        ("十五个", "15个"),
        ("二十", "20"),
        ("一百二十三", "123"),
        ("三千零五", "3005"),
        ("三千五百万人", "3500万人"),  # 万 and 亿 stay units, as the reports write them
        ("两万", "2万"),
        ("四十四点九", "44.9"),
        ("百分之六", "6%"),
        ("2185.8万", "2185.8万"),  # Arabic figures are left alone
        ("到二〇三五年建成", "到2035年建成"),
    ],
)
def test_chinese_numerals_become_arabic(text, expected):
    assert chinese_numerals_to_arabic(text) == expected


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("北京市世界文化遗产增至八处", "8处"),
        ("北京市世界文化遗产增至8处", "八处"),
        ("新建两个示范区", "2个"),
        ("目标年份为二〇三五年", "2035年"),
        ("常住人口 2185.8 万人", "2185.8万"),  # stray spaces
        ("森林覆盖率４４．９％", "44.9%"),  # full-width digits and ％
        ("投资1,800亿元", "1800亿元"),  # thousands separator
        ("形成一核两翼格局", "一核两翼"),  # numerals inside a term match the same term
    ],
)
def test_answer_found_whatever_the_numerals(answer, expected):
    assert contains_answer(answer, expected)


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("共有18处", "8处"),  # a figure inside a longer number is not the figure
        ("共有十八处", "8处"),
        ("比重为44.95%", "44.9"),
        ("比重为44.9%", "4.9%"),
        ("增至9处", "8处"),
    ],
)
def test_a_different_figure_does_not_match(answer, expected):
    assert not contains_answer(answer, expected)


def test_any_and_all():
    both = "2023年绿电279亿千瓦时，2024年354亿千瓦时"
    one = "2024年354亿千瓦时"
    answers = ["279亿千瓦时", "354亿千瓦时"]
    assert answer_matches(answers, "all", both)
    assert not answer_matches(answers, "all", one)
    assert answer_matches(answers, "any", one)
    assert not answer_matches(answers, "any", "没有数字")
    assert not answer_matches([], "any", "任何回答")  # nothing to match: never correct


# ---------------------------------------------------------------- retrieval


def test_passage_holds_any_evidence_string_after_normalisation():
    evidence = ["全市森林覆盖率达到44.9%", "平原地区森林覆盖率达到32.5%"]
    assert holds_evidence("……平原地区森林覆盖率\n达到 32.5％。", evidence)
    assert not holds_evidence("全市森林覆盖率较高。", evidence)


def test_mrr_by_hand():
    assert mrr_at_k([False, False, True]) == pytest.approx(1 / 3)
    assert mrr_at_k([True, True]) == 1.0
    assert mrr_at_k([False] * 10 + [True], k=10) == 0.0
    assert mrr_at_k([]) == 0.0


def test_ndcg_by_hand():
    # one relevant passage at rank 3: DCG = 1/log2(4) = 0.5, ideal DCG = 1
    assert ndcg_at_k([False, False, True]) == pytest.approx(0.5)
    # relevant at ranks 2 and 4: (1/log2 3 + 1/log2 5) / (1 + 1/log2 3)
    assert ndcg_at_k([False, True, False, True]) == pytest.approx(0.65092, abs=1e-5)
    # relevant at ranks 1 and 3: (1 + 1/log2 4) / (1 + 1/log2 3)
    assert ndcg_at_k([True, False, True]) == pytest.approx(0.91972, abs=1e-5)
    assert ndcg_at_k([True]) == 1.0
    assert ndcg_at_k([False, False]) == 0.0
    assert ndcg_at_k([False] * 10 + [True], k=10) == 0.0


def test_budget_counts_characters_in_rank_order():
    filler = "甲" * 990
    evidence = ["证据在这里出现了"]  # 8 characters
    assert chars_to_evidence([filler, "证据在这里出现了"], evidence) == 998
    assert chars_to_evidence([filler + "乙" * 5, "证据在这里出现了"], evidence) == 1003
    # a line break inside the evidence still matches, and counts as a character of budget
    assert chars_to_evidence(["证据在\n这里出现了"], evidence) == 9
    # every evidence string must be in the budget; one missing anywhere: None
    assert chars_to_evidence([filler, "证据在这里出现了"], [*evidence, "另一条不在的证据"]) is None
    assert chars_to_evidence([], evidence) is None


def test_score_retrieval_of_one_question():
    passages = ["无关的段落" * 100, "首都功能核心区常住人口比重降至8.2%", "又一段"]
    scores = score_retrieval(passages, ["常住人口比重降至8.2%"])
    assert scores["relevant"] == [False, True, False]
    assert scores["first_rank"] == 2
    assert (scores["hit@1"], scores["hit@3"], scores["hit@10"]) == (False, True, True)
    assert scores["mrr@10"] == 0.5
    assert scores["chars_to_evidence"] == len(passages[0]) + len(passages[1])
    assert (scores["evidence@1000"], scores["evidence@2000"]) == (True, True)


def test_summarise_retrieval_rates_and_curves():
    rows = [
        score_retrieval(["证据A在此" + "x" * 1500], ["证据A在此"]),  # rank 1, 5 chars
        score_retrieval(["x" * 1500, "证据B在此"], ["证据B在此"]),  # rank 2, 1505 chars
        score_retrieval(["x"], ["证据C在此"]),  # missed
    ]
    s = summarise_retrieval(rows)
    assert s["n"] == 3
    assert s["hit@1"] == pytest.approx(1 / 3)
    assert s["hit@3"] == pytest.approx(2 / 3)
    assert s["mrr@10"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert s["evidence@1000"] == pytest.approx(1 / 3)
    assert s["evidence@2000"] == pytest.approx(2 / 3)
    assert s["hit_by_rank"]["1"] == pytest.approx(1 / 3)
    assert s["hit_by_rank"]["10"] == pytest.approx(2 / 3)
    assert s["hit_by_budget"]["1500"] == pytest.approx(1 / 3)
    assert s["hit_by_budget"]["1750"] == pytest.approx(2 / 3)


# ---------------------------------------------------------------- answers


def _record(answer: str, refused: bool = False, cited: tuple[str, ...] = (), grounded=True):
    return {
        "answer": answer,
        "refused": refused,
        "grounded": grounded,
        "citations": [{"text": t} for t in cited],
        "backend": "extractive",
        "fallback": "",
    }


def test_score_answer_correct_with_precise_and_imprecise_citations():
    row = score_answer(
        ["8处"],
        "any",
        ["世界文化遗产增至8处"],
        True,
        _record("北京世界文化遗产增至八处[1][2]。", cited=("世界文化遗产增至8处", "无关段落")),
    )
    assert row["correct"] and row["right"] and not row["refused"]
    assert (row["citations"], row["precise_citations"]) == (2, 1)


def test_score_answer_refusals():
    answerable = score_answer(
        ["8处"], "any", ["增至8处"], True, _record("报告中未找到相关内容。", True)
    )
    assert answerable["refused"] and not answerable["correct"] and not answerable["right"]
    unanswerable = score_answer([], "any", [], False, _record("报告中未找到相关内容。", True))
    assert unanswerable["right"] and not unanswerable["correct"]
    answered = score_answer([], "any", [], False, _record("大约100亿元[1]", cited=("100亿元",)))
    assert not answered["right"]


def test_grounded_answer_with_an_uncited_figure_is_flagged():
    row = score_answer(
        ["44.9%"],
        "any",
        ["覆盖率达到44.9%"],
        True,
        _record("覆盖率达到44.9%，另有12处公园[1]。", cited=("覆盖率达到44.9%",)),
    )
    assert row["grounded_with_missing_figure"]


def test_a_year_in_the_cited_report_title_is_not_a_missing_figure():
    record = _record("2023年度：44.9%[1]", cited=("全市森林覆盖率达到44.9%",))
    assert score_answer(["44.9%"], "any", ["44.9%"], True, record)["grounded_with_missing_figure"]
    record["citations"][0].update(
        title="北京城市总体规划实施体检报告公众读本（2023年度）", section=""
    )
    assert not score_answer(["44.9%"], "any", ["44.9%"], True, record)[
        "grounded_with_missing_figure"
    ]
    record["citations"][0].update(title="现代化首都都市圈空间协同规划（2023—2035年）")
    assert score_answer(["44.9%"], "any", ["44.9%"], True, record)["grounded_with_missing_figure"]


def test_summarise_answers():
    rows = [
        score_answer(["8处"], "any", ["增至8处"], True, _record("增至8处[1]", cited=("增至8处",))),
        score_answer(["2个"], "any", ["新建2个"], True, _record("新建3个[1]", cited=("无关",))),
        score_answer(["5%"], "any", ["增长5%"], True, _record("报告中未找到相关内容。", True)),
        score_answer([], "any", [], False, _record("报告中未找到相关内容。", True)),
        score_answer([], "any", [], False, _record("约100亿元", grounded=False)),
    ]
    s = summarise_answers(rows)
    assert s["n"] == 5
    assert s["answer_accuracy"] == pytest.approx(1 / 3)
    assert s["false_refusal_rate"] == pytest.approx(1 / 3)
    assert s["refusal_accuracy"] == pytest.approx(1 / 2)
    assert s["overall_accuracy"] == pytest.approx(2 / 5)
    assert s["citation_precision"] == pytest.approx(1 / 2)
    assert s["grounded_rate"] == 1.0  # answered answerable ones: both grounded


def test_rates_without_questions_are_none_not_zero():
    s = summarise_answers([])
    assert s["answer_accuracy"] is None and s["citation_precision"] is None


# ---------------------------------------------------------------- latency


def test_percentile_by_hand():
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert percentile([1, 2, 3, 4], 0) == 1 and percentile([1, 2, 3, 4], 100) == 4
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0], 101)


def test_latency_per_stage():
    timings = [
        {"retrieve": 10.0, "generate": 100.0, "total": 110.0},
        {"retrieve": 20.0, "generate": 0.0, "total": 20.0},
        {"retrieve": 30.0},
    ]
    s = summarise_latency(timings)
    assert s["retrieve"]["n"] == 3 and s["retrieve"]["p50"] == 20.0 and s["retrieve"]["max"] == 30.0
    assert s["total"]["n"] == 2 and s["total"]["p50"] == 65.0
