"""Repairs of a local model's answer over the bundled reports: a worked-out change quoted from
the report, a map's title answered extractively, a range counted as one value, a forced answer's
echo of the question dropped."""

from __future__ import annotations

import pytest

from assistant.chain import AnswerChain, _without_echo
from assistant.grounding import derived_in
from assistant.models import REFUSAL
from assistant.settings import ChainSettings
from retriever import index as index_store
from retriever.hybrid import HybridRetriever

TRAFFIC = "中心城区高峰时段平均道路交通指数从上年的6.32降至6.08，提升了群众出行安全感、获得感。"


@pytest.mark.parametrize(
    ("figure", "text", "derived"),
    [
        ("0.24", TRAFFIC, True),
        ("4.1个百分点", "居民人均可支配收入增长27.1%，全市增长23.0%", True),
        ("0.25", TRAFFIC, False),
        ("12.4", TRAFFIC, False),  # a sum is not a change
        ("2019年", "基础教育学位数较2020年增长55%，全市第1", False),  # a date is never worked out
        ("15家", "引入5家、累计达到20家", True),
        ("15万人", "引入5家、累计达到20家", False),  # another unit
    ],
)
def test_derived_in(figure, text, derived):
    assert derived_in(figure, text) is derived


@pytest.mark.parametrize(
    ("reply", "question", "kept"),
    [
        (
            "根据已知信息，灾后重建中，为了提高山区路网的抗灾能力，在大石河、拒马河沟域增补了两条高速：108新线高速。",
            "灾后重建中，为了提高山区路网的抗灾能力，在大石河、拒马河沟域增补了哪两条高速？",
            "在大石河、拒马河沟域增补了两条高速：108新线高速。",
        ),
        # what is left must still be found in a passage, without the question's words to lean on
        ("温榆河公园二期，占地面积为384公顷。", "温榆河公园二期占地面积有多大？", "占地面积为384公顷。"),
        # the opening clause is the answer's own, not the question's
        ("二期占地约384公顷，位于朝阳区。", "温榆河公园二期占地面积有多大？", "二期占地约384公顷，位于朝阳区。"),
        # nothing but the question: the reply stands
        ("根据已知信息，", "北京常住人口是多少？", "根据已知信息，"),
    ],
)
def test_without_echo(reply, question, kept):
    assert _without_echo(reply, question) == kept


@pytest.fixture()
def ask(bundled_index, embedder, tokenizer):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    bundled = HybridRetriever(index_store.load(bundled_index), embedder, tokenizer)

    def ask(question: str, reply: str, marked: str, settings: ChainSettings | None = None):
        """`reply` with `{n}` for the packed passage holding `marked`, asked `question`."""
        hits = bundled.run(question, top_k=ChainSettings().retrieve_k)
        packed, _ = AnswerChain(bundled, None, "local").context(question, hits)
        n = next((i for i, h in enumerate(packed, start=1) if marked in h.chunk.text), None)
        assert n is not None, f"no packed passage holds {marked}"
        model = FakeListChatModel(responses=[reply.format(n=n)])
        return AnswerChain(bundled, model, "local", settings).ask(question)

    return ask


def test_a_worked_out_change_is_quoted_from_the_report(ask):
    question = "中心城区早晚高峰的平均道路交通指数，2024年和上一年比是怎么变化的？"
    reply = "中心城区早晚高峰的平均道路交通指数，2024年比上一年下降了0.24。[{n}]"
    answer = ask(question, reply, "6.32降至6.08")
    assert not answer.refused and answer.grounded
    assert "6.32" in answer.answer and "6.08" in answer.answer and "0.24" not in answer.answer
    assert "0.24" in answer.notice and answer.backend == "extractive"
    plain = ask(question, reply, "6.32降至6.08", ChainSettings(quote_derived_figures=False))
    assert "6.08" not in plain.answer


def test_a_maps_title_is_not_an_answer(ask):
    answer = ask("北京市级绿道的总体空间格局是怎么概括的？", "市级绿道总体格局规划图[{n}]", "市级绿道")
    assert answer.answer == REFUSAL or "规划图" not in answer.answer
    assert "图表的标题" in answer.notice


def test_a_range_is_one_value(ask):
    question = "白庙南、白庙北检查站改造前后，过检的平均通行时间分别是多久？"
    reply = "白庙南、白庙北检查站改造后，过检的平均通行时间是2-5分钟。[{n}]"
    answer = ask(question, reply, "2-5分钟")
    assert not answer.refused and "20分钟" in answer.answer  # the sentence is quoted
    plain = ask(question, reply, "2-5分钟", ChainSettings(complete_parts=False))
    assert "20分钟" not in plain.answer
