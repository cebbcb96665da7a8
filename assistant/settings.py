"""One frozen settings object, built only at the edges (CLI, app, evals) from env and flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import corpus
from corpus.chunking import ChunkerSettings
from corpus.errors import PlanQAError
from embeddings.base import DEFAULT_EMBEDDER
from retriever.hybrid import RetrieverSettings

PACKAGE_ROOT = Path(corpus.__file__).resolve().parent.parent
DEFAULT_CORPUS_DIR = Path(corpus.__file__).resolve().parent / "reports"


def default_index_dir() -> Path:
    """`index/` in the checkout (git-ignored) when run from one, else the user's cache."""
    if (PACKAGE_ROOT / "pyproject.toml").is_file() and os.access(PACKAGE_ROOT, os.W_OK):
        return PACKAGE_ROOT / "index"
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "planqa" / "index"


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = DEFAULT_CORPUS_DIR
    index_dir: Path = field(default_factory=default_index_dir)
    embedder: str = DEFAULT_EMBEDDER
    reranker: str | None = None  # a sentence-transformers CrossEncoder path; none by default
    chunker: ChunkerSettings = field(default_factory=ChunkerSettings)
    retriever: RetrieverSettings = field(default_factory=RetrieverSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        settings = cls()
        if env.get("PLANQA_CORPUS_DIR"):
            settings = replace(settings, corpus_dir=Path(env["PLANQA_CORPUS_DIR"]).expanduser())
        if env.get("PLANQA_INDEX_DIR"):
            settings = replace(settings, index_dir=Path(env["PLANQA_INDEX_DIR"]).expanduser())
        if env.get("PLANQA_EMBEDDER"):
            settings = replace(settings, embedder=env["PLANQA_EMBEDDER"])
        if env.get("PLANQA_RERANKER"):
            settings = replace(settings, reranker=env["PLANQA_RERANKER"])
        if env.get("PLANQA_CHUNK_SIZE"):
            raw = env["PLANQA_CHUNK_SIZE"]
            try:
                chunker = replace(settings.chunker, max_chars=int(raw))
            except ValueError as exc:
                raise PlanQAError(
                    f"PLANQA_CHUNK_SIZE must be a whole number of characters (e.g. 400), got {raw!r}."
                ) from exc
            settings = replace(settings, chunker=chunker)
        return settings

    def with_overrides(self, **changes: object) -> Settings:
        clean = {k: v for k, v in changes.items() if v is not None}
        for key in ("corpus_dir", "index_dir"):
            if key in clean:
                clean[key] = Path(str(clean[key])).expanduser()
        return replace(self, **clean)  # type: ignore[arg-type]
