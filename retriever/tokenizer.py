"""Chinese tokens for BM25: NFKC, numbers with their units kept whole, jieba search mode, stopwords."""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import cached_property
from pathlib import Path

import jieba

DATA_DIR = Path(__file__).with_name("data")


def read_name_list(path: Path) -> dict[str, tuple[str, ...]]:
    """A `data/` list of names, one per line, each with its other names after `=` (comma
    separated): `雄安新区=雄安`, `电瓶车=电动自行车`. Blank lines and `#` comments are skipped."""
    names: dict[str, tuple[str, ...]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, others = line.partition("=")
            names[name.strip()] = tuple(o.strip() for o in others.split(",") if o.strip())
    return names


# Bump when tokenisation changes: an index built by another version is out of date (searching it
# is refused until `planqa index` rebuilds it).
TOKENIZER_VERSION = "jieba-search-v3"

_UNITS = (
    "万平方公里|平方公里|平方千米|平方米|万平方米|万亩|公顷|万公顷|亩|万千瓦|千瓦|千米|公里|米|"
    "万亿元|亿元|万元|元|亿人次|万人次|人次|亿人|万人|人|万户|户|万套|套|万家|家|万个|个|万辆|辆|"
    "万吨|吨|微克/立方米|立方米|座|条|处|所|项|条|张|台|栋|km|㎡|%|‰|万|亿|倍|岁|年|月|日|天|小时|分钟"
)
_NUMBER = re.compile(rf"\d+(?:[.,]\d+)*(?:{_UNITS})?")
_WORDLIKE = re.compile(r"[\w]", re.UNICODE)
# Words jieba's dictionary tags as places (`ns`) that in these questions are not: "新建几座消防站"
# (to build), "都市圈", "城市副中心", "三区叠加", "平原新城". An answer's cited text need not repeat
# them (`assistant.chain.uncited_specifics`).
_NOT_PLACES = frozenset(
    {"新建", "城市", "都市", "新城", "三区", "三镇", "美丽", "串联", "关联", "河湖", "海港", "周边地区",
     "北头", "南头", "东头", "西头"}  # "the north end" of a line or corridor
)
# Question words the stopword list cannot spell out, as jieba cuts them: 哪儿, 哪几个, 哪一年,
# 哪天, 几条, 几座, 多长, 多大. No report uses them, so they weighed most in a question's
# coverage (a word no passage holds pulls it down) and colloquial questions ("京津走廊是从哪儿到
# 哪儿？") were refused as off-topic.
_QUESTION_WORD = re.compile(r"^(?:哪|几(?!乎)|多[少长大高远久宽深重]$)")


class ChineseTokenizer:
    """jieba with the reports' own terms; one instance per process, handed down by the edge."""

    def __init__(
        self,
        userdict: Path | None = None,
        stopwords: Path | None = None,
        places: Path | None = None,
    ) -> None:
        self._userdict = userdict or DATA_DIR / "userdict.txt"
        self._stopwords_path = stopwords or DATA_DIR / "stopwords.txt"
        self._places_path = places or DATA_DIR / "places.txt"

    @cached_property
    def _jieba(self) -> jieba.Tokenizer:
        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        if self._userdict.exists():
            tokenizer.load_userdict(str(self._userdict))
        return tokenizer

    @cached_property
    def stopwords(self) -> frozenset[str]:
        if not self._stopwords_path.exists():
            return frozenset()
        words = self._stopwords_path.read_text(encoding="utf-8").split()
        return frozenset(w.strip() for w in words if w.strip())

    def tokenize(self, text: str) -> list[str]:
        """Tokens of `text`, numbers with units whole (`44.9%`, `2.7万平方公里`) and bare too."""
        text = unicodedata.normalize("NFKC", text).lower()
        # Figures are often split from their units by stray spaces in the extracted PDFs.
        text = re.sub(r"(?<=\d)\s+(?=[%‰\u4e00-\u9fff])", "", text)
        tokens: list[str] = []
        pos = 0
        for match in _NUMBER.finditer(text):
            tokens.extend(self._words(text[pos : match.start()]))
            figure = match.group(0).replace(",", "")
            tokens.append(figure)
            bare = re.match(r"\d+(?:\.\d+)?", figure)
            if bare and bare.group(0) != figure:
                tokens.append(bare.group(0))
            pos = match.end()
        tokens.extend(self._words(text[pos:]))
        return tokens

    def _words(self, text: str) -> list[str]:
        if not text.strip():
            return []
        return [
            w
            for w in self._jieba.lcut_for_search(text)
            if w.strip()
            and w not in self.stopwords
            and _WORDLIKE.search(w)
            and not _QUESTION_WORD.match(w)
        ]

    def word_spans(self, text: str) -> list[tuple[int, int]]:
        """[start, end) of each word of `text` (jieba's default cut with the reports' terms)."""
        return [(start, end) for _, start, end in self._jieba.tokenize(text)]

    @cached_property
    def _tagger(self) -> jieba.posseg.POSTokenizer:
        import jieba.posseg

        class MainDictionaryTags(jieba.posseg.POSTokenizer):
            """Tags from jieba's main dictionary only. A stock POSTokenizer takes over the user
            dictionary's tags on its first cut; ours tag every planning term `n`, which would
            hide "天津市" and the like from `place_names`."""

            def makesure_userdict_loaded(self) -> None:
                pass

        return MainDictionaryTags(self._jieba)

    def _tagged(self, text: str) -> list:
        return self._tagger.lcut(unicodedata.normalize("NFKC", text))

    def tagged_words(self, text: str) -> list[tuple[str, str]]:
        """(word, jieba's part-of-speech tag from its main dictionary) for each word, in order."""
        return [(w.word, w.flag) for w in self._tagged(text)]

    def word_tags(self, text: str) -> dict[str, str]:
        """word -> jieba's part-of-speech tag (main dictionary) for the words of `text`."""
        return dict(self.tagged_words(text))

    @cached_property
    def listed_places(self) -> dict[str, tuple[str, ...]]:
        """The reports' place names jieba does not know (`data/places.txt`) -> their other names."""
        return read_name_list(self._places_path) if self._places_path.exists() else {}

    @cached_property
    def _listed_pattern(self) -> re.Pattern[str] | None:
        names = sorted(self.listed_places, key=len, reverse=True)  # 亦庄新城 before 亦庄
        return re.compile("|".join(map(re.escape, names))) if names else None

    def place_names(self, text: str) -> list[str]:
        """Place names in `text`, in order: the listed ones (`listed_places`), then jieba's `ns`
        words of two characters or more that overlap none of them (not 城镇 of 潞城镇)."""
        text = unicodedata.normalize("NFKC", text)
        listed = list(self._listed_pattern.finditer(text)) if self._listed_pattern else []
        taken = [(m.start(), m.end()) for m in listed]
        found = [m.group(0) for m in listed]
        pos = 0
        for w in self._tagger.lcut(text):
            start, pos = pos, pos + len(w.word)
            if (
                w.flag == "ns"
                and len(w.word) >= 2
                and w.word not in _NOT_PLACES
                and not any(a < pos and start < b for a, b in taken)
            ):
                found.append(w.word)
        return list(dict.fromkeys(found))
