"""`planqa eval`: run a question file through PlanQA (or a peer pipeline), score every question,
and write results.jsonl, metrics.json and the reports (see evals/report.py)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from assistant.settings import Settings
from corpus.errors import BadQueryError
from evals import metrics
from evals.dataset import DEFAULT_PATH, EvalQuestion, load_questions
from retriever.filters import ReportFilter, named_reports
from retriever.hybrid import HybridRetriever
from retriever.models import Hit

MODES = ("bm25", "dense", "hybrid", "hybrid+filters")
SPLITS = ("dev", "test", "all")
# Passages fetched per question: the first 10 are ranked (hit@k, MRR, nDCG); more are kept only
# while the text is shorter than the largest context budget (PlanQA's chunks average ~300
# characters, so 20 fill 4,000).
SEARCH_DEPTH = 20
RUNS_DIR = Path(__file__).resolve().parent / "runs"

SearchFn = Callable[[str], tuple[list[dict], dict]]  # question -> (passage records, extra fields)
AskFn = Callable[[EvalQuestion], dict]  # question -> an `Answer.to_dict()`-shaped record


@dataclass(frozen=True)
class EvalOptions:
    """What `planqa eval` was asked to do."""

    qa: Path | None = None
    split: str = "dev"
    mode: str = "hybrid"
    backend: str | None = None
    retrieval_only: bool = False
    out: Path | None = None
    compare: bool = False
    limit: int = 0
    quiet: bool = False
    conversations: Path | None = None  # score the follow-ups of this conversation file instead

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise BadQueryError(f"Unknown --split {self.split!r}; use one of {', '.join(SPLITS)}.")
        if self.mode not in MODES:
            raise BadQueryError(f"Unknown --mode {self.mode!r}; use one of {', '.join(MODES)}.")
        if self.limit < 0:
            raise BadQueryError(f"--limit must be 0 (all) or a positive number, got {self.limit}.")
        if self.conversations is not None and (self.compare or self.retrieval_only):
            raise BadQueryError(
                "--conversations asks each conversation's turns in order and scores the answer to "
                "its follow-up; it cannot be combined with --compare or --retrieval-only."
            )

    @property
    def qa_path(self) -> Path:
        return self.qa if self.qa is not None else DEFAULT_PATH


@dataclass
class SystemRun:
    """One system over the questions: its per-question records and their summary."""

    name: str
    kind: str  # "retrieval" (search only) or "answers"
    records: list[dict]
    metrics: dict = field(default_factory=dict)
    wall_s: float = 0.0
    settings: dict = field(default_factory=dict)  # how the system was set up, for the report


# ---------------------------------------------------------------- questions


def _read_plainly(kind: str, path: Path, flag: str, read: Callable[[], list]) -> list:
    """`read()` of a benchmark file, its faults as plain errors naming the file and `flag`."""
    try:
        return read()
    except FileNotFoundError:
        raise BadQueryError(f"The {kind} file {path} does not exist; check {flag}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadQueryError(f"Cannot read the {kind} file {path}: {exc}.") from None
    except ValueError as exc:
        raise BadQueryError(
            f"The {kind} file {path} is not valid: {exc}. See evals/README.md for the format."
        ) from None


def load_eval_questions(path: Path, split: str, limit: int = 0) -> list[EvalQuestion]:
    """The questions of `split` ("all" for both); a missing or malformed file is a plain error."""
    questions = _read_plainly(
        "question", path, "--qa", lambda: load_questions(path, None if split == "all" else split)
    )
    if not questions:
        raise BadQueryError(f"The question file {path} has no questions in split {split!r}.")
    return questions[:limit] if limit else questions


def load_follow_ups(options: EvalOptions) -> tuple[list[EvalQuestion], list]:
    """The follow-up questions of `options.conversations` in `options.split`, each scored as the
    QA item it names, and their conversations; bad files are plain errors."""
    from evals.conversations import follow_up_questions, load_conversations

    by_id = {q.id: q for q in load_eval_questions(options.qa_path, "all")}
    path = options.conversations
    split = None if options.split == "all" else options.split
    conversations = _read_plainly(
        "conversation", path, "--conversations", lambda: load_conversations(path, by_id, split)
    )
    if options.limit:
        conversations = conversations[: options.limit]
    if not conversations:
        raise BadQueryError(
            f"The conversation file {path} has no conversations in split {options.split!r}."
        )
    return follow_up_questions(conversations, by_id), conversations


def report_of(question: EvalQuestion, doc_ids: dict[str, str]) -> str:
    """The report a question is about (its doc_id), "cross-report" or "unanswerable"."""
    if question.doc is None:
        return "unanswerable"
    if not isinstance(question.doc, str):
        return "cross-report"
    return doc_ids.get(question.doc, question.doc)


def question_fields(question: EvalQuestion, report: str) -> dict:
    """The benchmark's facts about a question, added to every result record."""
    fields = {
        "id": question.id,
        "question": question.question,
        "type": question.type,
        "difficulty": question.difficulty,
        "split": question.split,
        "report": report,
        "expected": list(question.answers),
        "match": question.match,
        "doc": list(question.doc) if isinstance(question.doc, tuple) else question.doc,
        "evidence": list(question.evidence),
    }
    absent = getattr(question, "absent", ())
    if absent:  # patterns that would reveal an answer to an unanswerable question
        fields["absent"] = list(absent)
    return fields


# ---------------------------------------------------------------- PlanQA retrieval


class NamedReportRetriever(HybridRetriever):
    """Hybrid search restricted to the report(s) a question names ("2023年度读本里…"): a hard filter
    where the plain retriever only prefers them. Questions that name none search everything."""

    def run(
        self,
        query: str,
        top_k: int | None = None,
        mode: str | None = None,
        filters: ReportFilter | None = None,
        prefer_named: bool = True,
    ) -> list[Hit]:
        if (filters is None or filters.is_empty) and isinstance(query, str):
            named = named_reports(query, self.index.catalog)
            if named:
                return super().run(
                    query, top_k, mode, ReportFilter(doc_ids=named), prefer_named=False
                )
        return super().run(query, top_k, mode, filters, prefer_named)


def retriever_for_mode(base: HybridRetriever, mode: str) -> HybridRetriever:
    """The same index and models, searching in `mode` (one of MODES) by default."""
    search_mode = "hybrid" if mode == "hybrid+filters" else mode
    cls = NamedReportRetriever if mode == "hybrid+filters" else HybridRetriever
    return cls(
        base.index,
        base.embedder,
        base.tokenizer,
        settings=replace(base.settings, mode=search_mode),
        reranker=base.reranker,
    )


def _keep_for_budget(passages: list[dict], budget: int = max(metrics.BUDGETS)) -> list[dict]:
    """The first RANK_DEPTH passages, and more while their text is shorter than `budget`."""
    kept, chars = [], 0
    for p in passages:
        if len(kept) >= metrics.RANK_DEPTH and chars >= budget:
            break
        kept.append(p)
        chars += len(p["text"])
    return kept


def planqa_search(retriever: HybridRetriever, mode: str) -> SearchFn:
    """Search records (`Hit.to_dict()`, as `planqa search --json` prints) of one PlanQA mode."""
    searcher = retriever_for_mode(retriever, mode)

    def search(question: str) -> tuple[list[dict], dict]:
        hits = searcher.run(question, top_k=SEARCH_DEPTH)
        extra: dict = {"mode": mode}
        if mode == "hybrid+filters":
            extra["filter_reports"] = sorted(named_reports(question, searcher.index.catalog))
        return _keep_for_budget([h.to_dict() for h in hits]), extra

    return search


def langchain_search(lc_retriever, doc_ids: dict[str, str]) -> SearchFn:
    """Search records of a LangChain retriever (a baseline): rank, doc_id, title, text."""

    def search(question: str) -> tuple[list[dict], dict]:
        docs = lc_retriever.invoke(question)
        records = [
            {
                "rank": rank,
                "doc_id": doc_ids.get(d.metadata.get("source", ""), d.metadata.get("source")),
                "title": d.metadata.get("source", ""),
                "text": d.page_content,
            }
            for rank, d in enumerate(docs, start=1)
        ]
        return _keep_for_budget(records), {}

    return search


# ---------------------------------------------------------------- running


def _bar(items: Sequence, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="q", file=sys.stderr, disable=quiet)


@contextmanager
def _progress(total: int, desc: str, quiet: bool):
    """A progress callback (n items done) drawn as a bar on stderr."""
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit="chunk", file=sys.stderr, disable=quiet) as bar:
        yield bar.update


def _timed_search(search: SearchFn, question: str) -> tuple[list[dict], dict, float]:
    started = time.perf_counter()
    passages, extra = search(question)
    return passages, extra, (time.perf_counter() - started) * 1000


def run_retrieval(
    name: str,
    questions: Sequence[EvalQuestion],
    search: SearchFn,
    doc_ids: dict[str, str],
    quiet: bool = False,
    settings: dict | None = None,
) -> SystemRun:
    """Search every question; score the passages of the answerable ones."""
    started = time.perf_counter()
    search("北京")  # warm-up: models load on the first query, which is not timed
    records = []
    for q in _bar(questions, name, quiet):
        passages, extra, ms = _timed_search(search, q.question)
        record = question_fields(q, report_of(q, doc_ids))
        record.update(extra)
        record["retrieved"] = passages
        record["timings_ms"] = {"retrieve": round(ms, 1)}
        record["scores"] = {
            "retrieval": _retrieval_scores(q, passages),
            "answer": None,
        }
        records.append(record)
    return _finish(name, "retrieval", records, started, settings)


def run_answers(
    name: str,
    questions: Sequence[EvalQuestion],
    ask: AskFn,
    doc_ids: dict[str, str],
    search: SearchFn | None = None,
    quiet: bool = False,
    settings: dict | None = None,
) -> SystemRun:
    """Ask every question; score the answer, and (with `search`) the retrieval of the same system."""
    started = time.perf_counter()
    if search is not None:
        search("北京")  # warm-up
    records = []
    for q in _bar(questions, name, quiet):
        answer = ask(q)
        record = {**answer, **question_fields(q, report_of(q, doc_ids))}
        record["question"] = answer.get("question", q.question)
        retrieval = None
        if search is not None:
            passages, _, _ = _timed_search(search, q.question)
            retrieval = _retrieval_scores(q, passages)
        record["scores"] = {
            "retrieval": retrieval,
            "answer": metrics.score_answer(q.answers, q.match, q.evidence, q.answerable, answer),
        }
        records.append(record)
    return _finish(name, "answers", records, started, settings)


def _retrieval_scores(q: EvalQuestion, passages: list[dict]) -> dict | None:
    if not q.answerable:
        return None
    return metrics.score_retrieval([p["text"] for p in passages], q.evidence)


def _finish(name, kind, records, started, settings) -> SystemRun:
    run = SystemRun(name, kind, records, settings=settings or {})
    run.wall_s = time.perf_counter() - started
    run.metrics = summarise_run(records, kind)
    run.metrics["wall_s"] = round(run.wall_s, 2)
    return run


def _group(records: Sequence[dict], key: str, kind: str) -> dict:
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(str(r[key]), []).append(r)
    out = {}
    for value, rows in sorted(groups.items()):
        retrieval = [r["scores"]["retrieval"] for r in rows if r["scores"]["retrieval"]]
        entry: dict = {
            "n": len(rows),
            "hit@1": metrics.rate(s["hit@1"] for s in retrieval),
            "hit@5": metrics.rate(s["hit@5"] for s in retrieval),
        }
        if kind == "answers":
            entry["accuracy"] = metrics.rate(r["scores"]["answer"]["right"] for r in rows)
        out[value] = entry
    return out


def summarise_run(records: Sequence[dict], kind: str) -> dict:
    """metrics.json of one system: retrieval, answers, latency, and by type / report / difficulty.

    In `by_*`, `accuracy` counts an answerable question right when answered correctly and an
    unanswerable one when refused; `hit@k` is over the answerable questions of the group.
    """
    retrieval = [r["scores"]["retrieval"] for r in records if r["scores"]["retrieval"]]
    answers = [r["scores"]["answer"] for r in records if r["scores"]["answer"]]
    answerable = sum(r["type"] != "unanswerable" for r in records)
    return {
        "n_questions": len(records),
        "n_answerable": answerable,
        "n_unanswerable": len(records) - answerable,
        "retrieval": metrics.summarise_retrieval(retrieval) if retrieval else None,
        "answers": metrics.summarise_answers(answers) if kind == "answers" else None,
        "latency_ms": metrics.summarise_latency([r.get("timings_ms", {}) for r in records]),
        "by_type": _group(records, "type", kind),
        "by_report": _group(records, "report", kind),
        "by_difficulty": _group(records, "difficulty", kind),
    }


def is_failure(record: dict) -> bool:
    """An answer run fails a question it gets wrong (or does not refuse); a search run one whose
    evidence is not in its first 5 passages."""
    answer = record["scores"]["answer"]
    if answer is not None:
        return not answer["right"]
    retrieval = record["scores"]["retrieval"]
    return retrieval is not None and not retrieval["hit@5"]


# ---------------------------------------------------------------- the systems


def planqa_ask(chain) -> AskFn:
    def ask(q: EvalQuestion) -> dict:
        return chain.ask(q.question, qid=q.id).to_dict()

    return ask


def chatchat_ask(lc_retriever, chat_model, backend: str, doc_ids: dict[str, str]) -> AskFn:
    """Chatchat's knowledge-base chat: top 3 of its ensemble, its default prompt, the same model."""
    from evals.baselines import CHATCHAT_TOP_K, chatchat_answer, chatchat_refused

    def ask(q: EvalQuestion) -> dict:
        started = time.perf_counter()
        docs = lc_retriever.invoke(q.question)[:CHATCHAT_TOP_K]
        retrieved_at = time.perf_counter()
        reply = chatchat_answer(chat_model, q.question, docs).strip()
        done = time.perf_counter()
        return {
            "id": q.id,
            "question": q.question,
            "answer": reply,
            "refused": chatchat_refused(reply),
            "grounded": None,  # Chatchat neither cites nor checks its answers
            "citations": [],
            "retrieved": [
                {
                    "doc_id": doc_ids.get(d.metadata.get("source", ""), d.metadata.get("source")),
                    "title": d.metadata.get("source", ""),
                    "text": d.page_content,
                }
                for d in docs
            ],
            "backend": backend,
            "timings_ms": {
                "retrieve": round((retrieved_at - started) * 1000, 1),
                "generate": round((done - retrieved_at) * 1000, 1),
                "total": round((done - started) * 1000, 1),
            },
        }

    return ask


def _doc_ids(retriever: HybridRetriever) -> dict[str, str]:
    return {entry.file: entry.doc_id for entry in retriever.index.catalog}


def _with_backend(settings: Settings, backend: str) -> Settings:
    return replace(settings, answer=replace(settings.answer, backend=backend))


def _open_chain(settings: Settings, retriever: HybridRetriever, backend: str):
    from assistant.services import open_chain

    chain, notice, _ = open_chain(_with_backend(settings, backend), retriever=retriever)
    if notice:
        print(f"planqa: {notice}", file=sys.stderr)
    return chain


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def run_single(
    options: EvalOptions,
    settings: Settings,
    base: HybridRetriever,
    questions: Sequence[EvalQuestion],
) -> SystemRun:
    """One system: PlanQA in `options.mode`, search only or answering with the chosen backend."""
    doc_ids = _doc_ids(base)
    search = planqa_search(base, options.mode)
    if options.retrieval_only:
        return run_retrieval(
            f"planqa-{options.mode}",
            questions,
            search,
            doc_ids,
            options.quiet,
            settings={"mode": options.mode, "search_depth": SEARCH_DEPTH},
        )
    backend = options.backend or settings.answer.backend
    chain = _open_chain(settings, retriever_for_mode(base, options.mode), backend)
    run = run_answers(
        f"planqa-{chain.backend}",
        questions,
        planqa_ask(chain),
        doc_ids,
        search,
        options.quiet,
        settings={"mode": options.mode, "backend": chain.backend, "requested_backend": backend},
    )
    _note_replay(run, chain.chat_model)
    return run


def _replayed(chat_model) -> dict | None:
    """The summary so far of `chat_model`'s replay file (PLANQA_REPLAY_FILE); None without one."""
    replay = getattr(chat_model, "replay", None)
    return None if replay is None else replay.summary()


def _note_replay(run: SystemRun, chat_model, since: dict | None = None) -> None:
    """Name the replay file (PLANQA_REPLAY_FILE) in the results: its latencies are not real.
    `since`: `_replayed` before the run, when the model answered other runs first (`run_compare`)."""
    replay = getattr(chat_model, "replay", None)
    if replay is None:
        return
    summary = run.settings["replay"] = replay.summary(since)
    print(
        f"planqa: {summary['hits']} model replies replayed from {replay.path} "
        f"({summary['misses']} generated) for {run.name}; latency figures of this run are not real.",
        file=sys.stderr,
    )


def run_follow_ups(
    options: EvalOptions,
    settings: Settings,
    base: HybridRetriever,
    questions: Sequence[EvalQuestion],
    conversations: Sequence,
) -> SystemRun:
    """PlanQA answering each conversation's follow-up after its earlier turns; retrieval is
    scored on the follow-up's rewrite (the standalone question the chain searched with)."""
    from evals.conversations import conversation_ask

    backend = options.backend or settings.answer.backend
    chain = _open_chain(settings, retriever_for_mode(base, options.mode), backend)
    ask, standalone = conversation_ask(chain, conversations)
    plain = planqa_search(base, options.mode)
    run = run_answers(
        f"planqa-{chain.backend}-follow-ups",
        questions,
        ask,
        _doc_ids(base),
        lambda question: plain(standalone() or question),
        options.quiet,
        settings={"mode": options.mode, "backend": chain.backend, "requested_backend": backend,
                  "conversations": str(options.conversations)},
    )
    _note_replay(run, chain.chat_model)
    return run


def run_compare(
    options: EvalOptions,
    settings: Settings,
    base: HybridRetriever,
    questions: Sequence[EvalQuestion],
) -> list[SystemRun]:
    """The comparison matrix: PlanQA's search modes, its answer backends, and the two peers."""
    from evals.baselines import (
        chatchat_chunks,
        chatchat_retriever,
        langchain_tutorial_retriever,
        tutorial_chunks,
        with_top_k,
    )

    doc_ids = _doc_ids(base)
    quiet = options.quiet
    runs = [
        run_retrieval(
            f"planqa-{mode}",
            questions,
            planqa_search(base, mode),
            doc_ids,
            quiet,
            settings={"mode": mode},
        )
        for mode in MODES
    ]
    chat_model, model_backend = None, None
    if not options.retrieval_only:
        backends = ["extractive"]
        if options.backend in ("local", "openai"):
            backends.append(options.backend)
        for backend in backends:
            chain = _open_chain(settings, base, backend)
            if chain.backend != backend:
                _say(f"planqa: skipping the {backend} answers: the backend is unavailable.", quiet)
                continue
            before = _replayed(chain.chat_model)
            runs.append(
                run_answers(
                    f"planqa-{backend}",
                    questions,
                    planqa_ask(chain),
                    doc_ids,
                    planqa_search(base, "hybrid"),
                    quiet,
                    settings={"backend": backend},
                )
            )
            _note_replay(runs[-1], chain.chat_model, before)
            if backend != "extractive":
                chat_model, model_backend = chain.chat_model, backend

    corpus_dirs, hidden = settings.corpus_dirs, settings.hidden_files
    chunks = tutorial_chunks(corpus_dirs, hidden)
    with _progress(len(chunks), "embedding tutorial chunks (1000/200)", quiet) as progress:
        tutorial = langchain_tutorial_retriever(chunks, base.embedder, metrics.RANK_DEPTH, progress)
    runs.append(
        run_retrieval(
            "langchain-tutorial",
            questions,
            langchain_search(tutorial, doc_ids),
            doc_ids,
            quiet,
            settings={
                "splitter": "RecursiveCharacterTextSplitter(1000, 200)",
                "store": "FAISS",
                "chunks": len(chunks),
                "k": metrics.RANK_DEPTH,
            },
        )
    )
    chunks = chatchat_chunks(corpus_dirs, hidden)
    with _progress(len(chunks), "embedding Chatchat chunks (750/150)", quiet) as progress:
        chatchat = chatchat_retriever(chunks, base.embedder, metrics.RANK_DEPTH, progress)
    runs.append(
        run_retrieval(
            "chatchat",
            questions,
            langchain_search(chatchat, doc_ids),
            doc_ids,
            quiet,
            settings={
                "splitter": "ChineseRecursiveTextSplitter(750, 150)",
                "retriever": "EnsembleRetriever(BM25 jieba, FAISS; 0.5/0.5, c=60)",
                "chunks": len(chunks),
                "k": metrics.RANK_DEPTH,
            },
        )
    )
    if chat_model is not None:
        before = _replayed(chat_model)
        runs.append(
            run_answers(
                f"chatchat-{model_backend}",
                questions,
                chatchat_ask(with_top_k(chatchat, 3), chat_model, model_backend, doc_ids),
                doc_ids,
                None,
                quiet,
                settings={"backend": model_backend, "top_k": 3},
            )
        )
        _note_replay(runs[-1], chat_model, before)
    return runs


def default_out_dir(now: datetime | None = None) -> Path:
    """evals/runs/<timestamp>/ in a checkout; ./planqa-eval-runs/<timestamp>/ when installed."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    parent = RUNS_DIR
    if not (RUNS_DIR.parent / "dataset.py").is_file() or "site-packages" in RUNS_DIR.parts:
        parent = Path.cwd() / "planqa-eval-runs"
    out, n = parent / stamp, 2
    while out.exists():
        out, n = parent / f"{stamp}-{n}", n + 1
    return out


def run_eval_command(options: EvalOptions, settings: Settings) -> int:
    """`planqa eval`: run, write the files, print the headline figures and where they are."""
    from assistant.services import open_retriever
    from evals import report

    out = options.out or default_out_dir()
    started = time.perf_counter()
    # The question (and conversation) files are checked before any model loads.
    conversations = None
    if options.conversations is not None:
        questions, conversations = load_follow_ups(options)
    else:
        questions = load_eval_questions(options.qa_path, options.split, options.limit)
    base = open_retriever(settings)
    meta = {
        "qa_file": str(options.qa_path),
        "split": options.split,
        "questions": len(questions),
        "index": f"{settings.index_dir} ({base.index.path.name})",
        "embedder": base.index.manifest.embedder_id,
        "started_at": datetime.now().isoformat(timespec="seconds"),
    }
    if options.compare:
        runs = run_compare(options, settings, base, questions)
        meta["wall_s"] = round(time.perf_counter() - started, 1)
        report.write_compare(out, runs, meta)
        print(report.compare_table(runs))
    else:
        if conversations is not None:
            meta["conversations"] = str(options.conversations)
            run = run_follow_ups(options, settings, base, questions, conversations)
        else:
            run = run_single(options, settings, base, questions)
        meta["wall_s"] = round(time.perf_counter() - started, 1)
        report.write_run(out, run, meta)
        print(report.compare_table([run]))
    print(f"Wrote {out} in {meta['wall_s']:.1f} s.")
    return 0
