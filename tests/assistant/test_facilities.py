"""A facility the question names that the cited passages never name (`assistant.facilities`)."""

from __future__ import annotations

import pytest

from assistant.chain import AnswerChain
from assistant.facilities import facility_names, names_in, unnamed_facilities
from assistant.models import REFUSAL
from assistant.settings import ChainSettings
from retriever import index as index_store
from retriever.hybrid import HybridRetriever

# The 2024 reader and the sub-centre plan, as the reports word them.
GREEN = "实施留白增绿384公顷、揭网见绿1180.6公顷，建成区人均公园绿地面积达到16.9平方米。"
FOREST = "潮白河国家森林公园\t位于宋庄镇、潞城镇、西集镇，总面积约104平方公里。"


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("温榆河公园二期占地面积有多大？", ["温榆河公园"]),
        ("通州的城市绿心森林公园面积有多大？", ["城市绿心森林公园"]),
        ("天津滨海国际机场2023年的旅客吞吐量是多少？", ["天津滨海国际机场"]),
        ("大兴机场旅客吞吐量是多少？", ["大兴机场"]),
        ("北京环球度假区一年接待多少游客？", ["北京环球度假区"]),
        ("2017年计划开工的机场北线高速，投资是多少？", ["北线高速"]),  # 机场 names another
        # a kind of place, or a place's name alone, is no facility's name
        ("全市新建了多少个城市公园？", []),
        ("通州医院有多少张床位？", []),
        ("北京全市公园数量是多少？", []),
        # "整个校区" says which of all; "人大通州校区" names one
        ("人大通州校区二期建成后，整个校区能容纳多少学生？", ["人大通州校区"]),
        ("副中心三级以上医院的编制床位数是多少？", []),
        ("2024年全市常住人口是多少？", []),
    ],
)
def test_facility_names(tokenizer, question, names):
    assert facility_names(question, tokenizer) == names


def test_a_shortened_name_is_found_in_the_full_one():
    assert names_in("大兴机场", "北京大兴国际机场旅客吞吐量")
    assert names_in("人大通州校区", "中国人民大学通州校区二期")
    assert names_in("潮白河森林公园", FOREST)
    assert not names_in("城市绿心森林公园", FOREST)  # 潮白河's, not 城市绿心's
    # the characters must stay close: 天津 … 机场 across a passage is not the airport
    assert not names_in("天津滨海国际机场", "天津滨海—中关村科技园注册企业超5400家，首都国际机场")


def test_unnamed_facilities(tokenizer):
    assert unnamed_facilities("温榆河公园二期占地面积有多大？", [GREEN], tokenizer) == ["温榆河公园"]
    assert unnamed_facilities("温榆河公园二期占地面积有多大？", [GREEN, "温榆河公园二期"], tokenizer) == []
    assert unnamed_facilities("潮白河国家森林公园总面积有多大？", [FOREST], tokenizer) == []


def test_an_answer_about_another_facility_is_refused(bundled_index, embedder, tokenizer):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    bundled = HybridRetriever(index_store.load(bundled_index), embedder, tokenizer)

    def ask(question: str, figure: str, settings: ChainSettings | None = None):
        hits = bundled.run(question, top_k=ChainSettings().retrieve_k)
        packed, _ = AnswerChain(bundled, None, "local").context(question, hits)
        n = next((i for i, h in enumerate(packed, start=1) if figure in h.chunk.text), None)
        assert n is not None, f"no packed passage states {figure}"
        model = FakeListChatModel(responses=[f"{figure}[{n}]"])
        return AnswerChain(bundled, model, "local", settings).ask(question)

    question = "温榆河公园二期占地面积有多大？"
    refused = ask(question, "384公顷")
    assert refused.refused and refused.answer == REFUSAL
    assert "“温榆河公园”" in refused.notice
    # the figure's own clause is about the other facility too: both checks off to keep it
    off = ChainSettings(check_cited_specifics=False, figure_clause_min_coverage=0)
    assert ask(question, "384公顷", ChainSettings(check_cited_specifics=False)).refused
    kept = ask(question, "384公顷", off)
    assert not kept.refused and "384公顷" in kept.answer
    answered = ask("潮白河国家森林公园的总面积有多大？", "104平方公里")
    assert not answered.refused and "104平方公里" in answered.answer
