"""Does an answer answer the question asked? Checks made after generation, before citing.

Near-miss questions (the topic is in the reports, the detail is not: "六环高线公园的总投资",
"北京艺术博物馆的建筑面积") pass the retrieval gate, and a 1.5B model then answers them anyway:
with no figure at all ("建筑面积是[2]"), with a figure no passage states ("100亿元"), with a
figure of the wrong kind (a growth rate for "收入是多少元", beds for "总投资"), or by saying the
figure is not given while still citing. Each of these is a refusal in disguise; `misfit`
names which, and the chain answers with the fixed refusal instead. On the dev split the four
checks turned 8 of the 15 unanswerable questions the model answered into refusals, and none
of the 137 answerable ones; the people kind (an area for "常住人口有多少") one more, and none
of the gold answers (expected strings and evidence sentences of the 137) is flagged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from assistant.grounding import (
    extract_figures,
    figure_in_text,
    figure_positions,
    normalized_text,
    split_figure,
    stated_loosely,
    strip_markers,
)
from corpus.sentences import sentence_texts

# A question asking for a quantity. `哪几` asks for a list, `这几年` for a period, and `这几个港口`,
# `那几条线` point at things already named.
_ASKS_QUANTITY = re.compile(
    r"多少|多大|多长|多高|多远|多久|多宽|多深|百分之几|(?<![哪这那])几(?:座|条|个|项|所|家|处|次|批|倍|成|名|张|套|辆|点|万|亿)"
)
# A question that also asks for names ("要建成的几个标志性项目都有哪些"): an answer naming them
# without a count still answers it.
_ASKS_NAMES = re.compile(r"哪些|哪几|什么|是哪")
# A quantity written in Chinese numerals: `两条`, `三座`.
_CHINESE_NUMERALS = "[一二两三四五六七八九十百千万]+"
_CHINESE_QUANTITY = re.compile(
    # "一批" is "a number of" ("形成一批艺术家工作室"), not a count: "第二批", "三批" are.
    r"(?!一批)(?<![第一二两三四五六七八九十百千万])"
    + _CHINESE_NUMERALS
    + r"(?:个|座|条|项|所|家|处|批|倍|成|次|名|张|套|辆|点)"
)
# The model saying the passages do not give the answer, in words other than the refusal.
_NOT_GIVEN = re.compile(
    r"未给出|未提及|未提到|没有提到|没有提及|没有给出|未明确(?:给出|提及|说明)|无法确定|无法回答"
    r"|没有具体|未具体说明|未说明|没有说明|不清楚"
)
# The unit a question names: "多少亿元", "多少平方公里".
_ASKED_UNIT = re.compile(r"多少((?:万|亿)*(?:元|平方公里|平方千米|平方米|公顷|亩|公里|千米|%))")
# The counter a question asks in ("多少册", "几座"): an answer counted in another ("8处" for
# "多少册藏书") counts something else. 个 is left out: reports count the same things in 个, 家, 所.
_ASKED_COUNTER = re.compile(
    r"(?:多少|(?<![哪这那])几)(?:万|亿)?"
    r"(人次|架次|册|天|件|家|所|座|条|辆|张|套|名|处|项|次|吨|部|批|户|棵|株|艘|列|位|层|届)"
)
_YEAR = re.compile(r"(?:19|20)\d\d年度?")
# A question asking when ("哪一年批复的", "什么时候投运", "是哪天签的"). "多少年" and "几年" ask how
# long, not when; "时间" alone is as often a duration ("通勤时间").
_ASKS_WHEN = re.compile(r"哪一?年(?!度)|什么时候|啥时候|何时|哪一?天|哪个月|几月|什么时间(?!内)")
# What answers when: a year, a month or a day, a five-year plan period ("十四五"), a season.
_WHEN = re.compile(
    r"(?:19|20)\d\d|\d{1,2}\s*[月日号]|[一二三四五六七八九十]+月|十[一二三四五六七八九]五|"
    r"[春夏秋冬]季|年底|年初|年末|年中"
)
# Money asked without a unit ("总投资是多少"), unless a share or change of it is asked.
_MONEY_WORDS = re.compile(
    r"投资|收入|生产总值|经济总量|产值|GDP|资金|经费|营业额|销售额|房价|价格|造价|费用"
)
_RATIO_WORDS = re.compile(r"比重|占比|比例|强度|增长|增速|增幅|涨|降|率|排位|排名|第几|倍|百分")
# A number of people asked ("常住人口有多少", "多少人"), unless a share, change or density of it.
_PEOPLE_WORDS = re.compile(r"人口|人数|多少人(?!次)")
# An area ("规划面积多大", "占地多大") or a length ("有多长", "全长") asked without a unit.
_AREA_WORDS = re.compile(r"面积|占地")
_LENGTH_WORDS = re.compile(r"多长(?!时间)|长度|全长|里程")

# A question about how things stand now ("现在有多少", "目前是多少"), not about a plan's target.
_ASKS_NOW = re.compile(r"现在|目前|现有|当前|如今")
_ASKS_TARGET = re.compile(r"目标|规划|计划|预期|预计|力争|将|要|到\s*20\d\d|十[四五六]五|末")
# A plan's target: a row of an indicator table ("…（%）\t≥75\t预期性"), or a figure after "到2030年",
# "到“十五五”末", "力争" in its sentence.
_TARGET_ROW = re.compile(r"预期性|约束性")
_TARGET_BEFORE = re.compile(r"到\s*20(?:2[5-9]|[3-9]\d)年|十[五六]五[”\"]?(?:时期)?末|力争")
# A question asking for a change: "增加了多少", "比2020年多了百分之几", "增速", "新建了几座".
_ASKS_CHANGE = re.compile(
    r"增|减|降|提高|提升|升|新|多了|少了|变|比|较|扩大|缩小|缩短|涨|跌|翻|下滑"
)
# A figure written as a change, right after its verb: "较2020年增加10.89公里", "提升25%".
_CHANGE_BEFORE = re.compile(
    r"(?:增加|增长|提高|提升|下降|减少|降低|新增|扩大|缩小|缩短|增|减|降)了?(?:约|近|超过|超)?$"
)
_CLAUSE_END = re.compile(r"(?:左右|以上|多|余)?(?:[，。；、,;:：)）]|$)")
# A question about one year ("2023年全年…旅客吞吐量", "2023年…新建了多少"), not a span of years.
_ONE_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)年(?!\s*[—–\-~至到])")
_ASKS_SPAN = re.compile(r"累计|以来|至今|迄今|合计|历年|先后|期间|时期|五年|十年|[—–~至到]\s*(?:19|20)\d\d")
# A span of years in the sentence before a figure: "自2019年9月投运至2023年底，…累计…9397万人次",
# "2013年以来累计…"; not a change ("由2020年的6.32降至6.08").
_SPAN_FROM = re.compile(
    r"((?:19|20)\d\d)年[^。；]{0,25}?(?:以来|至今|(?<![降升增减高长加少])至\s*(?:19|20)\d\d年)"
)
# What a figure is counted per ("人均地区生产总值…95338元", "每万人拥有…"): asked without, the figure
# is not the total the question asks for.
_PER_HEAD = re.compile(r"人均|户均|每(?:万|百|千)?(?:人|户|平方公里)")
# Asked per head, or about what is only ever told per head ("居民收入"), or a share of it.
_ASKS_PER = re.compile(r"人均|户均|每|平均|均|收入|消费|支出|比重|占比|比例|增长|增速|增幅|率")
_GOES_ON = re.compile(r"(?:比|较|同比|高|低|增|减|下降|提高|占)")


def _unit_kind(unit: str) -> str:
    """money, share, rate (a unit per unit), people, area, length; "" for none or a bare 万/亿;
    else the unit itself."""
    unit = re.sub(r"^(?:万|亿)+", "", unit)
    if not unit:
        return ""
    for kind, pattern in (
        ("money", r"元"),
        ("share", r"%|‰|百分点"),
        ("rate", r"/"),  # 万人/平方公里, 公里/平方公里, 万吨/日: a density or a rate, no count
        ("people", r"^(?:人|名|位)"),
        ("area", r"平方|公顷|亩"),
        ("length", r"公里|千米|米|km"),
    ):
        if re.search(pattern, unit):
            return kind
    return unit


def asked_kind(question: str) -> str:
    """The kind of figure a question asks for, where it says: "money", "area"…; else ""."""
    named = _ASKED_UNIT.search(question)
    if named:
        return _unit_kind(named.group(1))
    if _MONEY_WORDS.search(question) and not _RATIO_WORDS.search(question):
        return "money"
    if (
        _PEOPLE_WORDS.search(question)
        and not _RATIO_WORDS.search(question)
        and "密度" not in question
    ):
        return "people"
    if _RATIO_WORDS.search(question) or re.search(r"密度|人均", question):
        return ""
    if _AREA_WORDS.search(question):
        return "area"
    if _LENGTH_WORDS.search(question):
        return "length"
    return ""


def asked_figures(question: str, figures: Sequence[str]) -> list[str]:
    """The `figures` of the kind the question asks (`asked_kind`: the lengths of "全长多少公里"),
    all of them when it names no kind or none is of it. A quote states other figures beside the
    one asked: of an asked kind, only those count."""
    kind = asked_kind(question)
    return [f for f in figures if kind and _unit_kind(split_figure(f)[1]) == kind] or list(figures)


def answers_only_with(question: str, answer: str, figures: Sequence[str]) -> bool:
    """Are `figures` all the answer gives for what `question` asks: every figure of the asked
    kind ("全长多少公里": the lengths) or counter ("多少座车站": those in 座), or every figure when
    the question names neither (figures the question states never count)?
    "京唐城际铁路全长1000公里…7项重点铁路续建项目" with 1000公里 among `figures`: yes.
    "常住人口2185.8万人，较上年末增加1.6万人" with 1.6万人 only: no."""
    own = set(extract_figures(question))
    stated = [f for f in extract_figures(strip_markers(answer)) if f not in own]
    kind = asked_kind(question)
    counter = _ASKED_COUNTER.search(question)

    def asked_for(figure: str) -> bool:
        if kind:
            return _unit_kind(split_figure(figure)[1]) == kind
        return bool(counter) and _counter_unit(figure).startswith(counter.group(1))

    asked = [f for f in stated if asked_for(f)] or stated
    return bool(asked) and all(f in figures for f in asked)


def misfit(question: str, answer: str, passages: Sequence[str], cited: Sequence[str] = ()) -> str:
    """Why `answer` does not answer `question` from `passages`, in words for the user; "" if it does.

    `cited`: the passages the answer cites. When there are any, at least one of the answer's
    figures must be in them: "新建了5个5G基站[3][5]" citing a passage with "5G" and "表5-1" only
    states a count no cited sentence gives (an answer with some cited figures and some not is
    shown, marked ungrounded)."""
    text = strip_markers(answer)
    if _NOT_GIVEN.search(text):
        return "模型表示段落中没有给出答案"
    own = set(extract_figures(question))
    if asks_when(question) and not states_when(_without(text, own)):
        return "问题问的是时间，回答中没有年份或日期"
    figures = [f for f in extract_figures(text) if f not in own]
    if not figures:
        if (
            _ASKS_QUANTITY.search(question)
            and not _ASKS_NAMES.search(question)
            and not _CHINESE_QUANTITY.search(text)
        ):
            return "问题问的是数量，回答中没有数字"
        return ""
    if not _states_any(figures, passages):
        return f"回答中的数字（{'、'.join(figures)}）在报告段落中找不到"
    if cited and not _states_any(figures, cited):
        return f"回答中的数字（{'、'.join(figures)}）不在所引的报告原文中"
    if kind_mismatch(question, figures):
        return "回答中的数字与问题所问的不是同一种量"
    sources = cited or passages
    asked = asked_figures(question, figures)
    if _ASKS_NOW.search(question) and not _ASKS_TARGET.search(question):
        if _all_stated(asked, sources, _is_target):
            return "问题问的是现状，回答中的数字是规划目标"
    if not _ASKS_CHANGE.search(question) and _all_stated(asked, sources, _is_change):
        return "问题问的是有多少，回答中的数字是增减的量"
    # dates say when ("自2019年9月投运…"), not how much: only quantities are judged
    amounts = [f for f in asked if not re.fullmatch(r"[月日号]", split_figure(f)[1])]
    year = _asked_year(question)
    if year and _all_stated(amounts, sources, _counts_since(year)):
        return f"问题问的是{year}年一年的量，回答中的数字是多年累计的"
    if not _ASKS_PER.search(question) and _all_stated(amounts, sources, _is_per_head):
        return "问题问的是总量，回答中的数字是人均的量"
    counter = _ASKED_COUNTER.search(question)
    if counter and not _counts_in(counter.group(1), figures, text):
        return f"问题问的是多少{counter.group(1)}，回答中的数字不是以“{counter.group(1)}”计"
    return ""


def kind_mismatch(question: str, figures: Sequence[str]) -> bool:
    """Does no figure of the answer have the kind the question asks (`asked_kind`)?

    A count or sum without a unit ("1亿多", "2.7万") may be of any kind, and so may an answer
    of bare numbers only (table cells: "7左右"). A bare number beside figures that have units
    proves nothing: "收入是多少元" answered with growth rates (27.1%, 4.1个百分点) and a ratio's
    change (0.11) is answered with another quantity. The years of an answer ("2024年…较2020年")
    have no say either way.
    """
    kind = asked_kind(question)
    if not kind:
        # A share or change of anything but money ("PM2.5浓度同比下降了多少") is never a sum of
        # money: "天津投入4亿元…" answers another question.
        if not _RATIO_WORDS.search(question) or _MONEY_WORDS.search(question):
            return False
        kind = "not money"
    kinds = set()
    for figure in figures:
        if _YEAR.fullmatch(figure):
            continue
        unit = split_figure(figure)[1]
        if unit and not _unit_kind(unit):
            return False  # 万/亿 alone
        kinds.add(_unit_kind(unit))
    if kind == "not money":
        return kinds == {"money"}
    if not kinds:  # years only
        return True
    units = kinds - {""}
    return bool(units) and kind not in units


def asks_when(question: str) -> bool:
    """Does the question ask when something happened or is due ("哪一年批复的", "什么时候投运")?"""
    return bool(_ASKS_WHEN.search(question))


# "分别是多少", "各降了多少": one question word asking for several figures.
_ASKS_EACH = re.compile(r"分别|各(?:是|为|有|自|降|增|占|达|减|提高|下降|增长)")


def quantities_asked(question: str) -> int:
    """How many figures a question asks for: one per "多少"/"多大"/"几座"…, at least two for
    "分别…多少"/"各…多少" ("…有多大？比2020年提高了多少？" asks two)."""
    asked = len(_ASKS_QUANTITY.findall(question))
    return max(asked, 2) if asked and _ASKS_EACH.search(question) else asked


def asks_quantity(question: str) -> bool:
    """Does the question ask how many or how much ("多少", "多大", "几座")?"""
    return bool(_ASKS_QUANTITY.search(question))


def chinese_quantities(text: str) -> list[str]:
    """The counts `text` writes in Chinese numerals ("七个维度三个层级" -> 七个, 三个)."""
    return _CHINESE_QUANTITY.findall(text)


def states_when(text: str) -> bool:
    """Does `text` state a time: a year, month or day, a plan period ("十四五"), a season?"""
    return bool(_WHEN.search(text))


def _without(text: str, figures: set[str]) -> str:
    """`text` less the figures the question itself states ("2024年…哪一天" answered "2024年")."""
    for figure in sorted(figures, key=len, reverse=True):
        text = text.replace(figure, " ")
    return text


def _states_any(figures: Sequence[str], texts: Sequence[str]) -> bool:
    """Does one of `texts` state one of `figures` (with its unit, or as a bare table cell)?"""
    return any(figure_in_text(f, t) or stated_loosely(f, t) for f in figures for t in texts)


def _counter_unit(figure: str) -> str:
    """The unit a figure counts in, without its 万/亿/余/多: `3.9万个` -> `个`."""
    return re.sub(r"^(?:万|亿|余|多)+", "", split_figure(figure)[1])


def _counts_in(counter: str, figures: Sequence[str], text: str) -> bool:
    """Does one of the answer's figures count in `counter` (or carry no unit at all)?"""
    for figure in figures:
        unit = _counter_unit(figure)
        if not unit or unit.startswith(counter):
            return True
    return bool(re.search(_CHINESE_NUMERALS + counter, text))


def _is_target(sentence: str, before: str | None, after: str | None) -> bool:
    """Is the figure a plan's target in `sentence` (`before`, `after`: the text either side of
    it there, None for a table cell)?"""
    return bool(_TARGET_ROW.search(sentence) or _TARGET_BEFORE.search(before or sentence))


def _is_change(sentence: str, before: str | None, after: str | None) -> bool:
    """Is the figure the amount of a change in `sentence`: right after its verb and ending the
    clause ("较2020年增加10.89公里，"), not a size in front of its noun ("扩大19.28万亩耕地保护空间")?"""
    return (
        before is not None
        and after is not None
        and bool(_CHANGE_BEFORE.search(before))
        and bool(_CLAUSE_END.match(after))
    )


def _asked_year(question: str) -> int | None:
    """The one year a question asks about ("2023年全年…是多少"), None when it names none or
    several, or asks about a span ("2013年以来累计", "十四五时期")."""
    years = set(_ONE_YEAR.findall(question))
    if len(years) != 1 or _ASKS_SPAN.search(question):
        return None
    return int(years.pop())


def _counts_since(year: int) -> _Placement:
    """Is the figure counted over years up to `year`, from an earlier one, in its sentence:
    "自2019年9月投运至2023年底，机场累计完成…旅客吞吐量9397万人次" for 2023's passengers?"""

    def since(sentence: str, before: str | None, after: str | None) -> bool:
        text = sentence if before is None else before
        return any(int(y) < year for y in _SPAN_FROM.findall(text))

    return since


def _is_per_head(sentence: str, before: str | None, after: str | None) -> bool:
    """Is the figure counted per person or household in its clause ("人均地区生产总值2023年为
    95338元")?"""
    clauses = re.split(r"[，。；,;]", sentence if before is None else before)
    clause = clauses.pop()
    # a clause comparing it goes on from the one before: "人均…为95338元，比全国平均水平高5980元"
    while clauses and _GOES_ON.match(clause):
        clause = f"{clauses.pop()}，{clause}"
    return bool(_PER_HEAD.search(clause))


# (sentence, text before the figure, text after it; both None for a table cell without unit)
_Placement = Callable[[str, "str | None", "str | None"], bool]


def _all_stated(figures: Sequence[str], texts: Sequence[str], how: _Placement) -> bool:
    """Is every place where `texts` state one of the answer's `figures` (years aside) a place
    `how` accepts, and is there such a place? A figure stated in a table cell without its unit
    (`stated_loosely`) is judged by its row alone. "现在有多少" answered from a target row,
    "总里程是多少" with "较2020年增加10.89公里"."""
    found = False
    for figure in figures:
        if _YEAR.fullmatch(figure):
            continue
        for text in texts:
            for sentence in sentence_texts(text):
                places = list(figure_positions(figure, sentence))
                if places:
                    normal = normalized_text(sentence)
                    sides = [(normal[:start], normal[end:]) for start, end in places]
                elif stated_loosely(figure, sentence):
                    sides = [(None, None)]
                else:
                    continue
                found = True
                if not all(how(sentence, before, after) for before, after in sides):
                    return False
    return found
