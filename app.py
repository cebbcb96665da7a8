"""PlanQA（京规问答）web app: `streamlit run app.py` (started by `bash scripts/start.sh`).

Pages: 问答 (chat, default), 检索与核查 (search and fact-check), 报告原文 (report viewer), and
报告管理 (reports; only when an admin password is set in the settings).
"""

from __future__ import annotations

import streamlit as st

from assistant.ui import common, render, resources
from corpus.errors import PlanQAError

st.set_page_config(page_title="京规问答 · PlanQA", page_icon=":material/location_city:", layout="wide")
common.inject_css()

try:
    base = resources.base_settings()
except PlanQAError as exc:  # a bad settings file or variable: say which, show nothing else
    st.error(f"设置有误：{render.md(exc)}")
    st.stop()

common.sidebar(base)

pages = [
    st.Page("assistant/ui/chat_page.py", title="问答", icon=":material/forum:", default=True, url_path="chat"),
    st.Page("assistant/ui/search_page.py", title="检索与核查", icon=":material/manage_search:", url_path="search"),
    st.Page("assistant/ui/viewer_page.py", title="报告原文", icon=":material/description:", url_path="viewer"),
]
if getattr(base, "admin_password", ""):
    pages.append(
        st.Page("assistant/ui/reports_page.py", title="报告管理", icon=":material/folder_managed:", url_path="reports")
    )
st.navigation(pages, position="top").run()
