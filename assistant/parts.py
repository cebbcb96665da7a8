"""A question that asks two things, split into one question per thing.

The small model answers "北京PM2.5年均浓度2023年和2024年各是多少？" with one year's figure for
both, and "全市一刻钟便民生活圈有多少个？通州建成了多少个？" with 通州's figure for both: two
questions at once blur into one passage. Asked one at a time, each part gets its own retrieval,
its own context and its own checks.

`question_parts` finds the parts:
- two asking clauses ("…全称是什么？从什么时候开始实施的？", "…2023年是多少、2024年降到了多少？"):
  one part per clause, a clause without a question word going with the next; the later clauses
  lean on the first for their subject, so the caller rewrites them as follow-ups;
- two years asked for each ("2023年和2024年各是多少", "2023年度和2024年度体检读本里…分别是多少"):
  one part per year, each standing alone;
- two sides asked for each in one clause ("全市和城六区的禁限比例分别是多少", "2024年度体检读本和
  京津冀协同发展词条分别说有多少所"): one part per side, each standing alone.
One clause asking for two figures with nothing to split them by ("从多少提到多少") is not split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What makes a clause a question of its own.
_ASKS = re.compile(
    r"多少|多大|多长|多高|多远|多久|多宽|多深|百分之几|(?<![这那近前好])几(?!乎)|哪|什么|谁|怎样|怎么|如何|是否"
)
# A clause ends at these; the mark stays with its clause.
_CLAUSE_END = re.compile(r"(?<=[？?；;，,、])")
# Two years asked about in one breath: "2023年和2024年", "2023年度和2024年度", "2023和2024年".
_TWO_YEARS = re.compile(
    r"((?:19|20)\d\d)(年度|年)?(?:的?(?:体检)?(?:读本|报告))?\s*[和与跟及、]\s*((?:19|20)\d\d)(年度|年)"
)
# "各"/"分别" asking for each of the two: dropped when each is asked alone.
_EACH = re.compile(r"分别|各(?=是|为|有|自|说|降|增|占|达|减|提高|下降|增长|完成)")


@dataclass(frozen=True)
class Part:
    """One question of a question that asks several; `follows` when it leans on the part before
    it for its subject ("通州建成了多少个？" after "全市一刻钟便民生活圈有多少个？")."""

    text: str
    follows: bool = False


def question_parts(question: str) -> list[Part]:
    """The parts of `question` (module docstring), or [] when it asks one thing."""
    question = question.strip()
    clauses = _asking_clauses(question)
    if len(clauses) >= 2:
        return [Part(_as_question(c), follows=i > 0) for i, c in enumerate(clauses)]
    return [Part(text) for text in _each_year(question) or _each_side(question)]


def _asking_clauses(question: str) -> list[str]:
    """The question's clauses that ask something, each with the clauses before it that do not
    ("2024年度体检读本里，" goes with "全市森林覆盖率是多少？"); a trailing clause that asks
    nothing ("请给出前后两个数。") goes with the last."""
    groups: list[str] = []
    pending = ""
    for clause in filter(None, (c.strip() for c in _CLAUSE_END.split(question))):
        pending += clause
        if _ASKS.search(clause):
            groups.append(pending)
            pending = ""
    if pending and groups:
        groups[-1] += pending
    return groups


def _as_question(clause: str) -> str:
    """A clause as a question of its own: a trailing comma or pause mark becomes "？"."""
    clause = clause.rstrip("，,、；; ")
    return clause if clause.endswith(("？", "?", "。")) else clause + "？"


def _each_year(question: str) -> list[str]:
    """One question per year of "2023年和2024年各是多少", without "各"/"分别"; [] when the question
    names no two years asked for each."""
    match = _TWO_YEARS.search(question)
    if match is None or not _EACH.search(question, match.end()):
        return []
    first, first_unit, second, second_unit = match.groups()
    rest = _EACH.sub("", question[match.end() :], count=1)
    head = question[: match.start()]
    return [
        f"{head}{year}{unit}{rest}"
        for year, unit in ((first, first_unit or second_unit), (second, second_unit))
    ]


# "A和B…分别/各": the two sides, named in the clause that asks for each.
_AND = re.compile(r"[和与及]")
# Where the name before "和" starts: after the last of these ("…热线的解决率和满意率").
_NAME_START = re.compile(r".*[的，,：:里中在]")


def _each_side(question: str) -> list[str]:
    """One question per side of "A和B（的…）分别/各…" in one clause ("全市和城六区的禁限比例分别是
    多少" -> 全市的…, 城六区的…), without "各"/"分别"; [] when no clause asks that."""
    start = 0
    for clause in _CLAUSE_END.split(question):
        each = _EACH.search(clause)
        ands = list(_AND.finditer(clause, 0, each.start())) if each else []
        if ands:
            left, right = clause[: ands[-1].start()], clause[ands[-1].end() : each.start()]
            head = _NAME_START.match(left)
            a = left[head.end() :] if head else left
            b = right.split("的", 1)[0]
            if all(2 <= len(side) <= 12 and not side.isdigit() for side in (a, b)):
                before = question[: start + len(left) - len(a)]
                after = right[len(b) :] + _EACH.sub("", clause[each.start() :], count=1)
                rest = question[start + len(clause) :]
                return [f"{before}{side}{after}{rest}" for side in (a, b)]
        start += len(clause)
    return []
