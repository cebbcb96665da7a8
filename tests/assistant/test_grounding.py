"""Grounding as a reader of the answer sees it: markers that point somewhere, figures the reports state."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.grounding import (
    extract_figures,
    figure_in_text,
    figure_positions,
    find_quote,
    invented_figures,
    normalize_figure,
    normalized_text,
    parse_citations,
    verify_answer,
)
from assistant.models import REFUSAL

ROOT = Path(__file__).resolve().parents[2]

POPULATION = "2023年末全市常住人口2185.8万人，较上年末增加1.5万人。城乡建设用地规模持续下降。"
FOREST = "全市森林覆盖率达到44.9%，平原地区森林覆盖率达到32.5%。细颗粒物年均浓度降至30微克/立方米。"
HERITAGE = "北京中轴线正式列入《世界遗产名录》。北京市拥有世界文化遗产增至8处。"
PASSAGES = [POPULATION, FOREST, HERITAGE]


class TestFigures:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("44.9 ％", "44.9%"),
            ("2.7 万平方公里", "2.7万平方公里"),
            ("1,800亿元", "1800亿元"),
            ("２１８５．８万人", "2185.8万人"),
        ],
    )
    def test_normalize_figure(self, raw, expected):
        assert normalize_figure(raw) == expected

    def test_extract_figures_keeps_units_and_skips_markers(self):
        text = (
            "2023年末常住人口2185.8万人[1]，森林覆盖率44.9 ％【2】，面积2.7 万平方公里，"
            "12月25日通车，里程836公里，增加1.5，投资1,800亿元，2185.8万人。"
            "完工822部，火灾506起，排名第9位。"
        )
        assert extract_figures(text) == [
            "2023年",
            "2185.8万人",
            "44.9%",
            "2.7万平方公里",
            "12月25日",
            "836公里",
            "1.5",
            "1800亿元",
            "822部",
            "506起",
            "9位",
        ]

    def test_chinese_numerals_and_enumerators_are_not_figures(self):
        assert extract_figures("构建三城一区、一核两翼的格局。") == []
        assert extract_figures("1. 常住人口2185.8万人\n（2）森林覆盖率44.9%") == [
            "2185.8万人",
            "44.9%",
        ]

    @pytest.mark.parametrize(
        ("figure", "text", "found"),
        [
            ("2185.8万", "常住人口2185.8万人", True),
            ("2185.8万", "常住人口 2185.8 万人", True),
            ("2185.8万人", "常住人口2185.8万", True),
            ("45%", "森林覆盖率达到44.9%", False),
            ("44.9%", "增长了144.9%", False),
            ("44.9 ％", "森林覆盖率达到44.9%", True),
            ("5", "常住人口2185.8万人", False),
            ("2185.8", "常住人口2185.85万人", False),
            ("2035年", "到2035年", True),
            ("2035年", "（2016年—2035年）", True),
            ("2035年", "2023—2035年", True),
            ("2023年", "2023—2035年", True),
            ("836公里", "运营里程836米", False),
            ("12月25日", "于12月25日开通", True),
            ("12月25日", "于12月开通", False),
            ("1800亿元", "投资1,800亿元", True),
        ],
    )
    def test_figure_in_text(self, figure, text, found):
        assert figure_in_text(figure, text) is found

    def test_figure_positions_span_the_stated_figure_with_its_unit(self):
        text = "总里程较2020年增加10.89公里，密度达到5.12公里/平方公里，增加10.89公里"
        normal = normalized_text(text)
        spans = list(figure_positions("10.89公里", text))
        assert [normal[a:b] for a, b in spans] == ["10.89公里", "10.89公里"]
        assert normal[: spans[0][0]].endswith("增加")
        people = "常住人口2185.8万人"
        assert [people[a:b] for a, b in figure_positions("2185.8万", people)] == ["2185.8万人"]
        assert list(figure_positions("45%", "森林覆盖率达到44.9%")) == []

    def test_bare_table_cell_counts_only_when_distinctive(self):
        assert figure_in_text("2185.8万人", "常住人口（万人）\t2185.8")
        assert not figure_in_text("5%", "第5章")
        assert not figure_in_text("2.5亿元", "北京PM2.5累计平均浓度74微克/立方米")

    def test_real_2023_reader_states_its_population(self):
        from corpus.reading import load_reports

        reports = {r.entry.doc_id: r for r in load_reports(ROOT / "corpus" / "reports")}
        text = reports["checkup-2023"].text
        assert figure_in_text("2185.8万", text)
        assert figure_in_text("2185.8万人", text)
        assert not figure_in_text("2185.9万", text)


class TestParseCitations:
    @pytest.mark.parametrize(
        ("answer", "text"),
        [
            ("人口2185.8万人[1]。", "人口2185.8万人[1]。"),
            ("人口2185.8万人【2】。", "人口2185.8万人[2]。"),
            ("人口2185.8万人［2］。", "人口2185.8万人[2]。"),
            ("人口2185.8万人[^2]。", "人口2185.8万人[2]。"),
            ("人口2185.8万人[1,3]。", "人口2185.8万人[1][3]。"),
            ("人口2185.8万人[1、3]。", "人口2185.8万人[1][3]。"),
            ("人口2185.8万人[1][3]。", "人口2185.8万人[1][3]。"),
            ("人口2185.8万人[1-3]。", "人口2185.8万人[1][2][3]。"),
            ("人口2185.8万人 [1]。", "人口2185.8万人[1]。"),
            ("人口2185.8万人[ID:2]。", "人口2185.8万人[2]。"),
        ],
    )
    def test_marker_styles_become_plain_numbers(self, answer, text):
        assert parse_citations(answer, 3).text == text

    def test_parentheses_are_not_markers(self):
        parsed = parse_citations("分三步推进(1)规划(2)实施。", 3)
        assert parsed.text == "分三步推进(1)规划(2)实施。"
        assert parsed.sentences[0].cited == ()

    def test_marker_to_no_passage_is_removed_and_flagged(self):
        parsed = parse_citations("人口2185.8万人[9]。森林覆盖率44.9%[2][0]。", 5)
        assert parsed.text == "人口2185.8万人。森林覆盖率44.9%[2]。"
        assert parsed.invalid_markers == (9, 0)

    def test_marker_after_end_punctuation_belongs_to_sentence_before(self):
        parsed = parse_citations("人口2185.8万人。[1]森林覆盖率44.9%[2]。\n遗产增至8处", 3)
        assert [s.cited for s in parsed.sentences] == [(1,), (2,), ()]
        assert parsed.sentences[0].text == "人口2185.8万人。[1]"
        assert parsed.sentences[0].claim == "人口2185.8万人。"
        assert parsed.sentences[2].text == "遗产增至8处"

    def test_rejects_negative_passage_count(self):
        with pytest.raises(ValueError, match="-1"):
            parse_citations("x", -1)


class TestVerifyAnswer:
    def test_faithful_answer_is_grounded_and_unchanged(self):
        answer = "2023年末全市常住人口2185.8万人[1]。全市森林覆盖率达到44.9%[2]。"
        v = verify_answer(answer, PASSAGES)
        assert v.grounded and not v.repaired and not v.refused
        assert v.text == answer
        assert v.cited == (1, 2)

    def test_changed_figure_is_ungrounded(self):
        v = verify_answer("全市森林覆盖率达到45%[2]。", PASSAGES)
        assert v.ungrounded_figures == ("45%",)
        assert not v.grounded
        assert v.text == "全市森林覆盖率达到45%[2]。"

    def test_figure_cited_to_wrong_passage_is_recited(self):
        v = verify_answer("全市森林覆盖率达到44.9%[1]。", PASSAGES)
        assert v.text == "全市森林覆盖率达到44.9%[2]。"
        assert v.repaired and v.grounded and v.cited == (2,)

    def test_recite_keeps_marker_after_punctuation(self):
        v = verify_answer("全市森林覆盖率达到44.9%。[1]", PASSAGES)
        assert v.text == "全市森林覆盖率达到44.9%。[2]"

    def test_recite_keeps_a_passage_holding_another_figure(self):
        v = verify_answer("常住人口2185.8万人，森林覆盖率44.9%[1]。", PASSAGES)
        assert v.text == "常住人口2185.8万人，森林覆盖率44.9%[1][2]。"
        assert v.grounded

    def test_sentence_cited_to_wrong_passage_is_recited(self):
        v = verify_answer("北京中轴线正式列入世界遗产名录[1]。", PASSAGES)
        assert v.text == "北京中轴线正式列入世界遗产名录[3]。"
        assert v.grounded

    def test_missing_marker_is_added_from_best_passage(self):
        v = verify_answer("北京中轴线正式列入世界遗产名录。常住人口2185.8万人。", PASSAGES)
        assert v.text == "北京中轴线正式列入世界遗产名录[3]。常住人口2185.8万人[1]。"
        assert v.repaired and v.grounded

    def test_invalid_marker_removed_then_repaired(self):
        v = verify_answer("常住人口2185.8万人[9]。", PASSAGES[:2] + ["无关内容。"] * 3)
        assert v.invalid_markers == (9,)
        assert v.text == "常住人口2185.8万人[1]。"
        assert v.grounded

    def test_figure_in_no_passage_stays_ungrounded_and_uncited(self):
        v = verify_answer("全市公园数量达到1050个。", PASSAGES)
        assert v.ungrounded_figures == ("1050个",)
        assert v.cited == ()
        assert not v.grounded

    def test_uncited_claim_from_own_knowledge_is_unsupported(self):
        v = verify_answer("上海是中国最大的经济中心城市。", PASSAGES)
        assert v.unsupported_sentences == ("上海是中国最大的经济中心城市。",)
        assert not v.grounded

    def test_cited_sentence_that_the_passage_does_not_say_is_unsupported(self):
        v = verify_answer("上海是中国最大的经济中心城市[3]。", PASSAGES)
        assert v.unsupported_sentences and not v.grounded

    def test_lead_in_and_connectives_need_no_marker(self):
        v = verify_answer("根据报告，具体如下：\n全市森林覆盖率达到44.9%[2]。", PASSAGES)
        assert v.grounded and v.unsupported_sentences == ()

    def test_refusal_with_trailing_text_is_plain_refusal(self):
        v = verify_answer("报告中未找到相关内容。不过据我所知，北京很大[1]。", PASSAGES)
        assert v.refused and v.text == REFUSAL
        assert v.repaired and not v.grounded

    def test_exact_refusal(self):
        v = verify_answer(REFUSAL, PASSAGES)
        assert v.refused and not v.repaired and v.text == REFUSAL

    @pytest.mark.parametrize("answer", ["", "   \n"])
    def test_empty_output(self, answer):
        v = verify_answer(answer, PASSAGES)
        assert v.text == "" and not v.refused and not v.grounded

    def test_cut_off_output(self):
        v = verify_answer("常住人口2185.8万人[1]。全市森林覆盖率达到44.", PASSAGES)
        assert "44" in v.ungrounded_figures
        assert not v.grounded
        assert v.text.startswith("常住人口2185.8万人[1]。")

    def test_cut_off_inside_a_marker(self):
        v = verify_answer("全市森林覆盖率达到44.9%[", PASSAGES)
        assert v.text == "全市森林覆盖率达到44.9%[2]"
        assert v.grounded

    def test_figure_spacing_does_not_break_grounding(self):
        v = verify_answer("全市森林覆盖率达到44.9 ％[2]。", PASSAGES)
        assert v.ungrounded_figures == () and v.grounded

    def test_bare_answer_cites_the_passage_that_holds_it_and_the_question(self):
        passages = [
            "张家口市承办冬奥会雪上项目的场馆群已建成。",
            "京张体育文化旅游带：北京冬奥会的雪上项目在延庆和张家口赛区举办。",
            POPULATION,
        ]
        question = "北京冬奥会的雪上项目在哪里举办？"
        # Too short for its own words to choose between [1] and [2]: the question decides.
        v = verify_answer("张家口", passages, question=question)
        assert v.text == "张家口[2]" and v.cited == (2,) and v.grounded
        population = verify_answer("2185.8万人。", passages, question="2023年末全市常住人口多少？")
        assert population.text == "2185.8万人[3]。" and population.grounded
        # without the question it stays uncited, as before
        assert verify_answer("张家口", passages).cited == ()

    @pytest.mark.parametrize(
        "answer",
        [
            "上海",  # in no passage
            "1050个",  # a figure no passage states
            "崇礼",  # near the truth, but the passage does not hold it
        ],
    )
    def test_bare_answer_is_never_cited_to_a_passage_without_it(self, answer):
        passages = ["京张体育文化旅游带：北京冬奥会的雪上项目在延庆和张家口赛区举办。"]
        v = verify_answer(answer, passages, question="北京冬奥会的雪上项目在哪里举办？")
        assert v.cited == () and not v.grounded

    def test_each_figure_points_to_the_passage_that_states_it(self):
        # "77公里[2]": the sentence's passages hold both figures, but [2] holds neither.
        passages = [
            "积水内涝治理工作成效显著，完成治理积水点30处，新增雨水管线77公里。",
            "优化排水分区，持续完善路网配套防涝系统，系统推进雨水管道提标。",
        ]
        v = verify_answer("30处[1]，77公里[2]", passages, question="治理了几处积水点，新铺了多少公里雨水管？")
        assert v.text == "30处[1]，77公里[1]" and v.cited == (1,) and v.grounded
        # A stretch whose own passage states its figure keeps its marker.
        right = "常住人口2185.8万人[1]，森林覆盖率44.9%[2]。"
        assert verify_answer(right, PASSAGES).text == right

    def test_a_year_label_does_not_choose_the_passage_for_its_figure(self):
        # "2024年：104家": the passage that states 104家 is its source, not one that only
        # mentions 2024年 (the 2024 reader's sentence on its population).
        passages = [
            "全年疏解提质一般制造业企业112家。",
            "非首都功能疏解坚定有序，疏解提质一般制造业企业104家，治理违法建设超2000万平方米。",
            "2024年全市常住人口2183.2万人。",
        ]
        # The year labels are stated by the readers' titles.
        headings = [f"体检报告公众读本（{y}年度）" for y in (2023, 2024, 2024)]
        question = "一般制造业企业，2023年和2024年分别是多少家？"
        for answer in ("2023年：112家\n2024年：104家", "2023年：112家[1]\n2024年：104家[3]"):
            v = verify_answer(answer, passages, question=question, headings=headings)
            assert v.text == "2023年：112家[1]\n2024年：104家[2]", answer
            assert v.grounded and v.cited == (1, 2)
        # A claim stating only a year still cites the passage that holds it.
        assert verify_answer("2024年[3]。", passages).cited == (3,)

    def test_a_bare_answer_cited_to_a_passage_without_it_is_recited(self):
        passages = [
            "北京舞蹈学院\t初步选址台湖镇，建设内容拟包括教学及辅助用房等。",
            "进一步承接公共服务资源，全力推进北京舞蹈学院通州校区建设。",
        ]
        question = "北京舞蹈学院的通州校区初步选在哪儿？"
        v = verify_answer("台湖镇[2]", passages, question=question)
        assert v.text == "台湖镇[1]" and v.cited == (1,)
        # Held by the passage it cites: unchanged. Held by none: unchanged too (not invented).
        assert verify_answer("台湖镇[1]", passages, question=question).text == "台湖镇[1]"
        assert verify_answer("宋庄镇[2]", passages, question=question).text == "宋庄镇[2]"

    def test_a_claim_copied_from_another_passage_cites_that_one(self):
        passages = [
            "持续完善“一心、一环、两带、两区”的城市绿色空间格局，巩固国家森林城市创建效果。",
            "一心即城市绿心森林公园；一环即由13个公园串联形成的环城绿色休闲游憩环。",
        ]
        v = verify_answer("一心即城市绿心森林公园。[1]", passages)
        assert v.text == "一心即城市绿心森林公园。[2]" and v.grounded
        # A claim its cited passage says in other words keeps its citation.
        loose = "城市绿色空间格局是一心、一环、两带、两区[1]。"
        assert verify_answer(loose, passages).text == loose

    def test_bare_answer_needs_a_passage_about_the_question(self):
        v = verify_answer(
            "张家口", ["张家口市位于河北省西北部。"], question="北京冬奥会雪上项目在哪？"
        )
        assert v.cited == ()

    def test_a_year_label_is_stated_by_the_cited_report_title(self):
        # 「2023年度：44.9%」: the year names the cited reader, whose passage never repeats it.
        passages = [HERITAGE, FOREST]
        headings = [
            "现代化首都都市圈空间协同规划（2023—2035年）",
            "北京城市总体规划实施体检报告公众读本（2023年度） 第四章",
        ]
        answer = "2023年度：森林覆盖率44.9%[2]。"
        assert verify_answer(answer, passages).ungrounded_figures == ("2023年",)
        v = verify_answer(answer, passages, headings=headings)
        assert v.grounded and v.ungrounded_figures == () and v.cited == (2,)
        assert v.text == answer
        # another year, and a non-year figure, are not vouched for by the title
        v = verify_answer("2024年度：森林覆盖率44.9%[2]。", passages, headings=headings)
        assert v.ungrounded_figures == ("2024年",)
        v = verify_answer("森林覆盖率2023[2]。", passages, headings=headings)
        assert not v.grounded

    def test_a_plan_period_in_a_title_is_not_a_year_label(self):
        # （2023—2035年） names a plan's period: neither end is a year the passage reports on
        passages = [FOREST, HERITAGE]
        headings = ["甲", "现代化首都都市圈空间协同规划（2023—2035年） 第一章"]
        for year in ("2023", "2035"):
            answer = f"{year}年，北京中轴线正式列入《世界遗产名录》[2]。"
            v = verify_answer(answer, passages, headings=headings)
            assert v.ungrounded_figures == (f"{year}年",)

    def test_headings_must_match_the_passages(self):
        with pytest.raises(ValueError, match="2 headings for 3 passages"):
            verify_answer("x[1]", PASSAGES, headings=["a", "b"])

    def test_threshold_out_of_range_is_refused(self):
        with pytest.raises(ValueError, match="1.5"):
            verify_answer("x", PASSAGES, support_threshold=1.5)


class TestFindQuote:
    def test_returns_the_supporting_sentence(self):
        start, end = find_quote("细颗粒物浓度降到30微克/立方米[2]。", FOREST)
        assert FOREST[start:end] == "细颗粒物年均浓度降至30微克/立方米。"

    def test_sentence_with_the_figure_wins(self):
        passage = "平原地区森林覆盖率稳步提升。全市森林覆盖率达到44.9%。森林覆盖率目标明确。"
        start, end = find_quote("森林覆盖率为44.9%", passage)
        assert passage[start:end] == "全市森林覆盖率达到44.9%。"

    def test_two_sentences_when_the_claim_spans_them(self):
        start, end = find_quote("常住人口2185.8万人，城乡建设用地规模持续下降。", POPULATION)
        assert (start, end) == (0, len(POPULATION))

    def test_single_sentence_passage_is_returned_whole(self):
        assert find_quote("anything", " 只有一句话 ") == (0, len(" 只有一句话 "))

    def test_empty_passage(self):
        assert find_quote("人口", "") == (0, 0)


def test_placeholder_markers_copied_from_the_prompt_are_dropped():
    from assistant.grounding import parse_citations

    parsed = parse_citations("常住人口2185.8万人[n][1]。", 2)
    assert parsed.text == "常住人口2185.8万人[1]。"
    assert parsed.sentences[0].cited == (1,)


# A passage naming a railway line without its length, and a plan's indicator row (a table).
_LINE = "推进京张铁路、京唐城际铁路的北京段工程等7项重点铁路续建项目。"
_ROW = "24\t基层卫生医疗机构诊疗量占比（%）\t≥52\t预期性"


@pytest.mark.parametrize(
    ("figures", "answer", "passages", "question", "invented"),
    [
        # a length no passage writes: the model's own knowledge
        (["1000公里"], "京唐城际铁路全长1000公里[1]。", [_LINE], "", ["1000公里"]),
        # a table cell's number with the unit of its row's header
        (["52%"], "52%[1]", [_ROW], "", []),
        # worked out from two figures the answer states: 6.32 - 6.08
        (["0.24"], "6.32 - 6.08 = 0.24[1]", ["人均6.32平方米，上年6.08平方米"], "", []),
        # the same arithmetic, wrong: 0.34 comes from nowhere
        (["0.34"], "6.32 - 6.08 = 0.34[1]", ["人均6.32平方米，上年6.08平方米"], "", ["0.34"]),
        # a change in percent, rounded to the places written: (2185.8 - 2184.3) / 2184.3
        (["0.07%"], "2185.8万人，较上年2184.3万人增长0.07%[1]", ["常住人口2185.8万人，上年2184.3万人"],
         "", []),
        # the question's own year, repeated
        (["2024年"], "2024年新增20公里[1]", ["新增20公里"], "2024年新增了多少公里？", []),
        # a number the passage writes with another unit is not invented (a miscopied unit is
        # the grounding check's to flag)
        (["7公里"], "7公里[1]", [_LINE], "", []),
    ],
)
def test_invented_figures_come_from_nowhere(figures, answer, passages, question, invented):
    assert invented_figures(figures, answer, passages, question=question) == invented


def test_a_year_a_passages_heading_states_is_not_invented():
    heading = ["北京城市总体规划实施体检报告公众读本（2023年度）"]
    assert invented_figures(["2023年"], "2023年：112家[1]", ["一般制造业企业112家"], heading) == []
    assert invented_figures(["2022年"], "2022年：112家[1]", ["一般制造业企业112家"], heading) == [
        "2022年"
    ]
