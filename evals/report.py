"""Write an evaluation run to disk: results.jsonl, metrics.json, report.md and a self-contained
report.html (plots as base64 PNG); and the comparison of several systems (compare.*)."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import subprocess
import warnings
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from evals.runner import SystemRun, is_failure

MAX_FAILURES = 200  # rows of the failure table (all of them are in results.jsonl)
PASSAGES_SHOWN = 5

# ---------------------------------------------------------------- files


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _json(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def _results_jsonl(run: SystemRun) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in run.records)


def _run_metrics(run: SystemRun, meta: dict) -> dict:
    return {"system": run.name, "kind": run.kind, "settings": run.settings, **meta, **run.metrics}


def write_run(out: Path, run: SystemRun, meta: dict) -> None:
    """results.jsonl, metrics.json, report.md and report.html of one system under `out`."""
    data = _run_metrics(run, meta)
    write_atomic(out / "results.jsonl", _results_jsonl(run))
    write_atomic(out / "metrics.json", _json(data))
    write_atomic(out / "report.md", run_markdown(run, data))
    write_atomic(out / "report.html", run_html(run, data))


def write_compare(out: Path, runs: Sequence[SystemRun], meta: dict) -> None:
    """compare.md/json/html under `out`, and each system's results.jsonl + metrics.json under
    `out/<system>/`."""
    for run in runs:
        write_atomic(out / run.name / "results.jsonl", _results_jsonl(run))
        write_atomic(out / run.name / "metrics.json", _json(_run_metrics(run, meta)))
    data = {**meta, "systems": [compare_row(r) for r in runs]}
    write_atomic(out / "compare.json", _json(data))
    write_atomic(out / "compare.md", compare_markdown(runs, meta))
    write_atomic(out / "compare.html", compare_html(runs, meta))


# ---------------------------------------------------------------- numbers


def _pct(value) -> str:
    return "—" if value is None else f"{value:.1%}"


def _num(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ms(value) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"


# (label, getter, formatter) of the comparison table's columns
COLUMNS: list[tuple[str, Callable[[dict], object], Callable]] = [
    ("hit@1", lambda m: (m["retrieval"] or {}).get("hit@1"), _pct),
    ("hit@5", lambda m: (m["retrieval"] or {}).get("hit@5"), _pct),
    ("hit@10", lambda m: (m["retrieval"] or {}).get("hit@10"), _pct),
    ("MRR@10", lambda m: (m["retrieval"] or {}).get("mrr@10"), _num),
    ("nDCG@10", lambda m: (m["retrieval"] or {}).get("ndcg@10"), _num),
    ("ev@1000", lambda m: (m["retrieval"] or {}).get("evidence@1000"), _pct),
    ("ev@2000", lambda m: (m["retrieval"] or {}).get("evidence@2000"), _pct),
    ("ev@4000", lambda m: (m["retrieval"] or {}).get("evidence@4000"), _pct),
    ("accuracy", lambda m: (m["answers"] or {}).get("answer_accuracy"), _pct),
    ("refusal acc", lambda m: (m["answers"] or {}).get("refusal_accuracy"), _pct),
    ("false refusal", lambda m: (m["answers"] or {}).get("false_refusal_rate"), _pct),
    ("citation prec", lambda m: (m["answers"] or {}).get("citation_precision"), _pct),
    ("grounded", lambda m: (m["answers"] or {}).get("grounded_rate"), _pct),
    ("p50", lambda m: _stage(m, "total", "p50"), _ms),
    ("p95", lambda m: _stage(m, "total", "p95"), _ms),
]


def _stage(m: dict, stage: str, key: str):
    latency = m["latency_ms"]
    entry = latency.get(stage) or latency.get("retrieve") or {}
    return entry.get(key)


def compare_row(run: SystemRun) -> dict:
    m = run.metrics
    row = {"system": run.name, "kind": run.kind, "n": m["n_questions"], "settings": run.settings}
    row.update({label: getter(m) for label, getter, _ in COLUMNS})
    row["wall_s"] = m.get("wall_s")
    return row


def compare_table(runs: Sequence[SystemRun]) -> str:
    """A fixed-width table for the terminal: one row per system."""
    headers = ["system", "n"] + [label for label, _, _ in COLUMNS]
    rows = [
        [r.name, str(r.metrics["n_questions"])]
        + [fmt(getter(r.metrics)) for _, getter, fmt in COLUMNS]
        for r in runs
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def _md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |"]
    lines.append("|" + "---|" * len(headers))
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _metric_rows(data: dict) -> list[tuple[str, str]]:
    """(name, value) of the headline metrics of one run."""
    rows: list[tuple[str, str]] = []
    retrieval = data.get("retrieval")
    if retrieval:
        rows.append(("answerable questions scored for retrieval", str(retrieval["n"])))
        for key in ("hit@1", "hit@3", "hit@5", "hit@10"):
            rows.append((key, _pct(retrieval[key])))
        rows.append(("MRR@10", _num(retrieval["mrr@10"])))
        rows.append(("nDCG@10", _num(retrieval["ndcg@10"])))
        for key in ("evidence@1000", "evidence@2000", "evidence@4000"):
            rows.append((f"all evidence within {key.split('@')[1]} chars", _pct(retrieval[key])))
    answers = data.get("answers")
    if answers:
        rows += [
            ("answer accuracy (answerable)", _pct(answers["answer_accuracy"])),
            ("overall accuracy (right answer or right refusal)", _pct(answers["overall_accuracy"])),
            ("refusal accuracy (unanswerable refused)", _pct(answers["refusal_accuracy"])),
            ("false-refusal rate (answerable refused)", _pct(answers["false_refusal_rate"])),
            ("citation precision", _pct(answers["citation_precision"])),
            ("grounded rate (answered, answerable)", _pct(answers["grounded_rate"])),
            ("grounded yet a figure uncited", str(answers["grounded_with_missing_figure"])),
            ("answered by the extractive fallback", str(answers["fallbacks"])),
        ]
    for stage, entry in data["latency_ms"].items():
        rows.append(
            (
                f"latency {stage} p50 / p95 / max",
                f"{_ms(entry['p50'])} / {_ms(entry['p95'])} / {_ms(entry['max'])}",
            )
        )
    return rows


def _group_rows(groups: dict, kind: str) -> tuple[list[str], list[list[str]]]:
    headers = ["", "n", "hit@1", "hit@5"] + (["accuracy"] if kind == "answers" else [])
    rows = []
    for name, g in groups.items():
        row = [name, str(g["n"]), _pct(g["hit@1"]), _pct(g["hit@5"])]
        if kind == "answers":
            row.append(_pct(g["accuracy"]))
        rows.append(row)
    return headers, rows


def _expected(record: dict) -> str:
    if not record["expected"]:
        return "（拒答）refusal"
    joiner = " + " if record["match"] == "all" else " / "
    return joiner.join(record["expected"])


def _got(record: dict) -> str:
    if record["scores"]["answer"] is not None:
        return record["answer"]
    rank = (record["scores"]["retrieval"] or {}).get("first_rank")
    return f"evidence first at rank {rank}" if rank else "evidence not in the first 10 passages"


# ---------------------------------------------------------------- markdown


def _header_lines(run: SystemRun, data: dict) -> list[str]:
    settings = ", ".join(f"{k}={v}" for k, v in run.settings.items())
    return [
        f"# PlanQA evaluation: {run.name}",
        "",
        f"- questions: {data['n_questions']} ({data['n_answerable']} answerable, "
        f"{data['n_unanswerable']} unanswerable) from `{data['qa_file']}`, split `{data['split']}`",
        f"- system: {run.name} ({run.kind}); {settings}",
        f"- index: {data['index']}; embedder {data['embedder']}",
        f"- started {data['started_at']}, {data['wall_s']:.1f} s",
    ]


def run_markdown(run: SystemRun, data: dict) -> str:
    lines = _header_lines(run, data) + ["", "## Metrics", ""]
    lines.append(_md_table(["metric", "value"], _metric_rows(data)))
    for title, key in (
        ("By question type", "by_type"),
        ("By report", "by_report"),
        ("By difficulty", "by_difficulty"),
    ):
        headers, rows = _group_rows(data[key], run.kind)
        lines += ["", f"## {title}", "", _md_table(headers, rows)]
    failures = [r for r in run.records if is_failure(r)]
    lines += ["", f"## Failures ({len(failures)})", ""]
    rows = [
        [r["id"], r["type"], r["question"], _expected(r), _got(r)[:160]]
        for r in failures[:MAX_FAILURES]
    ]
    lines.append(_md_table(["id", "type", "question", "expected", "got"], rows))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- plots


@cache
def _cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs (fontconfig), or None."""
    try:
        found = subprocess.run(
            ["fc-list", "-f", "%{file}\n", ":lang=zh"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    from matplotlib import font_manager

    for path in sorted(p.strip() for p in found if p.strip()):
        try:
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):
            continue
    return None


def _figure(width: float = 6.4, height: float = 3.4):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _png(draw: Callable) -> str:
    """Run `draw(figure, axes)` on an Agg figure; the PNG as base64 text."""
    import matplotlib

    font = _cjk_font()
    rc = {"axes.unicode_minus": False, "font.size": 9}
    if font:
        rc["font.sans-serif"] = [font, *matplotlib.rcParams["font.sans-serif"]]
        rc["font.family"] = "sans-serif"
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig, ax = _figure()
        draw(fig, ax)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _percent_axis(ax) -> None:
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
    ax.grid(axis="y", alpha=0.3)


def plot_curves(curves: dict[str, dict[str, float | None]], xlabel: str, title: str) -> str:
    """Line plot of one or more {x: rate} curves."""

    def draw(fig, ax):
        for name, curve in curves.items():
            xs = [int(x) for x, y in curve.items() if y is not None]
            ys = [y for y in curve.values() if y is not None]
            ax.plot(xs, ys, marker="o", markersize=3, label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("questions")
        ax.set_title(title)
        _percent_axis(ax)
        if len(curves) > 1:
            ax.legend(fontsize=7, loc="lower right")

    return _png(draw)


def plot_bars(
    values: dict[str, float | None], counts: dict[str, int], title: str, ylabel: str
) -> str:
    def draw(fig, ax):
        names = list(values)
        heights = [values[n] or 0.0 for n in names]
        bars = ax.bar(range(len(names)), heights, color="#4c72b0")
        for bar, name in zip(bars, names, strict=True):
            label = "—" if values[name] is None else f"{values[name]:.0%}"
            ax.annotate(
                f"{label}\nn={counts[name]}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
        ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        _percent_axis(ax)
        ax.set_ylim(0, 1.2)

    return _png(draw)


def plot_latency(records: Sequence[dict]) -> str:
    stages: dict[str, list[float]] = {}
    for r in records:
        for stage, ms in (r.get("timings_ms") or {}).items():
            # A refusal decided before generation has a generate time of 0: nothing to plot.
            if ms:
                stages.setdefault(stage, []).append(float(ms))

    def draw(fig, ax):
        names = list(stages)
        if not names:
            ax.text(0.5, 0.5, "no timings", ha="center", transform=ax.transAxes)
            return
        ax.boxplot(
            [stages[n] for n in names],
            orientation="horizontal",
            tick_labels=[f"{n} (n={len(stages[n])})" for n in names],
            showfliers=True,
        )
        ax.set_xlabel("milliseconds (log scale)")
        ax.set_xscale("log")
        ax.set_title("Latency per stage")
        ax.grid(axis="x", alpha=0.3)

    return _png(draw)


def _headline(run: SystemRun) -> tuple[str, Callable[[dict], float | None]]:
    if run.kind == "answers":
        return "accuracy (right answer or right refusal)", lambda g: g["accuracy"]
    return "evidence in the first 5 passages (answerable)", lambda g: g["hit@5"]


# ---------------------------------------------------------------- html

_CSS = """
body { font-family: system-ui, "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; margin: 2em;
       max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; margin: 0.5em 0; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 1em; }
.passage { margin: 0.3em 0; padding: 0.3em; background: #fafafa; border-left: 3px solid #ccc;
           white-space: pre-wrap; font-size: 0.85em; }
.passage.hit { border-left-color: #2a9d4a; }
details summary { cursor: pointer; color: #555; }
"""


def _e(value) -> str:
    return html.escape(str(value))


def _html_table(headers: Sequence[str], rows: Sequence[Sequence], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_e(c)}</td>' if i >= numeric_from else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(png: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{png}" alt="{_e(alt)}">'


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="zh"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


def _passages_html(record: dict) -> str:
    evidence = record.get("evidence") or []
    from evals.metrics import holds_evidence

    blocks = []
    for n, p in enumerate(record.get("retrieved", [])[:PASSAGES_SHOWN], start=1):
        hit = bool(evidence) and holds_evidence(p["text"], evidence)
        source = p.get("doc_id") or p.get("title") or ""
        section = f" · {p['section']}" if p.get("section") else ""
        blocks.append(
            f'<div class="passage{" hit" if hit else ""}">[{n}] {_e(source)}{_e(section)}'
            f"{' ✓' if hit else ''}\n{_e(p['text'])}</div>"
        )
    if not blocks:
        return "—"
    return f"<details><summary>{len(blocks)} passages</summary>{''.join(blocks)}</details>"


def run_html(run: SystemRun, data: dict) -> str:
    parts = [f"<h1>PlanQA evaluation: {_e(run.name)}</h1><ul>"]
    parts += [f"<li>{_e(line[2:])}</li>" for line in _header_lines(run, data)[2:]]
    parts.append("</ul><h2>Metrics</h2>")
    parts.append(_html_table(["metric", "value"], _metric_rows(data)))

    plots = []
    retrieval = data.get("retrieval")
    if retrieval:
        plots.append(
            _img(
                plot_curves(
                    {run.name: retrieval["hit_by_rank"]},
                    "rank k",
                    "Evidence in the first k passages",
                ),
                "hit rate by rank",
            )
        )
        plots.append(
            _img(
                plot_curves(
                    {run.name: retrieval["hit_by_budget"]},
                    "context budget (characters)",
                    "All evidence within the context budget",
                ),
                "hit rate by context budget",
            )
        )
    label, value_of = _headline(run)
    for title, key in (("By question type", "by_type"), ("By report", "by_report")):
        groups = data[key]
        # Groups the metric does not apply to (unanswerable ones in a search run) are left out.
        values = {name: value_of(g) for name, g in groups.items() if value_of(g) is not None}
        counts = {name: g["n"] for name, g in groups.items()}
        plots.append(_img(plot_bars(values, counts, title, label), f"{title.lower()}: {label}"))
    plots.append(_img(plot_latency(run.records), "latency distribution"))
    parts.append(f'<h2>Plots</h2><div class="plots">{"".join(plots)}</div>')

    for title, key in (
        ("By question type", "by_type"),
        ("By report", "by_report"),
        ("By difficulty", "by_difficulty"),
    ):
        headers, rows = _group_rows(data[key], run.kind)
        parts.append(f"<h2>{_e(title)}</h2>" + _html_table(headers, rows))

    failures = [r for r in run.records if is_failure(r)]
    shown = failures[:MAX_FAILURES]
    parts.append(
        f"<h2>Failures ({len(failures)}"
        + (f", first {len(shown)} shown" if len(shown) < len(failures) else "")
        + ")</h2>"
    )
    rows = "".join(
        f"<tr><td>{_e(r['id'])}</td><td>{_e(r['type'])}</td><td>{_e(r['question'])}</td>"
        f"<td>{_e(_expected(r))}</td><td>{_e(_got(r))}</td><td>{_passages_html(r)}</td></tr>"
        for r in shown
    )
    parts.append(
        "<table><thead><tr><th>id</th><th>type</th><th>question</th><th>expected</th>"
        f"<th>answer</th><th>retrieved passages</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return _page(f"PlanQA evaluation: {run.name}", "\n".join(parts))


# ---------------------------------------------------------------- comparison


def _compare_rows(runs: Sequence[SystemRun]) -> tuple[list[str], list[list[str]]]:
    headers = ["system", "kind", "n"] + [label for label, _, _ in COLUMNS]
    rows = [
        [r.name, r.kind, str(r.metrics["n_questions"])]
        + [fmt(getter(r.metrics)) for _, getter, fmt in COLUMNS]
        for r in runs
    ]
    return headers, rows


def _compare_notes(runs: Sequence[SystemRun], meta: dict) -> list[str]:
    notes = [
        f"Questions: {meta['questions']} from `{meta['qa_file']}`, split `{meta['split']}`; "
        f"index {meta['index']}; embedder {meta['embedder']}; {meta['wall_s']:.1f} s in all.",
        "hit@k, MRR@10, nDCG@10: a passage holds an evidence string (answerable questions). "
        "ev@N: every evidence string within the first N characters of the passages in rank order.",
        "accuracy: answerable questions answered with the accepted answer(s); refusal acc: "
        "unanswerable refused; false refusal: answerable refused. p50/p95: total time per question "
        "(search time for search-only rows).",
    ]
    for r in runs:
        if r.settings:
            notes.append(f"{r.name}: " + ", ".join(f"{k}={v}" for k, v in r.settings.items()))
    return notes


def compare_markdown(runs: Sequence[SystemRun], meta: dict) -> str:
    headers, rows = _compare_rows(runs)
    lines = ["# PlanQA comparison", "", _md_table(headers, rows), ""]
    lines += [f"- {note}" for note in _compare_notes(runs, meta)]
    return "\n".join(lines) + "\n"


def compare_html(runs: Sequence[SystemRun], meta: dict) -> str:
    headers, rows = _compare_rows(runs)
    curves = {
        r.name: r.metrics["retrieval"]["hit_by_rank"]
        for r in runs
        if r.kind == "retrieval" and r.metrics.get("retrieval")
    }
    parts = ["<h1>PlanQA comparison</h1>", _html_table(headers, rows, numeric_from=2)]
    if curves:
        parts.append(
            _img(
                plot_curves(curves, "rank k", "Evidence in the first k passages"),
                "hit rate by rank, every system",
            )
        )
    parts.append(
        "<ul>" + "".join(f"<li>{_e(n)}</li>" for n in _compare_notes(runs, meta)) + "</ul>"
    )
    return _page("PlanQA comparison", "\n".join(parts))
