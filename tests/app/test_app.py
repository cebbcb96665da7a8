"""The Streamlit app's flows through Streamlit's AppTest: the real pages, the real bundled index
and models (the extractive backend by default, the local model in one test), a real SQLite file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
SEARCH = "assistant/ui/search_page.py"
VIEWER = "assistant/ui/viewer_page.py"
REPORTS = "assistant/ui/reports_page.py"

pytestmark = pytest.mark.slow  # every test here uses the full bundled index


@pytest.fixture()
def app_env(bundled_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bundled index (read-only here), a fresh data directory, the extractive backend."""
    data = tmp_path / "data"
    monkeypatch.setenv("PLANQA_INDEX_DIR", str(bundled_index))
    monkeypatch.setenv("PLANQA_CORPUS_DIR", str(bundled_index.parent / "reports"))
    monkeypatch.setenv("PLANQA_DATA_DIR", str(data))
    monkeypatch.setenv("PLANQA_BACKEND", "extractive")
    monkeypatch.delenv("PLANQA_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("PLANQA_CONFIG", raising=False)
    return data


@pytest.fixture()
def own_index(bundled_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_env: Path) -> Path:
    """A private copy of the bundled corpus and index, for tests that change them."""
    root = tmp_path / "own"
    shutil.copytree(bundled_index.parent / "reports", root / "reports")
    shutil.copytree(bundled_index, root / "index")
    monkeypatch.setenv("PLANQA_INDEX_DIR", str(root / "index"))
    monkeypatch.setenv("PLANQA_CORPUS_DIR", str(root / "reports"))
    return root


def run_app(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def html_of(at: AppTest) -> str:
    return "\n".join(h.value for h in at.get("html"))


def plain(label: str) -> str:
    """A label as the reader sees it (the app escapes Markdown in labels)."""
    return label.replace("\\", "")


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


# -- 问答 ----------------------------------------------------------------------------------


def test_example_question_gets_an_answer_with_a_source_card(app_env: Path) -> None:
    at = ok(run_app())
    examples = [b for b in at.button if b.key and b.key.startswith("example_")]
    assert len(examples) >= 3
    ok(at.button(key="example_0").click().run())
    page = html_of(at)
    assert 'class="pq-cite"' in page  # the [1] badge links to its card
    cards = [plain(e.label) for e in at.expander if plain(e.label).startswith("[1] 《")]
    assert cards and "2023年度" in cards[0]
    assert "<mark>" in page and "2185.8万人" in page  # the quote is highlighted in the passage
    # A link to read the passage in the full report, and the citation to copy.
    assert any("在原文中查看" in str(link.proto.label) for link in at.get("page_link"))
    assert any(c.value.startswith("《北京城市总体规划实施体检报告公众读本（2023年度）》") for c in at.code)


def test_follow_up_shows_its_rewrite_and_the_conversation_survives_a_reload(app_env: Path) -> None:
    at = ok(run_app())
    ok(at.chat_input[0].set_value("2023年末北京常住人口是多少？").run())
    ok(at.chat_input[0].set_value("那2024年呢？").run())
    captions = [plain(c.value) for c in at.caption]
    assert any("检索问题：" in c and "2024" in c and "常住人口" in c for c in captions)
    conversation = at.query_params["c"]
    conversation = conversation[0] if isinstance(conversation, list) else conversation

    # A reload is a new session that only has the address: the conversation comes back.
    again = ok(run_app(c=conversation))
    users = [m for m in again.chat_message if m.name == "user"]
    assert [u.get("text")[0].value for u in users] == ["2023年末北京常住人口是多少？", "那2024年呢？"]
    assert 'class="pq-cite"' in html_of(again)


def test_off_topic_question_is_refused_with_closest_passages(app_env: Path) -> None:
    at = ok(run_app())
    ok(at.chat_input[0].set_value("红烧肉怎么做才好吃？").run())
    page = html_of(at)
    assert 'class="pq-refusal"' in page and "报告中未找到相关内容" in page
    assert 'class="pq-cite"' not in page


def test_feedback_with_comment_is_stored_and_exported(app_env: Path) -> None:
    from assistant.store import AppStore

    at = ok(run_app())
    ok(at.button(key="example_0").click().run())
    ok(at.feedback[0].set_value(0).run())  # 👎
    comment = next(t for t in at.text_area if t.key and t.key.startswith("fbc_"))
    comment.input("引用的是2023年度读本，想看2024年的数据")
    ok(at.button(key=comment.key.replace("fbc_", "fbs_")).click().run())

    store = AppStore(app_env / "planqa.sqlite3")
    rows = store.feedback()
    assert len(rows) == 1
    assert rows[0]["rating"] == 0
    assert rows[0]["comment"] == "引用的是2023年度读本，想看2024年的数据"
    assert rows[0]["question"] == "2023年末北京常住人口是多少？"
    assert "2185.8万人" in rows[0]["answer"] and "[1]" in rows[0]["citations"]
    assert rows[0]["backend"] == "extractive"
    csv_text = store.feedback_csv()
    assert csv_text.splitlines()[0].startswith("time,rating,comment,question")
    assert "想看2024年的数据" in csv_text


def test_the_local_model_answers_in_the_app(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("llama_cpp")  # installed by the test command (setup.sh local)
    monkeypatch.setenv("PLANQA_BACKEND", "local")
    at = ok(run_app())
    ok(at.chat_input[0].set_value("2023年末北京常住人口是多少？").run(timeout=300))
    page = html_of(at)
    assert "2185.8" in page
    assert any("后端：" in c.value for c in at.caption)


# -- 检索与核查 ------------------------------------------------------------------------------


def test_search_with_a_report_filter_highlights_query_terms(app_env: Path) -> None:
    at = ok(run_app())
    ok(at.switch_page(SEARCH).run())
    ok(at.multiselect(key="search_docs").set_value(["checkup-2024"]).run())
    ok(at.text_input(key="search_query").input("常住人口").run())
    labels = [e.label for e in at.expander]
    assert labels and all("2024年度" in label for label in labels)
    assert 'class="pq-term">常住人口</mark>' in html_of(at)


def test_fact_check_states_the_reported_value_next_to_the_claimed_one(app_env: Path) -> None:
    at = ok(run_app())
    ok(at.switch_page(SEARCH).run())
    ok(at.text_area(key="claim").input("2023年末北京常住人口为2200万人").run())
    ok(at.button(key="check").click().run())
    assert at.error and "不一致" in at.error[0].value
    table = at.table[0].value
    assert "2200万人" in table.to_string() and "2185.8万人" in table.to_string()

    ok(at.text_area(key="claim").input("2023年末，北京常住人口为2185.8万人").run())
    ok(at.button(key="check").click().run())
    assert at.success and "支持" in at.success[0].value


def test_empty_claim_is_a_plain_error(app_env: Path) -> None:
    at = ok(run_app())
    ok(at.switch_page(SEARCH).run())
    ok(at.button(key="check").click().run())
    assert at.error and "请输入" in at.error[0].value


# -- 报告原文 --------------------------------------------------------------------------------


def test_viewer_opens_at_the_cited_passage(app_env: Path, bundled_index: Path) -> None:
    from retriever import index as index_store

    chunk = next(c for c in index_store.load(bundled_index).chunks if "2185.8万人" in c.text)
    at = ok(run_app(doc=chunk.doc_id, chunk=chunk.chunk_id))
    ok(at.switch_page(VIEWER).run())
    # switch_page drops the address; the viewer reads it from the link that opened it
    at.query_params["doc"] = chunk.doc_id
    at.query_params["chunk"] = chunk.chunk_id
    ok(at.run())
    assert at.selectbox(key="viewer_doc").value == chunk.doc_id
    assert at.radio(key="viewer_section").value is not None
    page = html_of(at)
    assert "<mark>" in page and "2185.8万人" in page
    assert " > ".join(chunk.section) in plain(at.subheader[0].value)


# -- 报告管理 --------------------------------------------------------------------------------


def test_reports_page_is_hidden_without_a_password(app_env: Path) -> None:
    at = ok(run_app())
    with pytest.raises(ValueError):
        at.switch_page(REPORTS)


def login(monkeypatch: pytest.MonkeyPatch, password: str = "s3cret") -> AppTest:
    monkeypatch.setenv("PLANQA_ADMIN_PASSWORD", "s3cret")
    at = ok(run_app())
    ok(at.switch_page(REPORTS).run())
    at.text_input(key="admin_password_input").input(password)
    return ok(at.button[0].click().run())


def test_wrong_password_is_refused(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = login(monkeypatch, "guess")
    assert at.error and "密码不正确" in at.error[0].value
    assert not at.get("file_uploader")


def test_upload_then_remove_a_report(own_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.settings import Settings
    from assistant.store import AppStore  # noqa: F401  (the page opens the store too)
    from retriever import index as index_store

    at = login(monkeypatch)
    table = at.dataframe[0].value
    assert len(table) == 5 and set(table["索引状态"]) == {"已索引"}
    before = index_store.current_generation(own_index / "index")

    # A file with no text fails and leaves the index as it was.
    at.file_uploader(key="upload_file").set_value(("empty.txt", b"   \n", "text/plain"))
    ok(at.button(key="FormSubmitter:upload-上传并加入索引").click().run())
    assert at.error and "上传失败" in at.error[0].value
    assert index_store.current_generation(own_index / "index") == before

    text = "雄安新区规划纲要摘要\n第一章 总体要求\n到2035年，雄安新区蓝绿空间占比稳定在70%。\n"
    at.file_uploader(key="upload_file").set_value(("xiongan.txt", text.encode(), "text/plain"))
    at.text_input(key="upload_title").input("雄安新区规划纲要摘要")
    ok(at.button(key="FormSubmitter:upload-上传并加入索引").click().run())
    assert at.success and "已加入" in at.success[0].value
    table = at.dataframe[0].value
    assert "雄安新区规划纲要摘要" in set(table["标题"])

    settings = Settings.from_env()
    from assistant.services import open_retriever

    hits = open_retriever(settings).run("雄安新区蓝绿空间占比", top_k=1)
    assert "雄安" in hits[0].chunk.title

    remove = at.selectbox(key="remove_target")
    remove.select_index(next(i for i, o in enumerate(remove.options) if "雄安" in o))
    at.checkbox(key="remove_confirm").check()
    ok(at.run())
    ok(at.button(key="remove").click().run())
    assert at.success and "已移除" in at.success[0].value
    assert "雄安新区规划纲要摘要" not in set(at.dataframe[0].value["标题"])
    hits = open_retriever(Settings.from_env()).run("雄安新区蓝绿空间占比", top_k=3)
    assert all("雄安" not in h.chunk.title for h in hits)


# -- settings and escaping --------------------------------------------------------------------


def test_a_bad_setting_is_shown_in_plain_words(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANQA_BACKEND", "gpt-99")
    at = ok(run_app())
    assert at.error and "设置有误" in at.error[0].value and "gpt-99" in at.error[0].value


def test_sidebar_defaults_come_from_the_settings(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANQA_CONTEXT_CHARS", "1800")
    at = ok(run_app())
    assert at.selectbox(key="opt_backend").value == "extractive"
    assert at.slider(key="opt_context").value == 1800


def test_report_and_model_text_is_never_rendered_as_html(
    tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder, tokenizer
) -> None:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from assistant.ui import resources
    from corpus.chunking import ChunkerSettings
    from retriever import index as index_store

    # Cleaning drops tag-like text from reports; what survives it must still be shown as text.
    (tiny_corpus / "c_markup.txt").write_text(
        "第一章 安全\n公式 a < b > c 成立，x&lt;y 也成立，规划用地面积达到1200公顷。\n", encoding="utf-8"
    )
    index_dir = tmp_path / "index"
    index_store.build(tiny_corpus, index_dir, embedder, tokenizer, ChunkerSettings())
    monkeypatch.setenv("PLANQA_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("PLANQA_CORPUS_DIR", str(tiny_corpus))
    monkeypatch.setenv("PLANQA_BACKEND", "extractive")

    at = ok(run_app())
    ok(at.switch_page(SEARCH).run())
    ok(at.text_input(key="search_query").input("规划用地面积").run())
    page = html_of(at)
    assert "a &lt; b &gt; c" in page and "x&amp;lt;y" in page

    # A model that answers with markup: shown as text, never as an element.
    hostile = "<img src=x onerror=alert(1)>规划用地面积达到1200公顷<script>alert(2)</script>[1]"
    model = GenericFakeChatModel(messages=iter([AIMessage(content=hostile)]))
    monkeypatch.setattr(resources, "chat_model", lambda backend: (model, "local", "", ""))
    at = ok(run_app())
    ok(at.chat_input[0].set_value("规划用地面积达到多少公顷？").run())
    chat = html_of(at)
    assert "&lt;img src=x onerror=alert(1)&gt;" in chat and "&lt;script&gt;" in chat
    assert "<img" not in chat and "<script>" not in chat
    assert 'class="pq-cite"' in chat  # the [1] is still a real citation badge
