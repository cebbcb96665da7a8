"""The peer pipelines rebuilt for comparison: Chatchat's splitter and the two retrievers."""

from __future__ import annotations

from evals.baselines import (
    CHATCHAT_PROMPT,
    ChineseRecursiveTextSplitter,
    chatchat_chunks,
    chatchat_refused,
    chatchat_retriever,
    langchain_tutorial_retriever,
    tutorial_chunks,
    with_top_k,
)

TEXT = (
    "第一章 总体要求\n\n"
    "到2035年，京津冀世界级城市群的构架基本形成。区域一体化格局基本形成！生态环境质量明显改善。\n\n\n"
    "第二章 空间布局\n"
    "构建一核两翼，双城多点的格局；推动北京非首都功能疏解，提升副中心的承载能力。"
)


def test_chatchat_splitter_keeps_sentence_ends_and_collapses_blank_lines():
    chunks = ChineseRecursiveTextSplitter(chunk_size=30, chunk_overlap=0).split_text(TEXT)
    assert all(len(c) <= 30 for c in chunks), chunks
    # separators stay at the end of the piece they close, never open the next one
    assert not any(c[0] in "。！？；，" for c in chunks)
    assert "区域一体化格局基本形成！生态环境质量明显改善。" in chunks  # merged up to the size
    assert "构建一核两翼，双城多点的格局；" in chunks  # a long line split at its semicolon
    assert all("\n\n" not in c and c == c.strip() for c in chunks)
    # nothing lost: without overlap the chunks are the text, less whitespace
    assert "".join("".join(chunks).split()) == "".join(TEXT.split())


def test_chatchat_splitter_defaults_are_chatchats():
    splitter = ChineseRecursiveTextSplitter()
    assert (splitter._chunk_size, splitter._chunk_overlap) == (750, 150)
    assert "{context}" in CHATCHAT_PROMPT and "{question}" in CHATCHAT_PROMPT


def test_chatchat_refusal_phrase():
    assert chatchat_refused("根据已知信息无法回答该问题")
    assert not chatchat_refused("2023年末全市常住人口2185.8万人。")


def test_both_peers_retrieve_from_a_tiny_corpus(tiny_corpus, embedder):
    tutorial = langchain_tutorial_retriever(tutorial_chunks(tiny_corpus), embedder, k=2)
    docs = tutorial.invoke("北京常住人口是多少")
    assert len(docs) == 2 and docs[0].metadata["source"] in {"a_transport.txt", "b_population.txt"}

    chunks = chatchat_chunks(tiny_corpus)
    assert {c.metadata["source"] for c in chunks} == {"a_transport.txt", "b_population.txt"}
    ensemble = chatchat_retriever(chunks, embedder, k=10)
    top = ensemble.invoke("常住人口")
    assert "2185.8万人" in top[0].page_content  # BM25 and dense agree on the population report
    assert len(with_top_k(ensemble, 1).invoke("常住人口")) <= 2  # one from each retriever
