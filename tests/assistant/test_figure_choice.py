"""Did the model take its figure from the clause the question asks about? (`figure_choice`)"""

from __future__ import annotations

import re

import pytest

from assistant.chain import AnswerChain
from assistant.figure_choice import better_clauses, figure_sentences, question_terms
from assistant.grounding import figure_in_text
from assistant.settings import ChainSettings
from retriever import index as index_store
from retriever.hybrid import HybridRetriever

# Sentences of the Tongzhou five-year plan and the capital-region plan, as the reports word them.
SUBSTATIONS = (
    "推进供电系统扩容提质。持续优化主干网络，推进北京东-通北、廊坊北-亦庄（通州南）特高压下送工程"
    "通州段建设，新扩建220千伏变电站4座、110千伏变电站17座。加快推进电网智慧融合。"
)
POPULATION = (
    "规划范围面积约155平方公里，到2035年常住人口规模控制在130万人以内，承接北京中心城区40万—50万"
    "常住人口疏解；加上拓展区覆盖通州全区约906平方公里，到2035年常住人口规模控制在200万—205万人以内；"
    "通州区与北三县面积约2164平方公里。"
)
LINE_22 = (
    "轨道交通22号线\t线路起自 CBD 区域东大桥站，终至平谷新城，全长约81.8公里，设车站22座。"
    "其中，通州段长约15.6公里，设车站6座。"
)

EDUCATION = "引入市级优质教育资源5家、累计达到20家，基础教育学位数较2020年增长55%。"
# The 2023 reader, spaced as in the report: what both figures count is named before the first.
ELEVATORS = "老楼加装电梯新开工 1099 部、完工 822 部，完工量创历史新高。"
MUSEUMS = "各类博物馆达到21家、全市第5。" + EDUCATION


def _terms(question: str, tokenizer) -> dict[str, float]:
    # Every word weighs the same here, so each case turns on which words a clause holds.
    words = tokenizer.tokenize(question)
    return question_terms(question, words, dict.fromkeys(words, 1.0), 3.0)


@pytest.mark.parametrize(
    ("question", "passage", "figures", "better", "sentence_holds"),
    [
        (
            "通州十五五要新建扩建多少座110千伏变电站？",
            SUBSTATIONS,
            ["4座"],
            "17座",
            "110千伏变电站17座",
        ),
        # the clause before names what a figure counts: 155平方公里's 130万, not 906's 200万—205万
        (
            "城市副中心155平方公里范围内，到2035年常住人口控制在多少以内？",
            POPULATION,
            ["200万", "205万人"],
            "130万人",
            "155平方公里",
        ),
        ("地铁22号线在通州境内有多长？", LINE_22, ["81.8公里"], "15.6公里", "通州段"),
        # a total asked ("一共") and the running total right after the answer's clause, though
        # that clause repeats none of the question's words
        ("通州一共引进了多少家市级优质教育资源？", EDUCATION, ["5家"], "20家", "累计达到20家"),
        # an enumeration's later clause counts what its first one names ("老楼加装电梯")
        ("2023年老楼装电梯完工了多少部？", ELEVATORS, ["1099部"], "822部", "完工 822 部"),
    ],
)
def test_a_figure_of_the_same_kind_in_a_clause_that_fits_better(
    tokenizer, question, passage, figures, better, sentence_holds
):
    found = better_clauses(question, figures, {3: passage}, _terms(question, tokenizer))
    assert [(b.figure in figures, b.better, b.n) for b in found] == [(True, better, 3)]
    start, end = found[0].better_sentence
    assert figure_in_text(better, passage[start:end]) and sentence_holds in passage[start:end]
    start, end = found[0].figure_sentence
    assert figure_in_text(found[0].figure, passage[start:end])


@pytest.mark.parametrize(
    ("question", "passage", "figures"),
    [
        ("通州十五五要新建扩建多少座110千伏变电站？", SUBSTATIONS, ["17座"]),  # the right one
        ("城市副中心155平方公里范围内，到2035年常住人口控制在多少以内？", POPULATION, ["130万人"]),
        # "22号线"'s 22 is not the 22 of "设车站22座": the 通州 clause still fits best
        ("22号线在通州境内设了几座车站？", LINE_22, ["6座"]),
        # other kinds: 4座 is no alternative to a length
        ("地铁22号线在通州境内有多长？", LINE_22, ["15.6公里"]),
        # no total asked; the total given; a total of something else in the line
        ("通州今年引进了多少家市级优质教育资源？", EDUCATION, ["5家"]),
        ("通州一共引进了多少家市级优质教育资源？", EDUCATION, ["20家"]),
        ("通州一共有多少家博物馆？", MUSEUMS, ["21家"]),
        # the enumeration's subject counts for both clauses: neither holds more of the question
        ("2023年老楼装电梯完工了多少部？", ELEVATORS, ["822部"]),
        ("2023年老楼加装电梯新开工了多少部？", ELEVATORS, ["1099部"]),
        # a list of figures is the answer as a whole
        (
            "断路村、断水村、断电村、通信中断村各抢通了多少个？",
            "第一时间抢通256个断路村、507个断水村、273个断电村和342个通信中断村。",
            ["256个", "507个", "273个", "342个"],
        ),
    ],
)
def test_no_better_clause(tokenizer, question, passage, figures):
    assert better_clauses(question, figures, {1: passage}, _terms(question, tokenizer)) == []


def test_years_are_not_figures_to_choose_between(tokenizer):
    question = "城市副中心155平方公里范围内常住人口哪一年控制在130万人以内？"
    assert better_clauses(question, ["2035年"], {1: POPULATION}, _terms(question, tokenizer)) == []
    assert figure_sentences(["2035年"], {1: POPULATION}) == []


def test_figure_sentences_in_answer_order_each_once():
    spans = figure_sentences(["81.8公里", "22座", "15.6公里"], {1: "无关。", 2: LINE_22})
    assert [(n, LINE_22[s:e]) for n, (s, e) in spans] == [
        (2, LINE_22[: LINE_22.index("其中")]),
        (2, "其中，通州段长约15.6公里，设车站6座。"),
    ]


class TestInTheChain:
    """The model's figure is replaced by the report's sentences, the better-fitting one first."""

    QUESTION = "通州“十五五”期间要新建扩建多少座110千伏变电站？"

    @pytest.fixture()
    def bundled(self, bundled_index, embedder, tokenizer) -> HybridRetriever:
        return HybridRetriever(index_store.load(bundled_index), embedder, tokenizer)

    def _ask(self, retriever, figure: str, **settings):
        from langchain_core.language_models.fake_chat_models import FakeListChatModel

        class Reading(FakeListChatModel):
            """Answers `figure`, cited to the context block stating both substation counts."""

            def _reply(self, messages) -> None:
                blocks = re.split(r"\n\n(?=\[\d+\] )", str(messages[0].content))
                n = next(b[1] for b in blocks if "110千伏变电站17座" in b)
                self.responses, self.i = [f"{figure}[{n}]"], 0

            def _call(self, messages, *args, **kwargs):
                self._reply(messages)
                return super()._call(messages, *args, **kwargs)

            def _stream(self, messages, *args, **kwargs):
                self._reply(messages)
                yield from super()._stream(messages, *args, **kwargs)

        chain = AnswerChain(retriever, Reading(responses=[""]), "local", ChainSettings(**settings))
        return chain.ask(self.QUESTION)

    def test_a_figure_of_the_wrong_clause_becomes_the_reports_sentence(self, bundled):
        answer = self._ask(bundled, "4座")
        assert not answer.refused and answer.grounded
        assert answer.answer.startswith("据报告：“") and "110千伏变电站17座" in answer.answer
        assert answer.backend == "extractive" and answer.fallback == "figure_quote"
        assert "“4座”" in answer.notice and "“17座”" in answer.notice
        cite = answer.citations[0]
        assert "110千伏变电站17座" in cite.quote
        assert cite.hit.chunk.text[cite.quote_start : cite.quote_end] == cite.quote

    def test_the_right_figure_stays_and_the_check_can_be_turned_off(self, bundled):
        right = self._ask(bundled, "17座")
        assert right.answer.startswith("17座[") and right.backend == "local" and not right.notice
        kept = self._ask(bundled, "4座", quote_ambiguous_figures=False)
        assert kept.answer.startswith("4座[") and kept.backend == "local"
