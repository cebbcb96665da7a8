"""Two peer pipelines rebuilt from their published settings, as LangChain retrievers, to compare with.

- The LangChain RAG tutorial: raw report text, `RecursiveCharacterTextSplitter(1000, 200)`, FAISS.
- A Langchain-Chatchat knowledge base: `ChineseRecursiveTextSplitter` (chunk 750, overlap 150),
  BM25 over `jieba.lcut_for_search` tokens plus FAISS, fused by LangChain's `EnsembleRetriever`
  (weights 0.5/0.5: weighted reciprocal rank fusion, c=60), top 3, and Chatchat's default
  knowledge-base prompt (`CHATCHAT_PROMPT`) for the answer.

Both embed with the same model as PlanQA (handed in), so the difference is chunking and ranking.
Chatchat's FAISS retriever also takes a score threshold; its shipped default keeps every hit,
so none is applied here. Files are read as raw text (`corpus.reading.read_source`), no cleaning.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.messages import HumanMessage
from langchain_core.retrievers import BaseRetriever
from langchain_text_splitters import RecursiveCharacterTextSplitter

from corpus.reading import CorpusDirs, corpus_files, read_source
from embeddings.base import Embedder, ProgressFn
from embeddings.lc_adapter import LangChainEmbeddings

# Langchain-Chatchat configs/prompt_config.py, "knowledge_base_chat" → "default".
CHATCHAT_PROMPT = (
    "<指令>根据已知信息，简洁和专业的来回答问题。如果无法从中得到答案，请说 “根据已知信息无法回答该问题”，"
    "不允许在答案中添加编造成分，答案请使用中文。 </指令>\n"
    "<已知信息>{context}</已知信息>\n<问题>{question}</问题>"
)
# Chatchat's ChineseRecursiveTextSplitter: paragraphs, lines, Chinese sentence ends, English
# sentence ends, semicolons, commas; each a regular expression, the separator kept at the end.
CHATCHAT_SEPARATORS = ["\n\n", "\n", "。|！|？", r"\.\s|\!\s|\?\s", r"；|;\s", r"，|,\s"]
CHATCHAT_CHUNK_SIZE, CHATCHAT_OVERLAP = 750, 150
CHATCHAT_TOP_K = 3
TUTORIAL_CHUNK_SIZE, TUTORIAL_OVERLAP = 1000, 200


class ChineseRecursiveTextSplitter(RecursiveCharacterTextSplitter):
    """Langchain-Chatchat's splitter: LangChain's recursive splitter over Chinese separators (regular
    expressions, kept at the end of the piece they close), then each chunk stripped and its blank
    lines collapsed to one line break."""

    def __init__(
        self, chunk_size: int = CHATCHAT_CHUNK_SIZE, chunk_overlap: int = CHATCHAT_OVERLAP
    ):
        super().__init__(
            separators=CHATCHAT_SEPARATORS,
            keep_separator="end",
            is_separator_regex=True,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
        )

    def split_text(self, text: str) -> list[str]:
        return [
            re.sub(r"\n{2,}", "\n", chunk.strip())
            for chunk in super().split_text(text)
            if chunk.strip()
        ]


def report_documents(corpus_dir: CorpusDirs, hidden: Collection[str] = ()) -> list[Document]:
    """One LangChain `Document` per report file, raw text, `source` = the file name."""
    return [
        Document(page_content=read_source(path), metadata={"source": name})
        for name, path in corpus_files(corpus_dir, hidden).items()
    ]


def _faiss(chunks: Sequence[Document], embedder: Embedder, progress: ProgressFn | None = None):
    """A LangChain FAISS store of the chunks (what `FAISS.from_documents` builds), embedding
    with `progress` reported: the peers' long chunks take minutes on a CPU."""
    from langchain_community.vectorstores import FAISS

    texts = [d.page_content for d in chunks]
    vectors = embedder.embed_passages(texts, progress=progress)
    return FAISS.from_embeddings(
        list(zip(texts, vectors.tolist(), strict=True)),
        LangChainEmbeddings(embedder),
        metadatas=[d.metadata for d in chunks],
    )


def tutorial_chunks(corpus_dir: CorpusDirs, hidden: Collection[str] = ()) -> list[Document]:
    """The reports split as the LangChain tutorial splits them (1000 characters, 200 overlap)."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=TUTORIAL_CHUNK_SIZE, chunk_overlap=TUTORIAL_OVERLAP
    )
    return splitter.split_documents(report_documents(corpus_dir, hidden))


def chatchat_chunks(corpus_dir: CorpusDirs, hidden: Collection[str] = ()) -> list[Document]:
    """The reports split as Chatchat splits them (ChineseRecursiveTextSplitter, 750/150)."""
    return ChineseRecursiveTextSplitter().split_documents(report_documents(corpus_dir, hidden))


def langchain_tutorial_retriever(
    chunks: Sequence[Document],
    embedder: Embedder,
    k: int = 10,
    progress: ProgressFn | None = None,
) -> BaseRetriever:
    """The LangChain RAG tutorial's search: FAISS over `tutorial_chunks`, top k."""
    return _faiss(chunks, embedder, progress).as_retriever(search_kwargs={"k": k})


def chatchat_retriever(
    chunks: Sequence[Document],
    embedder: Embedder,
    k: int = CHATCHAT_TOP_K,
    progress: ProgressFn | None = None,
) -> BaseRetriever:
    """Chatchat's ensemble: BM25 (jieba search mode, rank_bm25 Okapi defaults) and FAISS, k each,
    fused by weighted RRF (0.5/0.5, c=60). Chatchat keeps the first `top_k` (3) of the fused list."""
    import jieba
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever

    jieba.setLogLevel(logging.WARNING)
    store = _faiss(chunks, embedder, progress)
    bm25 = BM25Retriever.from_documents(list(chunks), preprocess_func=jieba.lcut_for_search, k=k)
    dense = store.as_retriever(search_kwargs={"k": k})
    return EnsembleRetriever(retrievers=[bm25, dense], weights=[0.5, 0.5])


def with_top_k(ensemble: BaseRetriever, k: int) -> BaseRetriever:
    """The same Chatchat ensemble (same indexes, no re-embedding) asking each retriever for k."""
    from langchain_classic.retrievers import EnsembleRetriever

    bm25, dense = ensemble.retrievers  # type: ignore[attr-defined]
    return EnsembleRetriever(
        retrievers=[
            bm25.model_copy(update={"k": k}),
            dense.vectorstore.as_retriever(search_kwargs={"k": k}),
        ],
        weights=list(ensemble.weights),  # type: ignore[attr-defined]
    )


def chatchat_answer(chat_model, question: str, documents: Sequence[Document]) -> str:
    """The model's reply to Chatchat's default knowledge-base prompt over `documents`."""
    context = "\n\n".join(d.page_content for d in documents)
    prompt = CHATCHAT_PROMPT.format(context=context, question=question)
    return str(chat_model.invoke([HumanMessage(content=prompt)]).content)


def chatchat_refused(reply: str) -> bool:
    """Chatchat's prompt asks for "根据已知信息无法回答该问题" when the context does not answer."""
    return "无法回答" in reply or "未找到" in reply


def langchain_tutorial_search(corpus_dir: Path, embedder: Embedder, k: int = 10):
    """question -> passage texts, best first (the form evals.retrieval scores)."""
    retriever = langchain_tutorial_retriever(tutorial_chunks(corpus_dir), embedder, k=k)

    def search(question: str) -> list[str]:
        return [d.page_content for d in retriever.invoke(question)]

    return search
