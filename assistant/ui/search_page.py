"""检索与核查 (for staff): search the reports with filters, and check a claim against them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from assistant.ui import common, render
from corpus.errors import PlanQAError
from retriever.filters import ReportFilter

settings = common.session_settings()
st.title("检索与核查")

retriever = common.retriever_or_stop(settings)

catalog = {e.doc_id: e for e in retriever.index.catalog}
search_tab, check_tab = st.tabs([":material/search: 检索报告", ":material/fact_check: 事实核查"])


def _terms(query: str) -> tuple[str, ...]:
    """Query words worth highlighting: two characters or more, or a figure."""
    return tuple(t for t in retriever.tokenizer.tokenize(query) if len(t) >= 2 or t.isdigit())


with search_tab:
    query = st.text_input(
        "检索词或问题", key="search_query", placeholder="例如：轨道交通运营里程、2023年度读本 常住人口"
    )
    c1, c2, c3, c4 = st.columns([3, 1.2, 2, 1])
    doc_ids = c1.multiselect(
        "报告", list(catalog), format_func=lambda d: f"《{catalog[d].title}》", key="search_docs"
    )
    years = c2.multiselect(
        "年份", sorted({e.year for e in catalog.values() if e.year}), key="search_years"
    )
    kinds = c3.multiselect(
        "类型", sorted({e.kind for e in catalog.values() if e.kind}), key="search_kinds"
    )
    k = c4.number_input("条数", min_value=1, max_value=30, value=8, key="search_k")
    if query.strip():
        filters = ReportFilter(
            doc_ids=frozenset(doc_ids) or None,
            years=frozenset(years) or None,
            kinds=frozenset(kinds) or None,
        )
        try:
            hits = retriever.run(query, top_k=int(k), filters=filters)
        except PlanQAError as exc:
            st.error(render.md(exc))
            hits = []
        else:
            if not hits:
                st.info("没有找到匹配的段落。可以换个说法，或去掉筛选条件。")
            else:
                st.caption(f"共 {len(hits)} 条结果（{common.MODE_LABELS.get(retriever.settings.mode, '')}）")
        terms = _terms(query)
        for hit in hits:
            c = hit.chunk
            common.source_card(
                n=hit.rank, title=c.title, section=c.section_label, text=c.text, terms=terms,
                chunk_id=c.chunk_id, doc_id=c.doc_id, key=f"s-{c.chunk_id}", expanded=hit.rank <= 3,
            )

VERDICT_STYLE = {"supported": st.success, "contradicted": st.error, "not_found": st.warning}
VERDICT_HELP = {
    "supported": "报告中有原文支持这一说法。",
    "contradicted": "报告中谈到了同一件事，但数字或说法不一致。",
    "not_found": "报告中没有找到足以判断这一说法的原文。",
}

with check_tab:
    claim = st.text_area(
        "要核查的说法",
        key="claim",
        placeholder="例如：2024年北京森林覆盖率达到45%",
        max_chars=500,
        height=90,
    )
    if st.button("核查", type="primary", key="check"):
        if not claim.strip():
            st.error("请输入要核查的说法。")
        else:
            from assistant.factcheck import check_claim

            try:
                st.session_state.fact_check = check_claim(claim, retriever).to_dict()
            except PlanQAError as exc:
                st.error(render.md(exc))
    result = st.session_state.get("fact_check")
    if result:
        VERDICT_STYLE.get(result["verdict"], st.info)(
            f"**{result['label']}** — {VERDICT_HELP.get(result['verdict'], '')}"
        )
        st.caption(f"核查的说法：{render.md(result['claim'])}")
        if result["figures"]:
            st.markdown("**数字对照**")
            st.table(
                pd.DataFrame([
                    {
                        "说法中的数字": f["claimed"],
                        "报告中的数字": f["stated"] or "（未找到）",
                        "是否一致": "一致" if f["matches"] else "不一致",
                    }
                    for f in result["figures"]
                ])
            )
        if result["evidence"]:
            st.markdown("**依据的报告原文**")
        for i, ev in enumerate(result["evidence"], 1):
            common.source_card(
                n=i, title=ev["title"], section=ev["section"], text=ev["text"],
                quote_start=ev["quote_start"], quote_end=ev["quote_end"], quote=ev["quote"],
                chunk_id=ev["chunk_id"], doc_id=ev["doc_id"], key=f"fc-{i}", expanded=i == 1,
            )
