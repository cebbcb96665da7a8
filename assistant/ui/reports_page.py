"""报告管理 (behind the admin password): the indexed reports, upload, remove, feedback export."""

from __future__ import annotations

import hmac

import streamlit as st

from assistant import library
from assistant.ui import common, render, resources
from corpus.errors import PlanQAError

settings = common.session_settings()
st.title("报告管理")

if not st.session_state.get("admin_ok"):
    with st.form("login"):
        password = st.text_input("管理密码", type="password", key="admin_password_input")
        submitted = st.form_submit_button("进入")
    if submitted:
        if hmac.compare_digest(password.encode(), settings.admin_password.encode()):
            st.session_state.admin_ok = True
            st.rerun()
        st.error("密码不正确。")
    st.stop()

STATE_LABELS = {"indexed": "已索引", "changed": "文件已改动，待更新", "not indexed": "未索引"}
SOURCE_LABELS = {"bundled": "内置", "uploaded": "上传"}

if msg := st.session_state.pop("admin_message", None):
    st.success(render.md(msg))

def _change_corpus(change, target: str, done: str) -> None:
    """Remove or restore a report (the index is updated incrementally), then report back."""
    with st.spinner("正在更新索引…"):
        try:
            change(settings, target, embedder=resources.embedder(settings), tokenizer=resources.tokenizer())
        except PlanQAError as exc:
            st.error(render.md(exc))
            return
    resources.reset_retrievers()
    st.session_state.admin_message = done
    st.rerun()


list_tab, upload_tab, feedback_tab = st.tabs([":material/library_books: 已收录报告", ":material/upload_file: 上传报告", ":material/rate_review: 用户反馈"])

with list_tab:
    try:
        rows = library.list_reports(settings)
    except PlanQAError as exc:
        st.error(render.md(exc))
        rows = []
    st.dataframe(
        [
            {
                "编号": r.doc_id,
                "标题": r.title,
                "发布机构": r.issuer,
                "时期": r.period,
                "年份": r.year,
                "类型": r.kind,
                "段落数": r.n_chunks,
                "来源": SOURCE_LABELS.get(r.source, r.source),
                "索引状态": STATE_LABELS.get(r.state, r.state),
                "文件": r.file,
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
    )
    if any(r.state != "indexed" for r in rows):
        st.warning("有报告与索引不一致。")
        if st.button("更新索引", key="rebuild"):
            try:
                common.build_index(settings)
            except PlanQAError as exc:
                st.error(render.md(exc))
            else:
                st.rerun()
    removable = [r for r in rows if r.state != "not indexed" or r.source == "uploaded"]
    if removable:
        st.markdown("**移除报告**")
        by_label = {f"{r.title}（{SOURCE_LABELS.get(r.source, r.source)}）": r.doc_id for r in removable}
        target = by_label[st.selectbox("选择要移除的报告", list(by_label), key="remove_target")]
        confirm = st.checkbox("确认移除（内置报告只是隐藏，可以恢复）", key="remove_confirm")
        if st.button("移除", key="remove", disabled=not confirm):
            _change_corpus(library.remove_report, target, f"已移除报告 {target}。")
    hidden = list(getattr(settings, "hidden_files", ()) or ())
    if hidden:
        st.markdown("**已隐藏的内置报告**")
        restore = st.selectbox("选择要恢复的报告", hidden, key="restore_target")
        if st.button("恢复", key="restore"):
            _change_corpus(library.restore_report, restore, f"已恢复 {restore}。")

with upload_tab:
    st.caption(
        f"支持 .txt / .md / .pdf / .docx，单个文件不超过 {settings.upload_max_mb} MB。"
        "上传后会清洗、切分并加入索引；失败时索引保持原样。"
    )
    with st.form("upload", clear_on_submit=False):
        file = st.file_uploader("报告文件", type=["txt", "md", "pdf", "docx"], key="upload_file")
        title = st.text_input("标题（可选，默认取文件第一行）", key="upload_title")
        year = st.number_input("年份（可选）", min_value=0, max_value=2100, value=0, key="upload_year")
        kind = st.text_input("类型", value="uploaded", key="upload_kind")
        submitted = st.form_submit_button("上传并加入索引", type="primary")
    if submitted:
        if file is None:
            st.error("请先选择一个文件。")
        else:
            bar = st.progress(0.0, text="正在检查文件…")

            def progress(done: int, total: int) -> None:
                bar.progress(min(1.0, done / total) if total else 1.0, text=f"正在嵌入段落 {done}/{total}")

            try:
                summary = library.add_report(
                    settings,
                    file.name,
                    file.getvalue(),
                    title=title.strip(),
                    year=int(year) or None,
                    kind=kind.strip() or "uploaded",
                    progress=progress,
                    embedder=resources.embedder(settings),
                    tokenizer=resources.tokenizer(),
                )
            except PlanQAError as exc:
                bar.empty()
                st.error(f"上传失败，索引保持原样：{render.md(exc)}")
            else:
                resources.reset_retrievers()
                bar.progress(1.0, text="完成")
                st.session_state.admin_message = (
                    f"已加入 {file.name}：新嵌入 {summary.embedded_chunks} 个段落，"
                    f"索引共 {summary.reports} 份报告、{summary.chunks} 个段落。"
                )
                st.rerun()

with feedback_tab:
    store = resources.store(settings)
    rows = store.feedback()
    up = sum(1 for r in rows if r["rating"] == 1)
    st.caption(f"共 {len(rows)} 条反馈：👍 {up} · 👎 {len(rows) - up}")
    if rows:
        st.dataframe(
            [dict(r, rating="👍" if r["rating"] == 1 else "👎") for r in rows[-200:]],
            hide_index=True,
            width="stretch",
        )
    st.download_button(
        "导出 CSV",
        data=("\ufeff" + store.feedback_csv()).encode("utf-8"),
        file_name="planqa-feedback.csv",
        mime="text/csv",
        key="export_feedback",
        disabled=not rows,
    )
