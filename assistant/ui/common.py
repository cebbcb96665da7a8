"""What every page shares: the sidebar settings, source cards, the no-index panel."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from assistant.settings import BACKENDS, Settings
from assistant.ui import render, resources
from corpus.errors import IndexMissingError
from retriever.hybrid import MODES

BACKEND_LABELS = {
    "local": "本地模型（Qwen2.5 1.5B）",
    "openai": "OpenAI 兼容服务",
    "extractive": "摘录式（不用模型）",
}
MODE_LABELS = {"hybrid": "混合检索（推荐）", "bm25": "关键词（BM25）", "dense": "语义向量"}
VIEWER_PAGE = "assistant/ui/viewer_page.py"


def inject_css() -> None:
    st.html(render.CSS)


def session_settings() -> Settings:
    """The shared defaults with this session's sidebar choices applied."""
    base = resources.base_settings()
    backend = st.session_state.get("opt_backend", base.answer.backend)
    mode = st.session_state.get("opt_mode", base.retriever.mode)
    budget = st.session_state.get("opt_context", base.chain.context_chars)
    return replace(
        base,
        answer=replace(base.answer, backend=backend),
        retriever=replace(base.retriever, mode=mode),
        chain=replace(base.chain, context_chars=int(budget)),
    )


def sidebar(base: Settings) -> None:
    with st.sidebar:
        st.markdown("### :material/tune: 设置")
        st.selectbox(
            "回答后端",
            BACKENDS,
            index=BACKENDS.index(st.session_state.get("opt_backend", base.answer.backend)),
            format_func=lambda b: BACKEND_LABELS.get(b, b),
            key="opt_backend",
            help="默认值来自环境变量 PLANQA_BACKEND 或配置文件；摘录式回答直接引用报告原句。",
        )
        st.selectbox(
            "检索方式",
            MODES,
            index=MODES.index(st.session_state.get("opt_mode", base.retriever.mode)),
            format_func=lambda m: MODE_LABELS.get(m, m),
            key="opt_mode",
        )
        st.slider(
            "上下文长度（字）",
            min_value=200,
            max_value=4000,
            step=100,
            value=int(st.session_state.get("opt_context", base.chain.context_chars)),
            key="opt_context",
            help="交给模型的报告原文总字数（默认取前几段中与问题最相关的句子）；越长越全面，回答越慢。",
        )
        st.caption("京规问答只依据已收录的规划报告作答，不使用模型自身的知识。")


def retriever_or_stop(settings: Settings):
    """The shared retriever; without a usable index, the panel that builds one, and the page stops."""
    try:
        return resources.retriever(settings)
    except IndexMissingError as exc:
        no_index_panel(settings, exc)
        st.stop()


def no_index_panel(settings: Settings, error: Exception) -> None:
    """Shown instead of a page when there is no usable index."""
    st.warning(f"还没有可用的检索索引：{render.md(error)}")
    st.markdown("首次使用需要为报告建立索引（约一分钟），也可以在命令行运行 `planqa index`。")
    if st.button("建立索引", type="primary", key="build_index"):
        build_index(settings)
        st.rerun()


def build_index(settings: Settings) -> None:
    from assistant import library

    bar = st.progress(0.0, text="正在建立索引…")

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / total) if total else 1.0, text=f"正在嵌入段落 {done}/{total}")

    summary = library.rebuild(
        settings, progress=progress, embedder=resources.embedder(settings), tokenizer=resources.tokenizer()
    )
    bar.progress(1.0, text=f"索引完成：{summary.reports} 份报告，{summary.chunks} 个段落。")
    resources.reset_retrievers()


def source_card(
    *,
    n: int | None,
    title: str,
    section: str,
    text: str,
    quote_start: int = 0,
    quote_end: int = 0,
    terms: tuple[str, ...] = (),
    chunk_id: str = "",
    doc_id: str = "",
    key: str,
    expanded: bool = False,
    anchor: str = "",
    quote: str = "",
) -> None:
    """One passage: where it is from, the text with the supporting quote highlighted, a link to
    read it in the full report and the citation in standard form to copy."""
    if anchor:
        st.html(f'<div id="{render.esc(anchor)}"></div>')
    head = f"[{n}] " if n is not None else ""
    label = render.md(f"{head}《{title}》" + (f" · {section}" if section else ""))
    with st.expander(label, expanded=expanded):
        spans = [(quote_start, quote_end)] if quote_end > quote_start else []
        st.html(render.highlight_html(text, spans, terms))
        cols = st.columns([1, 3])
        with cols[0]:
            if chunk_id and doc_id:
                st.page_link(
                    VIEWER_PAGE,
                    label="在原文中查看",
                    icon=":material/description:",
                    query_params={"doc": doc_id, "chunk": chunk_id},
                )
        with cols[1]:
            st.code(render.citation_text(title, section, quote or text[:120]), language=None, wrap_lines=True)
