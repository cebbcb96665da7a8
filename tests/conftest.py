"""Shared fixtures: the bundled embedder once per session, a tiny corpus, the full bundled index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_CORPUS = ROOT / "corpus" / "reports"

TINY_REPORTS = {
    "a_transport.txt": (
        "第一章 交通\n"
        "轨道交通运营里程达到836公里，较上年增加29公里。\n"
        "中心城区绿色出行比例达到75.4%。\n"
        "第二章 生态\n"
        "全市森林覆盖率达到44.9%，平原地区森林覆盖率达到32.5%。\n"
        "细颗粒物年均浓度降至30微克/立方米。\n"
        "全年新增城市绿地200公顷。\n"
    ),
    "b_population.txt": (
        "一、城市规模\n"
        "2023年末全市常住人口2185.8万人，较上年末增加1.5万人。\n"
        "城乡建设用地规模持续下降。\n"
        "二、文化\n"
        "北京中轴线正式列入《世界遗产名录》，北京市拥有世界文化遗产增至8处。\n"
        "三、绿地\n"
        "全年新增城市绿地150公顷。\n"
    ),
}


@pytest.fixture(scope="session")
def embedder():
    from embeddings.e5 import E5Embedder

    return E5Embedder()


@pytest.fixture(scope="session")
def tokenizer():
    from retriever.tokenizer import ChineseTokenizer

    return ChineseTokenizer()


@pytest.fixture()
def tiny_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in TINY_REPORTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    catalog = [
        {"doc_id": "transport", "file": "a_transport.txt", "title": "交通与生态年报（2024年度）",
         "year": 2024, "kind": "checkup-report", "aliases": ["交通年报"],
         "short_title": "2024交通年报"},
        {"doc_id": "population", "file": "b_population.txt", "title": "人口与文化年报（2023年度）",
         "year": 2023, "kind": "checkup-report"},
    ]
    (corpus / "catalog.json").write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
    return corpus


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory, embedder, tokenizer) -> Path:
    """The real bundled corpus, indexed once per test session (about two minutes)."""
    from corpus.chunking import ChunkerSettings
    from retriever import index as index_store

    corpus = tmp_path_factory.mktemp("bundled") / "reports"
    shutil.copytree(BUNDLED_CORPUS, corpus)
    index_dir = corpus.parent / "index"
    index_store.build(corpus, index_dir, embedder, tokenizer, ChunkerSettings())
    return index_dir


@pytest.fixture(autouse=True)
def _no_user_settings(tmp_path_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read or write the developer's own data folder or settings file."""
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("PLANQA_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.delenv("PLANQA_CONFIG", raising=False)
    monkeypatch.delenv("PLANQA_ADMIN_PASSWORD", raising=False)
