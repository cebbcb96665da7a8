"""报告原文: read any indexed report, cleaned, by its section outline; opened at a cited passage
when the address names one (?doc=<doc_id>&chunk=<chunk_id>)."""

from __future__ import annotations

import streamlit as st

from assistant.ui import common, render
from assistant.ui.outline import find_chunk, sections_of

settings = common.session_settings()
st.title("报告原文")

retriever = common.retriever_or_stop(settings)

index = retriever.index
reports = [s for s in index.manifest.sources]
titles = {s.doc_id: s.title for s in reports}
doc_ids = list(titles)
if not doc_ids:
    st.info("索引中还没有报告。")
    st.stop()

wanted_doc = st.query_params.get("doc")
wanted_chunk = st.query_params.get("chunk", "")
if wanted_doc in titles and st.session_state.get("viewer_opened") != (wanted_doc, wanted_chunk):
    # Opened from a citation: jump to that report and passage once, then let the reader move on.
    st.session_state.viewer_opened = (wanted_doc, wanted_chunk)
    st.session_state.viewer_doc = wanted_doc
    st.session_state.pop("viewer_section", None)
    st.session_state.viewer_target = wanted_chunk
elif wanted_doc and wanted_doc not in titles:
    st.warning(f"找不到报告“{render.md(wanted_doc)}”，请从下面的列表中选择。")

doc_id = st.selectbox(
    "报告", doc_ids, format_func=lambda d: f"《{titles[d]}》", key="viewer_doc"
)
chunks = [c for c in index.chunks if c.doc_id == doc_id]
sections = sections_of(chunks)
target = st.session_state.get("viewer_target", "")
found = find_chunk(sections, target) if target else None
if found is not None and "viewer_section" not in st.session_state:
    st.session_state.viewer_section = found[0]

entry = next((e for e in index.catalog if e.doc_id == doc_id), None)
meta = [f"{len(chunks)} 个段落", f"{len(sections)} 个章节"]
if entry is not None:
    meta = [x for x in (entry.issuer, entry.period) if x] + meta
st.caption(render.md(" · ".join(meta)))

outline_col, text_col = st.columns([1, 2.4], gap="large")
with outline_col:
    st.markdown("**目录**")
    outline = st.container(height=560) if len(sections) > 12 else st.container()
    choice = outline.radio(
        "目录",
        range(len(sections)),
        format_func=lambda i: render.md(sections[i].label),
        key="viewer_section",
        label_visibility="collapsed",
    )
with text_col:
    sec = sections[choice or 0]
    st.subheader(render.md(sec.label))
    st.caption(f"原文第 {sec.line_start}–{sec.line_end} 行")
    spans = []
    if found is not None and found[0] == choice:
        spans = [found[1]]
        st.info("黄色标出的是被引用的段落。", icon=":material/push_pin:")
    st.html(render.highlight_html(sec.text, spans))
