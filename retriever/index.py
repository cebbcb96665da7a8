"""The on-disk index: chunks (JSON Lines), FAISS vectors, BM25 postings and a manifest, built
incrementally and swapped in atomically so an interrupted build never breaks the last one."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from corpus.chunking import ChunkerSettings, chunk_report
from corpus.errors import IndexMissingError
from corpus.models import CatalogEntry, Chunk, Report
from corpus.reading import CorpusDirs, corpus_files, corpus_folders, load_reports, sha256_file
from corpus.sentences import sentence_texts
from embeddings.base import Embedder, ProgressFn
from embeddings.vector_index import all_vectors, build_flat_ip, load_index, save_index
from retriever.bm25 import BM25Index
from retriever.sentence_vectors import SentenceVectors
from retriever.tokenizer import TOKENIZER_VERSION, ChineseTokenizer

SCHEMA_VERSION = 3  # 2: dense vectors embed the chunk text alone; 3: sentence vectors
CURRENT_FILE = "CURRENT"
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
VECTORS = "dense.faiss"
BM25_FILE = "bm25.json"

_RUN_INDEX = "Run `planqa index` to build it."


def dense_text(chunk: Chunk) -> str:
    """What the embedder sees: the passage alone. Measured on the dev split, adding the title and
    headings diluted the small e5 model's vectors (dense rank-1 52.6% -> 60.5% without them)."""
    return chunk.text


def indexed_text(chunk: Chunk) -> str:
    """What BM25 sees: title and section path with the text, so "交通" finds chunks under a
    交通 heading and "2023年度读本" finds that report's chunks."""
    if chunk.section:
        return f"{chunk.title} {' '.join(chunk.section)}\n{chunk.text}"
    return f"{chunk.title}\n{chunk.text}"


@dataclass(frozen=True)
class SourceState:
    file: str
    sha256: str
    doc_id: str
    title: str
    n_chunks: int


@dataclass(frozen=True)
class Manifest:
    schema_version: int
    created_at: float
    embedder_id: str
    dim: int
    chunker: dict
    tokenizer: str
    sources: tuple[SourceState, ...]
    catalog: tuple[CatalogEntry, ...] = ()

    def to_dict(self) -> dict:
        return {
            "schema_version": self.schema_version,
            "created_at": self.created_at,
            "embedder": {"id": self.embedder_id, "dim": self.dim},
            "chunker": self.chunker,
            "tokenizer": self.tokenizer,
            "sources": [s.__dict__ for s in self.sources],
            "catalog": [{**e.__dict__, "aliases": list(e.aliases)} for e in self.catalog],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        return cls(
            schema_version=int(data["schema_version"]),
            created_at=float(data["created_at"]),
            embedder_id=str(data["embedder"]["id"]),
            dim=int(data["embedder"]["dim"]),
            chunker=dict(data["chunker"]),
            tokenizer=str(data["tokenizer"]),
            sources=tuple(SourceState(**s) for s in data["sources"]),
            catalog=tuple(
                CatalogEntry(**{**e, "aliases": tuple(e.get("aliases", ()))})
                for e in data.get("catalog", [])
            ),
        )

    def compatible(self, embedder_id: str, chunker: dict) -> bool:
        return (
            self.schema_version == SCHEMA_VERSION
            and self.embedder_id == embedder_id
            and self.chunker == chunker
            and self.tokenizer == TOKENIZER_VERSION
        )


@dataclass
class LoadedIndex:
    """Everything a search needs, loaded once per process."""

    path: Path
    manifest: Manifest
    chunks: list[Chunk]
    vectors: faiss.Index
    bm25: BM25Index
    # every sentence of the chunks, embedded (`retriever.sentence_vectors`)
    sentences: SentenceVectors
    size_bytes: int = 0

    @property
    def catalog(self) -> tuple[CatalogEntry, ...]:
        return self.manifest.catalog


@dataclass
class BuildSummary:
    index_dir: Path
    unchanged: bool
    reports: int
    chunks: int
    embedded_chunks: int
    embedded_sentences: int = 0
    reused_reports: list[str] = field(default_factory=list)
    rebuilt_reports: list[str] = field(default_factory=list)
    removed_reports: list[str] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    full_rebuild_reason: str = ""
    seconds: float = 0.0


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT_FILE
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    if not name or "/" in name or name.startswith("."):
        return None
    return index_dir / name


def _read_manifest(gen_dir: Path) -> Manifest:
    with open(gen_dir / MANIFEST, encoding="utf-8") as fh:
        return Manifest.from_dict(json.load(fh))


def load(index_dir: Path) -> LoadedIndex:
    """Open the current index; any problem is one IndexMissingError telling the user what to run."""
    index_dir = Path(index_dir)
    gen = current_generation(index_dir)
    if gen is None or not gen.is_dir():
        raise IndexMissingError(f"No search index found at {index_dir}. {_RUN_INDEX}")
    try:
        manifest = _read_manifest(gen)
        if manifest.schema_version != SCHEMA_VERSION:
            raise IndexMissingError(
                f"The index at {index_dir} was built by another version of PlanQA. {_RUN_INDEX}"
            )
        with open(gen / CHUNKS, encoding="utf-8") as fh:
            chunks = [Chunk.from_dict(json.loads(line)) for line in fh if line.strip()]
        vectors = load_index(gen / VECTORS)
        bm25 = BM25Index.load(gen / BM25_FILE)
        sentences = SentenceVectors.load(gen)
    except IndexMissingError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexMissingError(
            f"The index at {index_dir} is damaged or incomplete ({type(exc).__name__}). "
            f"{_RUN_INDEX}"
        ) from exc
    expected = sum(s.n_chunks for s in manifest.sources)
    if (
        not (len(chunks) == vectors.ntotal == bm25.n_docs == expected)
        or vectors.d != manifest.dim
        or sentences.dim != manifest.dim
    ):
        raise IndexMissingError(
            f"The index at {index_dir} is damaged (its parts disagree in size). {_RUN_INDEX}"
        )
    size = sum(p.stat().st_size for p in gen.iterdir() if p.is_file())
    return LoadedIndex(gen, manifest, chunks, vectors, bm25, sentences, size)


def stale_reason(
    loaded: LoadedIndex,
    corpus_dir: CorpusDirs,
    embedder_id: str | None = None,
    *,
    hidden: Collection[str] = (),
) -> str:
    """Why the index no longer matches the corpus folder(s) (or the chosen embedder); '' when it
    does. `hidden` file names count as not in the corpus."""
    if embedder_id is not None and embedder_id != loaded.manifest.embedder_id:
        return f"it was built with embedder {loaded.manifest.embedder_id}, not {embedder_id}"
    if loaded.manifest.tokenizer != TOKENIZER_VERSION:
        # its BM25 terms were cut another way than a question's are now
        return f"it was built with tokenizer {loaded.manifest.tokenizer}, not {TOKENIZER_VERSION}"
    indexed = {s.file: s.sha256 for s in loaded.manifest.sources}
    if not all(folder.is_dir() for folder in corpus_folders(corpus_dir)):
        return ""  # searching a built index does not need the sources
    present = corpus_files(corpus_dir, hidden)
    for name, sha in indexed.items():
        if name not in present:
            return f"{name} was removed from the corpus"
        if sha256_file(present[name]) != sha:
            return f"{name} changed since the index was built"
    new = sorted(set(present) - set(indexed))
    if new:
        return f"{new[0]} is new in the corpus"
    return ""


def current_manifest(index_dir: Path) -> Manifest | None:
    """The manifest of the current index without loading the rest; None when there is no
    readable one."""
    gen = current_generation(Path(index_dir))
    if gen is None or not gen.is_dir():
        return None
    try:
        return _read_manifest(gen)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _try_previous(
    index_dir: Path,
) -> tuple[Manifest, list[Chunk], np.ndarray, SentenceVectors] | None:
    try:
        loaded = load(index_dir)
    except IndexMissingError:
        return None
    return loaded.manifest, loaded.chunks, all_vectors(loaded.vectors), loaded.sentences


def build(
    corpus_dir: CorpusDirs,
    index_dir: Path,
    embedder: Embedder,
    tokenizer: ChineseTokenizer,
    chunker: ChunkerSettings,
    *,
    warn: Callable[[str], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
    progress: ProgressFn | None = None,
    force: bool = False,
    hidden: Collection[str] = (),
) -> BuildSummary:
    """Build or update the index. Only reports whose bytes changed are re-chunked and re-embedded.

    `on_plan(n)` is told how many texts (chunks, then their sentences not embedded before) will
    be embedded before embedding starts, `progress(k)` after every batch. Nothing is written
    until all embedding is done.
    `corpus_dir` is one folder or several; `hidden` file names are left out of the index.
    """
    started = time.perf_counter()
    index_dir = Path(index_dir)
    skipped: list[str] = []

    def _warn(message: str) -> None:
        skipped.append(message)
        if warn is not None:
            warn(message)

    reports = load_reports(corpus_dir, warn=_warn, hidden=hidden)
    chunker_dict = chunker.to_dict()
    previous = None if force else _try_previous(index_dir)
    reason = ""
    if force:
        reason = "forced"
    elif previous is None:
        reason = "no usable previous index"
    elif not previous[0].compatible(embedder.embedder_id, chunker_dict):
        reason = "embedder, chunker or index format changed"
        previous = None

    old_by_file: dict[str, tuple[SourceState, list[Chunk], np.ndarray]] = {}
    if previous is not None:
        manifest, old_chunks, old_vectors, _ = previous
        row = 0
        for source in manifest.sources:
            rows = slice(row, row + source.n_chunks)
            old_by_file[source.file] = (source, old_chunks[rows], old_vectors[rows])
            row += source.n_chunks

    catalog = tuple(r.entry for r in reports)
    plan: list[tuple[Report, list[Chunk] | None, np.ndarray | None]] = []
    reused, rebuilt = [], []
    for report in reports:
        name = Path(report.source_path).name
        old = old_by_file.get(name)
        if (
            old is not None
            and old[0].sha256 == report.sha256
            and old[0].doc_id == report.entry.doc_id
        ):
            plan.append((report, old[1], old[2]))
            reused.append(name)
        else:
            plan.append((report, None, None))
            rebuilt.append(name)
    removed = sorted(set(old_by_file) - {Path(r.source_path).name for r in reports})
    catalog_changed = previous is not None and tuple(previous[0].catalog) != catalog
    if previous is not None and not rebuilt and not removed and not catalog_changed:
        return BuildSummary(
            index_dir,
            True,
            len(reports),
            sum(len(p[1] or []) for p in plan),
            0,
            reused_reports=reused,
            skipped_files=skipped,
            seconds=time.perf_counter() - started,
        )

    # Chunk the changed reports first so the progress bar knows the whole amount of work.
    new_chunks: dict[int, list[Chunk]] = {}
    for i, (report, old_chunks, _) in enumerate(plan):
        if old_chunks is None:
            new_chunks[i] = chunk_report(report, chunker)
    total_new = sum(len(c) for c in new_chunks.values())
    old_sentences = previous[3] if previous is not None else None
    # Every sentence of the new index; those the previous one holds (an unchanged report's, a
    # changed report's unchanged lines) are reused, the others embedded after the chunks.
    sentence_list = list(
        dict.fromkeys(
            s
            for i, (_, old_chunks, _) in enumerate(plan)
            for c in (old_chunks if old_chunks is not None else new_chunks[i])
            for s in sentence_texts(c.text)
        )
    )
    unseen = [s for s in sentence_list if old_sentences is None or s not in old_sentences]
    if on_plan is not None:
        on_plan(total_new + len(unseen))

    all_chunks: list[Chunk] = []
    vector_parts: list[np.ndarray] = []
    sources: list[SourceState] = []
    for i, (report, old_chunks, old_vecs) in enumerate(plan):
        if old_chunks is None:
            chunks = new_chunks[i]
            vecs = embedder.embed_passages([dense_text(c) for c in chunks], progress=progress)
        else:
            # Catalog edits (title, year) are applied without re-embedding.
            chunks = [_with_entry(c, report.entry) for c in old_chunks]
            vecs = old_vecs
        all_chunks.extend(chunks)
        vector_parts.append(np.asarray(vecs, dtype=np.float32).reshape(-1, embedder.dim))
        sources.append(
            SourceState(
                file=Path(report.source_path).name,
                sha256=report.sha256,
                doc_id=report.entry.doc_id,
                title=report.entry.title,
                n_chunks=len(chunks),
            )
        )
    vectors = (
        np.concatenate(vector_parts) if vector_parts else np.zeros((0, embedder.dim), np.float32)
    )
    bm25 = BM25Index.build([tokenizer.tokenize(indexed_text(c)) for c in all_chunks])
    sentences = SentenceVectors.build(sentence_list, unseen, embedder, old_sentences, progress)
    manifest = Manifest(
        schema_version=SCHEMA_VERSION,
        created_at=time.time(),
        embedder_id=embedder.embedder_id,
        dim=embedder.dim,
        chunker=chunker_dict,
        tokenizer=TOKENIZER_VERSION,
        sources=tuple(sources),
        catalog=catalog,
    )
    _write_generation(
        index_dir, manifest, all_chunks, build_flat_ip(vectors, embedder.dim), bm25, sentences
    )
    return BuildSummary(
        index_dir,
        False,
        len(reports),
        len(all_chunks),
        total_new,
        embedded_sentences=len(unseen),
        reused_reports=reused,
        rebuilt_reports=rebuilt,
        removed_reports=removed,
        skipped_files=skipped,
        full_rebuild_reason=reason,
        seconds=time.perf_counter() - started,
    )


def _with_entry(chunk: Chunk, entry: CatalogEntry) -> Chunk:
    if (chunk.doc_id, chunk.title, chunk.year, chunk.kind) == (
        entry.doc_id,
        entry.title,
        entry.year,
        entry.kind,
    ):
        return chunk
    data = chunk.to_dict()
    data.update(title=entry.title, year=entry.year, kind=entry.kind)
    return Chunk.from_dict(data)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_generation(
    index_dir: Path,
    manifest: Manifest,
    chunks: list[Chunk],
    vectors: faiss.Index,
    bm25: BM25Index,
    sentences: SentenceVectors,
) -> Path:
    """Write a complete new generation, then flip CURRENT to it with one atomic rename."""
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    staging = index_dir / f".{name}.partial"
    staging.mkdir()
    try:
        with open(staging / CHUNKS, "w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        save_index(vectors, staging / VECTORS)
        bm25.save(staging / BM25_FILE)
        sentences.save(staging)
        # The manifest is written last: a generation without one is never valid.
        with open(staging / MANIFEST, "w", encoding="utf-8") as fh:
            json.dump(manifest.to_dict(), fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        final = index_dir / name
        os.replace(staging, final)
        pointer_tmp = index_dir / f".{CURRENT_FILE}.{uuid.uuid4().hex[:6]}.tmp"
        pointer_tmp.write_text(name + "\n", encoding="utf-8")
        with open(pointer_tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(pointer_tmp, index_dir / CURRENT_FILE)
        _fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remove_old_generations(index_dir, keep=name)
    return final


def _remove_old_generations(index_dir: Path, keep: str) -> None:
    for entry in index_dir.iterdir():
        if entry.name == keep or entry.name == CURRENT_FILE:
            continue
        if entry.is_dir() and (entry.name.startswith("gen-") or entry.name.endswith(".partial")):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.is_file() and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)
