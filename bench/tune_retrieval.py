"""Sweep fusion settings (and optionally chunk sizes) on the dev split only; the test split stays held out.

    .venv/bin/python bench/tune_retrieval.py                      # fusion sweep on ./index
    .venv/bin/python bench/tune_retrieval.py --chunk-sizes 250 400 600   # rebuilds into temp dirs
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.settings import Settings  # noqa: E402
from corpus.chunking import ChunkerSettings  # noqa: E402
from embeddings.e5 import E5Embedder  # noqa: E402
from evals.dataset import load_questions  # noqa: E402
from evals.retrieval import evaluate, planqa_search  # noqa: E402
from retriever import index as index_store  # noqa: E402
from retriever.hybrid import HybridRetriever, RetrieverSettings  # noqa: E402
from retriever.tokenizer import ChineseTokenizer  # noqa: E402


class CachedQueries:
    """The same embedder with query vectors memoised, so a sweep embeds each question once."""

    def __init__(self, inner):
        self.inner = inner
        self.embedder_id, self.dim, self.max_query_chars = inner.embedder_id, inner.dim, inner.max_query_chars
        self._one = lru_cache(maxsize=None)(lambda text: inner.embed_queries([text])[0])

    def embed_queries(self, texts):
        import numpy as np

        return np.stack([self._one(t) for t in texts])

    def embed_passages(self, texts, progress=None):
        return self.inner.embed_passages(texts, progress)


def sweep(index_dir: Path, embedder, tokenizer, questions, grid: dict) -> list[tuple[dict, dict]]:
    loaded = index_store.load(index_dir)
    rows = []
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        settings = RetrieverSettings(**dict(zip(keys, values, strict=True)))
        retriever = HybridRetriever(loaded, embedder, tokenizer, settings)
        summary, _ = evaluate("hybrid", planqa_search(retriever, "hybrid"), questions)
        rows.append((settings.to_dict(), summary))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunk-sizes", type=int, nargs="*", default=[])
    args = parser.parse_args()
    questions = load_questions(split="dev")
    embedder = CachedQueries(E5Embedder())
    tokenizer = ChineseTokenizer()
    grid = {
        "fusion": ["rrf", "score"],
        "dense_weight": [0.0, 0.15, 0.25, 0.35, 0.5, 1.0],
        "rrf_k": [10, 60],
        "prefer_weight": [0.0, 0.3, 1.0],
    }
    targets: list[tuple[str, Path]] = []
    if args.chunk_sizes:
        tmp = Path(tempfile.mkdtemp(prefix="planqa-tune-"))
        for size in args.chunk_sizes:
            chunker = replace(ChunkerSettings(), max_chars=size, min_chars=min(80, size // 3))
            index_dir = tmp / f"idx-{size}"
            index_store.build(Settings().corpus_dir, index_dir, embedder, tokenizer, chunker)
            targets.append((f"chunk={size}", index_dir))
    else:
        targets.append(("current", Settings.from_env().index_dir))
    for label, index_dir in targets:
        rows = sweep(index_dir, embedder, tokenizer, questions, grid)
        rows.sort(key=lambda r: (-(r[1]["hit@2000"] + r[1]["rank1"]), -r[1]["mrr"]))
        print(f"== {label}: best of {len(rows)} fusion settings (dev split, n={rows[0][1]['n']})")
        for settings, s in rows[:14]:
            print(f"  hit@2000={s['hit@2000']:.3f} rank1={s['rank1']:.3f} mrr={s['mrr']:.3f}  "
                  f"{settings['fusion']} dense_w={settings['dense_weight']} rrf_k={settings['rrf_k']} "
                  f"prefer_w={settings['prefer_weight']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
