"""Five-year plan periods: the one a question asks about against the one its cited sentences
report on (`assistant.periods`, `AnswerChain._review`)."""

from __future__ import annotations

import pytest

from assistant.chain import AnswerChain
from assistant.models import REFUSAL
from assistant.periods import SectionPeriods, other_period, plan_periods
from assistant.settings import ChainSettings
from corpus.models import Chunk
from retriever import index as index_store
from retriever.hybrid import HybridRetriever

PLAN = "某区国民经济和社会发展第十五个五年规划纲要"
REVIEW = ("第一篇 回顾", "第一章 发展步伐加快")


def _chunk(position: int, section: tuple[str, ...], text: str, title: str = PLAN) -> Chunk:
    return Chunk(
        f"plan:{position:04d}:x", "plan", title, section, text, 0, len(text), 1, 1, position
    )


CHUNKS = [
    _chunk(0, ("序言",), "“十五五”时期，是基本实现现代化夯实基础的关键时期。"),
    _chunk(1, REVIEW, "“十四五”时期，城市框架基本成型。五年来投资超千亿元。"),
    _chunk(2, (*REVIEW, "一、交通"), "轨道交通总里程较2020年增加10.89公里。"),
    _chunk(3, (*REVIEW, "一、交通"), "“十四五”期间新建道路一百公里，“十三五”期间为八十公里。"),
    # A section whose first sentence names a period later on does not open with it.
    _chunk(4, ("第三章 目标",), "锚定远景目标，到“十五五”末供水能力达到90万吨/日。"),
    _chunk(5, ("第三章 目标", "二、供水"), "新建水厂两座。"),
    _chunk(6, ("第一章",), "2024年常住人口2183.2万人。", title="北京年度读本（2024年度）"),
]


class TestPlanPeriods:
    def test_named_periods_by_either_name(self):
        assert plan_periods("“十四五”时期，十五五末") == {"十四五", "十五五"}
        assert plan_periods("第十五个五年规划纲要") == {"十五五"}
        assert plan_periods("2024年常住人口") == frozenset()

    def test_a_document_name_is_not_the_period_reported_on(self):
        assert plan_periods("落实《北京市“十四五”时期交通发展规划》，新建道路") == frozenset()


class TestSectionPeriods:
    periods = SectionPeriods(CHUNKS)

    def test_a_section_opening_with_its_period_sets_it_below_it(self):
        assert len(self.periods) == 2  # 序言 and the review chapter; 第三章 names it later
        assert self.periods.of(CHUNKS[2], CHUNKS[2].text) == {"十四五"}
        assert self.periods.of(CHUNKS[1], "五年来投资超千亿元。") == {"十四五"}

    def test_the_sentence_naming_a_period_wins(self):
        assert self.periods.of(CHUNKS[3], "“十三五”期间为八十公里。") == {"十三五"}

    def test_else_the_title_and_else_none(self):
        assert self.periods.of(CHUNKS[5], CHUNKS[5].text) == {"十五五"}
        assert self.periods.of(CHUNKS[6], CHUNKS[6].text) == frozenset()

    def test_built_in_any_order(self):
        assert SectionPeriods(reversed(CHUNKS)).of(CHUNKS[2], CHUNKS[2].text) == {"十四五"}


class TestOtherPeriod:
    periods = SectionPeriods(CHUNKS)
    review = (CHUNKS[2], CHUNKS[2].text)

    def test_a_question_on_another_period(self):
        asked, told = other_period(
            "“十三五”期间轨道交通里程增加多少？", [self.review], self.periods
        )
        assert asked == {"十三五"} and told == {"十四五"}

    def test_a_question_on_the_cited_period_or_none(self):
        for question in ("十四五期间轨道交通里程增加多少？", "轨道交通里程增加了多少？"):
            assert other_period(question, [self.review], self.periods) == (set(), set())

    def test_one_citation_of_the_asked_period_is_enough(self):
        both = [self.review, (CHUNKS[3], "“十三五”期间为八十公里。")]
        assert other_period("十三五期间新建道路多少公里？", both, self.periods) == (set(), set())

    def test_a_citation_of_no_known_period_checks_nothing(self):
        reader = [(CHUNKS[6], CHUNKS[6].text)]
        assert other_period("十三五期间常住人口多少？", reader, self.periods) == (set(), set())
        assert other_period("十三五期间常住人口多少？", [], self.periods) == (set(), set())


class TestAnswersOfAnotherPeriod:
    """The sub-centre's 十五五 plan reviews 十四五 in a chapter opening "“十四五”时期，…"."""

    SENTENCE = "轨道交通总里程较2020年增加10.89公里"

    @pytest.fixture()
    def bundled(self, bundled_index, embedder, tokenizer) -> HybridRetriever:
        return HybridRetriever(index_store.load(bundled_index), embedder, tokenizer)

    def _reply(self, chain: AnswerChain, question: str) -> str:
        hits = chain.retriever.run(question, top_k=chain.settings.retrieve_k)
        packed, _ = chain.context(question, hits)
        n = next(i for i, h in enumerate(packed, start=1) if self.SENTENCE in h.chunk.text)
        return f"增加了10.89公里[{n}]。"

    def _ask(self, bundled, question: str, settings: ChainSettings | None = None):
        from langchain_core.language_models.fake_chat_models import FakeListChatModel

        reply = self._reply(AnswerChain(bundled, None, "local"), question)
        model = FakeListChatModel(responses=[reply])
        return AnswerChain(bundled, model, "local", settings).ask(question)

    def test_a_figure_of_another_period_is_refused(self, bundled):
        question = "“十三五”时期城市副中心的轨道交通总里程增加了多少公里？"
        answer = self._ask(bundled, question)
        assert answer.refused and answer.answer == REFUSAL
        assert "“十四五”时期" in answer.notice and "“十三五”时期" in answer.notice
        kept = self._ask(bundled, question, ChainSettings(check_cited_specifics=False))
        assert not kept.refused and "10.89公里" in kept.answer

    def test_the_same_figure_for_its_own_period_stands(self, bundled):
        answer = self._ask(bundled, "“十四五”时期城市副中心的轨道交通总里程增加了多少公里？")
        assert not answer.refused and "10.89公里" in answer.answer and answer.grounded
