"""问答: the citizens' chat. Answers stream in, every [n] opens its source card, refusals look like
refusals, feedback is stored, and the conversation survives a reload (?c=<id> in the address)."""

from __future__ import annotations

import streamlit as st

from assistant.models import REFUSAL, Turn
from assistant.store import new_conversation_id, valid_conversation_id
from assistant.ui import common, render, resources
from corpus.errors import IndexMissingError, PlanQAError

EXAMPLES = (
    "2023年末北京常住人口是多少？",
    "2024年北京森林覆盖率达到了多少？",
    "京津冀协同发展是哪一年提出的？",
    "首都都市圈的圈层结构是怎样的？",
)

settings = common.session_settings()
store = resources.store(settings)


def _conversation() -> tuple[str, list[dict]]:
    """This session's conversation; after a reload, the one named in the address."""
    if "conversation" not in st.session_state:
        wanted = st.query_params.get("c")
        if valid_conversation_id(wanted):
            conv = wanted
            st.session_state.messages = store.turns(conv)
            for idx, rating in store.ratings(conv).items():
                st.session_state[f"fb_{conv}_{idx}"] = rating
        else:
            conv = new_conversation_id()
            st.session_state.messages = []
        st.session_state.conversation = conv
    st.query_params["c"] = st.session_state.conversation
    return st.session_state.conversation, st.session_state.messages


def _save_rating(conv: str, idx: int, record: dict) -> None:
    rating = st.session_state.get(f"fb_{conv}_{idx}")
    if rating is not None:
        store.set_feedback(conv, idx, int(rating), record)


def _save_comment(conv: str, idx: int, record: dict) -> None:
    comment = st.session_state.get(f"fbc_{conv}_{idx}", "")
    rating = st.session_state.get(f"fb_{conv}_{idx}")
    store.set_feedback(conv, idx, 1 if rating is None else int(rating), record, comment=comment)
    st.toast("感谢反馈，已记录。")


def _render_turn(conv: str, idx: int, record: dict) -> None:
    with st.chat_message("user"):
        st.text(record["question"])
    with st.chat_message("assistant"):
        if record.get("notice"):
            st.info(render.md(record["notice"]), icon=":material/info:")
        key = f"{conv}-{idx}"
        if record["refused"]:
            st.html(f'<div class="pq-refusal">{render.esc(REFUSAL)}</div>')
            if record.get("retrieved"):
                st.caption("可能相关的段落：")
                for j, hit in enumerate(record["retrieved"][:3]):
                    common.source_card(
                        n=None, title=hit["title"], section=hit["section"], text=hit["text"],
                        chunk_id=hit["chunk_id"], doc_id=hit["doc_id"], key=f"{key}-r{j}",
                    )
        else:
            cited = [c["n"] for c in record["citations"]]
            st.html(render.answer_html(record["answer"], key, cited))
            if not record["grounded"]:
                figures = render.md("、".join(record.get("ungrounded_figures") or ()))
                if figures:
                    st.warning(f"核查提示：以下数字未能在所引段落中找到，请谨慎使用：{figures}", icon=":material/warning:")
                else:
                    st.warning("核查提示：这条回答有内容未能在所引段落中核实，请谨慎使用。", icon=":material/warning:")
            for c in record["citations"]:
                common.source_card(
                    n=c["n"], title=c["title"], section=c["section"], text=c["text"],
                    quote_start=c["quote_start"], quote_end=c["quote_end"], quote=c["quote"],
                    chunk_id=c["chunk_id"], doc_id=c["doc_id"], key=f"{key}-c{c['n']}",
                    anchor=render.anchor_id(key, c["n"]),
                )
        cols = st.columns([2, 2, 5])
        with cols[0]:
            st.feedback(
                "thumbs", key=f"fb_{conv}_{idx}", on_change=_save_rating, args=(conv, idx, record)
            )
        with cols[1]:
            with st.popover("补充意见", icon=":material/rate_review:"):
                st.text_area("您的意见（可选）", key=f"fbc_{conv}_{idx}", max_chars=2000)
                st.button(
                    "提交", key=f"fbs_{conv}_{idx}", on_click=_save_comment, args=(conv, idx, record)
                )
        with cols[2]:
            details = f"后端：{record.get('backend', '')}"
            timings = record.get("timings_ms") or {}
            if timings.get("total") is not None:
                details += f" · 用时 {timings['total'] / 1000:.1f} 秒"
            if record.get("standalone_question") and record["standalone_question"] != record["question"]:
                details += f" · 检索问题：{record['standalone_question']}"
            st.caption(render.md(details))


def _answer(conv: str, messages: list[dict], question: str) -> None:
    # LangChain loads on the first question, not with the first page.
    from assistant.chain import AnswerChain

    with st.chat_message("user"):
        st.text(question)
    with st.chat_message("assistant"):
        try:
            retriever = resources.retriever(settings)
        except IndexMissingError as exc:
            common.no_index_panel(settings, exc)
            return
        model, backend, notice, _reason = resources.chat_model(settings.answer)
        chain = AnswerChain(retriever, model, backend, settings.chain)
        history = [
            Turn(r["question"], r["answer"], r.get("standalone_question", "")) for r in messages[-3:]
        ]
        placeholder = st.empty()
        streamed: list[str] = []

        def on_token(piece: str) -> None:
            streamed.append(piece)
            placeholder.html(render.answer_html("".join(streamed) + " ▌", "stream", ()))

        with st.spinner("正在检索报告并生成回答…"):
            try:
                answer = chain.ask(question, history=history, on_token=on_token)
            except PlanQAError as exc:
                placeholder.empty()
                st.error(render.md(exc))
                return
        record = answer.to_dict()
        if notice and not record.get("notice"):
            record["notice"] = notice
        store.add_turn(conv, record)
        messages.append(record)
    st.rerun()


conv, messages = _conversation()
st.title("京规问答")
st.caption("面向市民的北京规划报告问答：每条回答都标注出处，可点开核对报告原文。")

for idx, record in enumerate(messages):
    _render_turn(conv, idx, record)

if not messages:
    st.markdown("##### 试试这些问题")
    cols = st.columns(2)
    for i, example in enumerate(EXAMPLES):
        if cols[i % 2].button(example, key=f"example_{i}", width="stretch"):
            st.session_state.pending_question = example
else:
    if st.button("开始新对话", icon=":material/add_comment:", key="new_conversation"):
        for key in ("conversation", "messages"):
            st.session_state.pop(key, None)
        st.query_params.clear()
        st.rerun()

question = st.chat_input("请输入关于北京规划报告的问题，例如：副中心的发展目标是什么？")
question = question or st.session_state.pop("pending_question", None)
if question is not None:
    if not question.strip():
        st.error("问题不能为空，请输入一个问题。")
    else:
        _answer(conv, messages, question)
