"""A names question answered with part of the sentence the answer is drawn from
(`assistant.names_quote`)."""

from __future__ import annotations

import pytest

from assistant.chain import AnswerChain
from assistant.names_quote import asks_names, left_out, named_in
from assistant.settings import ChainSettings
from retriever import index as index_store
from retriever.hybrid import HybridRetriever

# The sub-centre plan and the capital-region plan, as the reports word them.
AWARD = (
    "创新示范接续落地，“城市副中心气候适应型城市建设项目”获2025年城市气候领导联盟（C40）“地方气候领袖”奖，"
    "在全国率先构建包括七个维度三个层级的绿色发展标准体系。"
)
XIONGAN = (
    "“一主”即起步区，为容城、安新两县交界区域，是河北雄安新区的主城区，规划面积约198平方公里；"
    "“五辅”即雄县、容城、安新、寨里、昝岗五个外围组团。"
)


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("“三区叠加”是哪三区？", True),
        ("“一主”指什么？", True),
        ("通州“十五五”规划里的“三镇”包括哪些？", True),
        ("一共建几个园区？分别在哪儿？", True),  # a count and names
        ("全市有多少个公园？", False),
        ("北京大兴国际机场是哪年投运的？", False),  # a time
    ],
)
def test_asks_names(question, asks):
    assert asks_names(question) is asks


def test_named_in_a_sentence():
    assert named_in(AWARD) == ["城市副中心气候适应型城市建设项目", "地方气候领袖"]
    assert "起步区" in named_in(XIONGAN)  # what "即" defines
    assert {"雄县", "容城", "安新", "寨里"} <= set(named_in(XIONGAN))  # an enumeration's items


def test_the_sentence_an_answer_stops_short_of():
    question = "城市副中心气候适应型城市建设项目获得了C40的什么奖？"
    source = left_out(question, "C40的城市气候领导联盟[1]", {1: AWARD})
    assert source is not None and source.n == 1
    assert source.left_out == ("地方气候领袖",)
    assert AWARD[source.start : source.end].startswith("创新示范接续落地")
    defined = left_out("雄安新区的“一主”指什么？", "容城、安新两县交界区域[2]", {2: XIONGAN})
    assert defined is not None and "起步区" in defined.left_out
    assert AWARD[:10] not in XIONGAN[defined.start : defined.end]


@pytest.mark.parametrize(
    "answer",
    [
        "“地方气候领袖”奖[1]",  # nothing left out
        "据报告：“…获2025年城市气候领导联盟（C40）“地方气候领袖”奖”[1]",  # already quoted
        "服务保障区、航空物流区和科技创新区[1]",  # drawn from no sentence of the passage
    ],
)
def test_nothing_to_add(answer):
    question = "城市副中心气候适应型城市建设项目获得了C40的什么奖？"
    assert left_out(question, answer, {1: AWARD}) is None


PORTS = "以天津港为龙头，秦皇岛港、唐山港、黄骅港为骨干，提升京津冀地区海港枢纽功能。"


def test_an_enumeration_counts_for_a_list_question_only():
    listed = left_out("京津冀港口群以哪些港口为骨干？", "秦皇岛港[1]", {1: PORTS})
    assert listed is not None and "唐山港" in listed.left_out
    assert left_out("京津冀港口群以哪个港口为龙头？", "天津港[1]", {1: PORTS}) is None


def test_a_quantity_question_gets_nothing():
    assert left_out("起步区规划面积约多少平方公里？", "198平方公里[1]", {1: XIONGAN}) is None


def test_the_sentence_is_added_as_a_quote(bundled_index, embedder, tokenizer):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    bundled = HybridRetriever(index_store.load(bundled_index), embedder, tokenizer)
    question = "城市副中心气候适应型城市建设项目获得了C40的什么奖？"

    def ask(settings: ChainSettings | None = None):
        hits = bundled.run(question, top_k=ChainSettings().retrieve_k)
        packed, _ = AnswerChain(bundled, None, "local").context(question, hits)
        n = next(i for i, h in enumerate(packed, start=1) if "地方气候领袖" in h.chunk.text)
        model = FakeListChatModel(responses=[f"C40的城市气候领导联盟[{n}]"])
        return AnswerChain(bundled, model, "local", settings).ask(question), n

    answer, n = ask()
    assert not answer.refused and answer.grounded
    assert answer.answer.startswith(f"C40的城市气候领导联盟[{n}]")
    assert "“地方气候领袖”奖" in answer.answer and f"”[{n}]" in answer.answer
    plain, _ = ask(ChainSettings(complete_names=False))
    assert "地方气候领袖" not in plain.answer


def test_a_clipped_name_is_made_whole_before_the_quote(bundled_index, embedder, tokenizer):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    bundled = HybridRetriever(index_store.load(bundled_index), embedder, tokenizer)
    question = "副中心的科技小院覆盖了哪些乡镇？"
    hits = bundled.run(question, top_k=ChainSettings().retrieve_k)
    packed, _ = AnswerChain(bundled, None, "local").context(question, hits)
    n = next(i for i, h in enumerate(packed, start=1) if "科技小院，覆盖全区于家务乡" in h.chunk.text)
    model = FakeListChatModel(responses=[f"家务乡、漷县镇[{n}]"])  # 于 of 于家务乡 left off
    answer = AnswerChain(bundled, model, "local").ask(question)
    assert not answer.refused
    assert answer.answer.startswith(f"于家务乡、漷县镇[{n}]")
    assert "永乐店镇" in answer.answer  # the sentence, quoted after it
