"""LangChain `BaseRetriever` over PlanQA's hybrid search, returning `Document`s with chunk metadata."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from retriever.filters import ReportFilter
from retriever.hybrid import HybridRetriever
from retriever.models import Hit


def hit_to_document(hit: Hit) -> Document:
    data = hit.to_dict()
    text = data.pop("text")
    data["section_path"] = list(hit.chunk.section)
    data["char_start"] = hit.chunk.char_start
    data["char_end"] = hit.chunk.char_end
    data["year"] = hit.chunk.year
    data["kind"] = hit.chunk.kind
    return Document(page_content=text, metadata=data, id=hit.chunk.chunk_id)


class PlanQARetriever(BaseRetriever):
    """Thin adapter: `invoke(question)` -> the same hits `planqa search` shows, as Documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: HybridRetriever
    k: int = 5
    mode: str | None = None
    filters: ReportFilter | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        hits = self.retriever.run(
            query, top_k=kwargs.get("k", self.k), mode=self.mode, filters=self.filters
        )
        return [hit_to_document(h) for h in hits]
