"""A figure of one transport mode given for a question about another (`assistant.modes`)."""

from __future__ import annotations

import pytest

from assistant.chain import AnswerChain
from assistant.figure_choice import figure_clauses
from assistant.models import REFUSAL
from assistant.modes import modes_named, other_mode
from assistant.settings import ChainSettings
from retriever import index as index_store
from retriever.hybrid import HybridRetriever

# The 2023 reader, as the report words it.
RAIL = (
    "京张高铁、京唐城际、津兴城际等开通运营，铁路营业里程超1.1万公里。其中高铁总里程达到2624公里，"
    "实现对区域内所有地级市的全覆盖。"
)


def test_modes_named_longest_name_first():
    assert modes_named("北京城市轨道交通运营里程") == {"轨道交通"}
    assert modes_named("北京地铁新增运营里程") == {"轨道交通"}
    assert modes_named("京津冀城际铁路总里程") == {"城际铁路"}
    assert modes_named("高速铁路和高速公路") == {"高铁", "高速公路"}
    assert modes_named("推进市域（郊）铁路建设") == {"市郊铁路"}
    assert modes_named("常住人口2183.2万人") == frozenset()


def test_figure_clauses_with_the_clause_before_in_the_sentence():
    assert figure_clauses("2624公里", RAIL) == ["其中高铁总里程达到2624公里"]
    assert figure_clauses("1.1万公里", RAIL) == ["津兴城际等开通运营，铁路营业里程超1.1万公里"]
    assert figure_clauses("43公里", RAIL) == []


@pytest.mark.parametrize(
    ("question", "figures", "asked", "told"),
    [
        ("北京城市轨道交通的运营总里程是多少公里？", ["2624公里"], {"轨道交通"}, {"高铁"}),
        ("京津冀区域内的城际铁路总共有多少公里？", ["2624公里"], {"城际铁路"}, {"高铁"}),
        ("京津冀的高铁总里程是多少？", ["1.1万公里"], {"高铁"}, {"城际铁路", "铁路"}),
    ],
)
def test_a_figure_of_another_mode(question, figures, asked, told):
    assert other_mode(question, figures, [RAIL]) == (asked, told)


@pytest.mark.parametrize(
    ("question", "figures"),
    [
        ("京津冀的高铁总里程是多少？", ["2624公里"]),  # the asked mode
        ("京津冀铁路营业里程是多少？", ["1.1万公里"]),
        ("京津冀区域的交通里程有多长？", ["2624公里"]),  # no mode asked
        ("北京地铁的运营里程是多少？", ["43公里"]),  # the figure is not in the passage
        # one figure of the asked mode is enough
        ("京津冀的高铁和铁路各有多少公里？", ["2624公里", "1.1万公里"]),
    ],
)
def test_no_other_mode(question, figures):
    assert other_mode(question, figures, [RAIL]) == (set(), set())


def test_an_answer_with_another_modes_figure_is_refused(bundled_index, embedder, tokenizer):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    bundled = HybridRetriever(index_store.load(bundled_index), embedder, tokenizer)

    def ask(question: str, settings: ChainSettings | None = None):
        hits = bundled.run(question, top_k=ChainSettings().retrieve_k)
        packed, _ = AnswerChain(bundled, None, "local").context(question, hits)
        n = next(
            i for i, h in enumerate(packed, start=1) if "高铁总里程达到2624公里" in h.chunk.text
        )
        model = FakeListChatModel(responses=[f"2624公里[{n}]"])
        return AnswerChain(bundled, model, "local", settings).ask(question)

    question = "京津冀区域内的城际铁路总共有多少公里？"
    refused = ask(question)
    assert refused.refused and refused.answer == REFUSAL
    assert "“高铁”" in refused.notice and "“城际铁路”" in refused.notice
    # the figure's own clause is about 高铁 too: both checks off to keep it
    assert ask(question, ChainSettings(check_cited_specifics=False)).refused
    kept = ask(question, ChainSettings(check_cited_specifics=False, figure_clause_min_coverage=0))
    assert not kept.refused and "2624公里" in kept.answer
    answered = ask("京津冀区域内的高铁总里程有多少公里？")
    assert not answered.refused and "2624公里" in answered.answer
