"""A question asking several things, split into parts and answered part by part."""

from __future__ import annotations

import pytest

from assistant.chain import AnswerChain, _in_doubt
from assistant.models import REFUSAL, Answer
from assistant.parts import Part, question_parts
from assistant.settings import ChainSettings
from tests.assistant.fakes import recording


class TestQuestionParts:
    def test_two_asking_clauses_are_two_parts_the_second_a_follow_up(self):
        assert question_parts("全市一刻钟便民生活圈有多少个？通州建成了多少个？") == [
            Part("全市一刻钟便民生活圈有多少个？"),
            Part("通州建成了多少个？", follows=True),
        ]
        assert question_parts("北京细颗粒物年均浓度2023年是多少、2024年降到了多少？") == [
            Part("北京细颗粒物年均浓度2023年是多少？"),
            Part("2024年降到了多少？", follows=True),
        ]

    def test_a_clause_asking_nothing_goes_with_its_neighbour(self):
        assert question_parts("2024年度读本里，短信一共发了几次？大概覆盖多少人次？") == [
            Part("2024年度读本里，短信一共发了几次？"),
            Part("大概覆盖多少人次？", follows=True),
        ]
        assert question_parts("雄安新区规划面积多大？起步区多大？请给出数字。")[-1] == Part(
            "起步区多大？请给出数字。", follows=True
        )

    @pytest.mark.parametrize(
        ("question", "parts"),
        [
            (
                "北京PM2.5年均浓度2023年和2024年各是多少？",
                ["北京PM2.5年均浓度2023年是多少？", "北京PM2.5年均浓度2024年是多少？"],
            ),
            (
                "2023年度和2024年度体检读本里，全市森林覆盖率分别是多少？",
                ["2023年度体检读本里，全市森林覆盖率是多少？", "2024年度体检读本里，全市森林覆盖率是多少？"],
            ),
            (
                "疏解提质一般制造业企业，2023和2024年分别完成了多少家？",
                ["疏解提质一般制造业企业，2023年完成了多少家？", "疏解提质一般制造业企业，2024年完成了多少家？"],
            ),
        ],
    )
    def test_two_years_asked_for_each_are_two_standalone_parts(self, question, parts):
        assert question_parts(question) == [Part(p) for p in parts]

    @pytest.mark.parametrize(
        ("question", "parts"),
        [
            (
                "北京出台新增产业禁止和限制目录以后，全市和城六区的禁限比例分别是多少？",
                [
                    "北京出台新增产业禁止和限制目录以后，全市的禁限比例是多少？",
                    "北京出台新增产业禁止和限制目录以后，城六区的禁限比例是多少？",
                ],
            ),
            (
                "2024年12345热线的解决率和满意率各是多少？",
                ["2024年12345热线的解决率是多少？", "2024年12345热线的满意率是多少？"],
            ),
            (
                "学校数量，2024年度体检读本和京津冀协同发展词条分别说有多少所？",
                ["学校数量，2024年度体检读本说有多少所？", "学校数量，京津冀协同发展词条说有多少所？"],
            ),
        ],
    )
    def test_two_sides_asked_for_each_in_one_clause_are_two_standalone_parts(
        self, question, parts
    ):
        assert question_parts(question) == [Part(p) for p in parts]

    @pytest.mark.parametrize(
        "question",
        [
            "2024年北京常住人口是多少？",
            "十四五这几年，通州的供电可靠率是从多少提到多少的？",  # one clause, two figures
            # "和" and "分别" in different clauses: what is compared is not a name before "和"
            "12345热线的解决率和满意率，2024年跟上一年比，分别是从多少提高到多少？",
            "文旅区新建的中学和小学，总建筑规模分别是多少？",
            "跟2013年比，2023年北京、天津、河北三地的PM2.5浓度各降了多少？",  # no "和"
            "京津冀这几个港口分工里，哪个港口定位成煤炭装船港？",  # 这几个 asks nothing
            "2023年和2024年北京常住人口变化大吗？",  # two years, not asked for each
        ],
    )
    def test_a_question_asking_one_thing_has_no_parts(self, question):
        assert question_parts(question) == []


class TestAskInParts:
    QUESTION = "交通年报里细颗粒物年均浓度是多少？交通年报里全年新增城市绿地多少公顷？"

    def _ask(self, retriever, *replies: str, **settings):
        model, seen = recording(*replies)
        chain = AnswerChain(
            retriever, model, "local", ChainSettings(rewrite_with_model=False, **settings)
        )
        return chain.ask(self.QUESTION), seen

    NO_RESCUE = {"look_again": False, "answer_anyway": False, "rescue_min_coverage": 1.01}
    WHOLE = "细颗粒物年均浓度降至30微克/立方米[1]，全年新增城市绿地200公顷[1]。"

    def test_a_refused_question_is_answered_part_by_part(self, retriever):
        answer, seen = self._ask(
            retriever, "报告中未找到相关内容。", "30微克/立方米[1]", "200公顷[1]", **self.NO_RESCUE
        )
        assert len(seen) == 3
        assert "<问题>交通年报里全年新增城市绿地多少公顷？</问题>" in seen[2]
        assert not answer.refused and answer.grounded
        assert answer.answer.splitlines() == ["（1）30微克/立方米[1]", "（2）200公顷[2]"]
        assert [c.n for c in answer.citations] == [1, 2]
        assert "30微克" in answer.citations[0].quote and "200公顷" in answer.citations[1].quote
        assert answer.notice == (
            "问题分2问作答：（1）交通年报里细颗粒物年均浓度是多少？（2）交通年报里全年新增城市绿地多少公顷？"
        )
        assert answer.standalone_question == self.QUESTION

    def test_the_whole_answer_streams_as_the_draft(self, retriever):
        from langchain_core.language_models.fake_chat_models import FakeListChatModel

        model = FakeListChatModel(responses=["30微克/立方米[1]。", "30微克/立方米[1]", "200公顷[1]"])
        chain = AnswerChain(retriever, model, "local", ChainSettings(rewrite_with_model=False))
        streamed: list[str] = []
        answer = chain.ask(self.QUESTION, on_token=streamed.append)
        assert "".join(streamed) == "30微克/立方米[1]。"
        assert answer.answer.splitlines() == ["（1）30微克/立方米[1]", "（2）200公顷[2]"]
        assert answer.timings_ms["total"] >= answer.timings_ms["generate"] > 0

    def test_a_whole_answer_stating_every_figure_stands_unsplit(self, retriever):
        answer, seen = self._ask(retriever, self.WHOLE, "不该被问到[1]", "不该被问到[1]")
        assert len(seen) == 1 and answer.answer == self.WHOLE and not answer.notice

    def test_a_refused_part_leaves_the_refusal(self, retriever):
        answer, seen = self._ask(
            retriever, "报告中未找到相关内容。", "30微克/立方米[1]", "报告中未找到相关内容。",
            **self.NO_RESCUE,
        )
        assert len(seen) == 3 and answer.refused and not answer.citations

    def test_with_answer_parts_off_the_question_is_answered_whole(self, retriever):
        answer, seen = self._ask(
            retriever, "报告中未找到相关内容。", "30微克/立方米[1]", "200公顷[1]",
            answer_parts=False, **self.NO_RESCUE,
        )
        assert len(seen) == 1 and answer.refused


def _answer(text: str, **fields) -> Answer:
    return Answer(question="q", standalone_question="q", answer=text, refused=False,
                  grounded=True, **fields)


@pytest.mark.parametrize(
    ("whole", "doubt"),
    [
        (_answer("全市有693个[1]，通州建成了62个[2]。"), False),
        (_answer("全市有62个[1]，通州建成了62个[1]。"), True),  # one side's figure for both
        (_answer("62个[1]。"), True),  # one side only
        # the figures of a report sentence quoted after the answer are not the answer's
        (_answer("全市有62个，通州建成了62个[1]。\n据报告：“床位使用率超50%，建成62个、覆盖率100%。”[1]"), True),
        (_answer("62个[1]。", fallback="figure_quote"), True),  # the chain doubted the figure
        (Answer(question="q", standalone_question="q", answer=REFUSAL, refused=True,
                grounded=True), True),
    ],
)
def test_a_whole_answer_is_in_doubt_when_it_states_fewer_figures_than_asked(whole, doubt):
    parts = question_parts("全市一刻钟便民生活圈有多少个？通州建成了多少个？")
    assert _in_doubt(whole, parts, "全市一刻钟便民生活圈有多少个？通州建成了多少个？") is doubt


def test_counts_in_chinese_numerals_are_figures_stated():
    question = "通州的绿色发展标准体系包括几个维度、几个层级？"
    parts = question_parts(question)
    assert len(parts) == 2
    assert not _in_doubt(_answer("包括七个维度三个层级[1]。"), parts, question)
    assert _in_doubt(_answer("包括三个层级[1]。"), parts, question)


def test_a_part_asking_no_figure_asks_for_none():
    parts = question_parts("M102线从哪儿修到哪儿，一共设几个站？")
    assert not _in_doubt(_answer("从万盛东修到宋庄，一共设16座站[1]。"), parts, "")
