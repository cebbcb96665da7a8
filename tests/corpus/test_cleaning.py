"""Cleaning: each repair rule on small strings, then the bundled reports end to end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from corpus.cleaning import MappedText, clean_report_text, normalize_for_match

REPORTS = Path(__file__).resolve().parents[2] / "corpus" / "reports"


def clean(raw: str) -> str:
    return clean_report_text(raw)[0]


def raw_report(prefix: str) -> str:
    (path,) = REPORTS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


class TestMappedText:
    def test_from_source_maps_every_char_to_its_line(self):
        mt = MappedText.from_source("ab\ncd\n\nе")
        assert mt.lines == (1, 1, 1, 2, 2, 2, 3, 4)

    def test_sub_keeps_lines_of_moved_groups(self):
        mt = MappedText.from_source("标题\n第一章")
        out = mt.sub(r"(标题)\n(第一章)", r"\2 \1")
        assert out.text == "第一章 标题"
        assert out.lines == (2, 2, 2, 1, 1, 1)

    def test_deleted_text_leaves_the_rest_mapped(self):
        out = MappedText.from_source("a<b>b</b>\nc").sub(r"</?b>", "")
        assert out.text == "ab\nc"
        assert out.lines == (1, 1, 1, 2)


class TestRules:
    def test_hard_wrap_inside_sentence_is_joined(self):
        assert (
            clean("提出建立“一年一体检，五\n年一评估”的工作机制。")
            == "提出建立“一年一体检，五年一评估”的工作机制。"
        )

    def test_line_ending_a_sentence_is_kept(self):
        assert clean("第一句。\n第二句。") == "第一句。\n第二句。"

    def test_blank_line_inside_sentence_is_joined(self):
        raw = "健全重大国事活动服务保障常态化工作机制，圆满完成全国两会以及多个党宾国宾\n\n团组服务保障任务。"
        assert clean(raw).endswith("多个党宾国宾团组服务保障任务。")

    def test_blank_line_after_a_title_is_not_joined(self):
        text = clean(
            "坚决落实首都规划权属党中央，\n全面提升首都功能\n\n北京市级机关搬迁工作顺利完成。"
        )
        assert (
            text == "坚决落实首都规划权属党中央，全面提升首都功能\n北京市级机关搬迁工作顺利完成。"
        )

    def test_hyperlink_breaks_are_joined(self):
        raw = "三地协同发展,要以疏解\n非首都核心功能、解决\n北京“\n大城市病”为基本出发点。"
        assert clean(raw) == "三地协同发展,要以疏解非首都核心功能、解决北京“大城市病”为基本出发点。"

    def test_short_title_after_a_sentence_stays_its_own_line(self):
        assert (
            clean("形成协同发展新格局。\n发展过程\n2014年2月26日,召开座谈会。").split("\n")[1]
            == "发展过程"
        )

    def test_headings_are_not_joined(self):
        assert clean("### 一、城市框架基本成型\n以每年超千亿的投资规模筑基千年之城。").split(
            "\n"
        ) == [
            "### 一、城市框架基本成型",
            "以每年超千亿的投资规模筑基千年之城。",
        ]

    def test_doubled_line_is_halved(self):
        raw = "研发费用合计 2429.8 亿元，占全市 69.4%。研发费用合计 2429.8 亿元，占全市 69.4%。"
        assert clean(raw) == "研发费用合计2429.8亿元，占全市69.4%。"

    def test_doubled_line_may_differ_in_whitespace(self):
        assert clean("19 个19个") == "19 个".replace(" ", "")

    def test_line_repeating_the_start_of_the_previous_is_dropped(self):
        assert (
            clean("国际科创中心建设顶层设计更加完善。\n国际科创中心建设顶层")
            == "国际科创中心建设顶层设计更加完善。"
        )

    def test_doubled_caption_and_credits_are_dropped(self):
        raw = (
            "正文第一句。\n\n万春亭北望中轴线（霍文武 / 摄）万春亭北望中轴线（霍文武 / 摄）\n\n"
            "丰台站规划效果图（项目组 / 供）\n\n盛况（中国政府网）\n 正文第二句。"
        )
        assert clean(raw) == "正文第一句。\n正文第二句。"

    def test_caption_with_credit_on_its_own_line_is_dropped(self):
        assert (
            clean("正文。\n\n北京工商大学轻工食品大楼竣工交付\n(良乡大学城管委会)\n\n下文。")
            == "正文。\n下文。"
        )

    def test_title_ending_in_a_year_is_not_a_caption(self):
        assert clean("现代化首都都市圈空间协同规划（2023—2035年）\n\n序言").startswith(
            "现代化首都都市圈空间协同规划（2023—2035年）"
        )

    def test_dot_leader_and_tab_toc_lines_are_dropped(self):
        raw = "目 录\n第一章 总 则\t1\n第四章 促进通勤圈跨界合作一体化发展.....47\n<b>第一篇 加力奋进</b> .....\t1\n\n第一章 总 则\n正文。"
        assert clean(raw) == "第一章 总 则\n正文。"

    def test_markdown_toc_table_is_dropped_with_its_chapter_line(self):
        raw = "一 深入落实城市战略定位\n\n- | | |\n|----|----|\n| 1 突出政治中心定位 | 05 |\n| 2 中轴线申遗 | 06 |\n\n第一章\n\n深入落实城市战略定位\n\n正文。"
        assert clean(raw) == "第一章 深入落实城市战略定位\n正文。"

    def test_content_tables_are_kept(self):
        raw = "表 1\n\n项目名称\t项目内容\n北京艺术博物馆\t位于绿心组团南部\n\t2\t第二行"
        assert clean(raw).split("\n") == [
            "表1",
            "项目名称\t项目内容",
            "北京艺术博物馆\t位于绿心组团南部",
            "\t2\t第二行",
        ]

    def test_page_numbers_and_running_head_numbers_go(self):
        raw = "正文一。\n\n17\n\n坚决落实首都规划权属党中央，\n全面提升首都功能01\n\n01          01\n1010\n正文二。"
        assert clean(raw) == "正文一。\n坚决落实首都规划权属党中央，全面提升首都功能\n正文二。"

    def test_doubled_chapter_mark_takes_the_title_before_it(self):
        raw = "上一章最后一句。\n 合理管控城市规模，\n为高质量发展提供保障\n\n第二章第二章\n 2023 年末全市常住人口 2185.8 万人。"
        assert clean(raw).split("\n")[1:] == [
            "第二章 合理管控城市规模，为高质量发展提供保障",
            "2023年末全市常住人口2185.8万人。",
        ]

    def test_bare_chapter_mark_takes_the_title_after_it(self):
        raw = "第二章\n\n统筹减量发展的量与质，\n持续推进城市发展方式转型\n\n01\n\n人口规模较为平稳， 空间分布持续优化\n\n2024年全市常住人口2183.2万人。"
        assert clean(raw).split("\n") == [
            "第二章 统筹减量发展的量与质，持续推进城市发展方式转型",
            "01 人口规模较为平稳，空间分布持续优化",
            "2024年全市常住人口2183.2万人。",
        ]

    def test_html_and_latex_residue_is_removed(self):
        assert clean("<b>PM<sub>2.5</sub> 平均浓度</b>") == "PM2.5平均浓度"
        assert clean("细颗粒物（PM_{2.5}）\t$\\geq 400$") == "细颗粒物（PM2.5）\t≥400"
        assert (
            clean("**擦亮千年运河文化品牌。**充分彰显优势。")
            == "擦亮千年运河文化品牌。充分彰显优势。"
        )

    def test_figures_are_joined_to_their_units(self):
        assert clean("常住人口 2185.8 万人，保持在 6% 以上，2023 年，7 个领域。") == (
            "常住人口2185.8万人，保持在6%以上，2023年，7个领域。"
        )

    def test_two_numbers_stay_apart(self):
        assert clean("2023 2024") == "2023 2024"

    def test_characters_are_not_normalised(self):
        assert clean("（ＰＭ２.５）") == "（ＰＭ２.５）"

    def test_normalize_for_match(self):
        assert normalize_for_match("2185.8 万 人\n（ＰＭ２.５）") == "2185.8万人(PM2.5)"


@pytest.fixture(scope="module")
def cleaned() -> dict[str, tuple[str, tuple[int, ...]]]:
    return {
        p.name[:3]: clean_report_text(p.read_text(encoding="utf-8"))
        for p in sorted(REPORTS.glob("*.txt"))
    }


class TestBundledReports:
    def test_damage_is_gone(self, cleaned):
        for name, (text, line_map) in cleaned.items():
            assert len(text) == len(line_map), name
            assert not re.search(r"(第[一二三四五六七八九十]+章)\1", text), name
            assert "/ 摄）" not in text and "/ 供）" not in text, name
            assert not re.search(r"</?(b|sub|sup)>", text), name
            assert not re.search(r"\.{3,}\s*\d+\s*$", text, re.M), name
            assert not re.search(r"^\s*\d{1,3}\s*$", text, re.M), name
            for line in text.split("\n"):
                compact = re.sub(r"\s", "", line)
                half = len(compact) // 2
                assert not (len(compact) >= 8 and compact[:half] == compact[half:]), (name, line)

    def test_key_sentences_survive(self, cleaned):
        text_001 = cleaned["001"][0]
        assert normalize_for_match("2023年末全市常住人口2185.8万人") in normalize_for_match(
            text_001
        )
        assert "“一年一体检，五年一评估”" in text_001
        assert "多个党宾国宾团组服务保障任务。" in text_001
        assert "2024年全市常住人口2183.2万人。" in cleaned["000"][0]
        assert "PM2.5平均浓度降至30微克/立方米" in cleaned["003"][0]
        assert "以疏解非首都核心功能、解决北京“大城市病”为基本出发点" in cleaned["004"][0]
        assert "外部环境复杂严峻带来较大不确定性。" in cleaned["002"][0]

    def test_line_map_points_at_the_source_line(self, cleaned):
        raw = raw_report("001").split("\n")
        text, line_map = cleaned["001"]
        for phrase in ("2023年末全市常住人口", "团组服务保障任务", "年一评估"):
            i = text.index(phrase)
            source = raw[line_map[i] - 1]
            assert normalize_for_match(phrase)[:3] in normalize_for_match(source), phrase
        assert line_map[text.index("2023年末全市常住人口")] == 136
        assert line_map[text.index("团组服务保障任务")] == 30
        i = text.index("五年一评估")
        assert (line_map[i], line_map[i + 1]) == (4, 5)

    def test_titles_of_chapters_are_rebuilt(self, cleaned):
        lines = cleaned["001"][0].split("\n")
        assert "第二章 合理管控城市规模，为高质量发展提供保障" in lines
        assert "第七章 纵深推动京津冀协同发展，现代化首都都市圈建设取得积极成效" in lines
        assert "第一章 深入落实城市战略定位，“四个中心”功能建设全面增强" in cleaned["000"][0].split(
            "\n"
        )
