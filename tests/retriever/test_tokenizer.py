"""Tokens for BM25: reports' terms whole, numbers with units whole, stopwords gone."""

import pytest

from retriever.tokenizer import ChineseTokenizer


@pytest.fixture(scope="module")
def tok() -> ChineseTokenizer:
    return ChineseTokenizer()


def test_report_terms_stay_whole(tok):
    tokens = tok.tokenize("北三县与城市副中心一体化发展，疏解非首都功能")
    assert "北三县" in tokens and "城市副中心" in tokens and "非首都功能" in tokens


def test_numbers_keep_units_and_fullwidth_is_normalised(tok):
    tokens = tok.tokenize("森林覆盖率达到４４．９％，面积2.7 万平方公里")
    assert "44.9%" in tokens and "44.9" in tokens
    assert "2.7万平方公里" in tokens


def test_stopwords_and_punctuation_dropped(tok):
    tokens = tok.tokenize("请问北京的常住人口是多少？")
    assert "的" not in tokens and "？" not in tokens and "多少" not in tokens
    assert "常住人口" in tokens


def test_question_words_are_not_terms(tok):
    # No report says 哪儿, 几条 or 多长: as terms they made a question look off-topic.
    tokens = tok.tokenize("京津走廊是从哪儿到哪儿？现在一共有几条线路，大概多长？哪几个区？")
    assert tokens == ["京津", "走廊", "线路", "区"]
    # words that only start like a question word stay
    tokens = tok.tokenize("构建多层次轨道交通体系，几乎覆盖多数地区")
    assert {"多层次", "几乎", "多数", "地区"} <= set(tokens)


def test_colloquial_framing_words_are_not_terms(tok):
    # 期间, 打算, 那场, 说法…: how people frame a question; no report uses them (the reports say
    # 时期, 规划, 上年), so as terms they only lowered a question's coverage.
    tokens = tok.tokenize("按那份报告的说法，十四五期间通州打算另外建几座变电站？")
    assert not {"期间", "打算", "那份", "说法", "另外"} & set(tokens)
    assert {"十四五", "通州", "变电站"} <= set(tokens)


def test_place_names_are_the_same_on_every_call():
    # A stock jieba POSTokenizer takes over the user dictionary's tags (all `n`) on its first
    # cut only, so a fresh tokenizer's first and second answers used to differ.
    fresh = ChineseTokenizer()
    question = "天津市2024年末的常住人口是多少？"
    first = fresh.place_names(question)
    assert first == fresh.place_names(question)
    assert "天津市" in first


def test_place_names_skip_planning_terms_and_plain_words(tok):
    names = tok.place_names("城市副中心的常住人口规模是多少？")
    assert names == []


@pytest.mark.parametrize(
    ("question", "places"),
    [
        ("通州十五五要新建扩建多少座110千伏变电站？", ["通州"]),  # 新建: to build
        ("石家庄都市圈里哪几个城市被纳入首都都市圈？", ["石家庄"]),  # listed: jieba says nr
        ("北京大兴国际机场临空经济区的“三区叠加”是哪三区？", ["大兴国际机场", "北京"]),
        ("天津市滨海新区和河北廊坊", ["天津市", "滨海新区", "河北", "廊坊"]),
        ("京雄走廊北头从哪里起，南边到哪里？", ["京雄"]),  # 北头: the north end
    ],
)
def test_words_tagged_as_places_that_are_not_are_left_out(tok, question, places):
    assert tok.place_names(question) == places


@pytest.mark.parametrize(
    ("question", "places"),
    [
        # the reports' places jieba misses (雄安新区: x, 石家庄: nr) or cuts (潞城镇 -> 城镇)
        ("雄安新区到2035年常住人口规模要控制在多少万人？", ["雄安新区"]),
        ("潞城镇有几所学校？", ["潞城"]),
        ("唐山港一年的货物吞吐量有多少？", ["唐山港"]),
        ("亦庄新城的规划面积", ["亦庄新城"]),  # the longer name, not 亦庄 inside it
        ("通州区加上北三县，总面积有多大？", ["北三县", "通州区"]),
        ("2023年首都机场的旅客吞吐量是多少？", ["首都机场"]),  # jieba: 首都机场 n
    ],
)
def test_listed_places_are_place_names(tok, question, places):
    assert tok.place_names(question) == places


def test_listed_places_come_with_their_other_names(tok, tmp_path):
    assert tok.listed_places["雄安新区"] == ("雄安",)
    assert set(tok.listed_places["北三县"]) == {"三河", "大厂", "香河"}
    # a passage names 大兴国际机场 once, then says 机场; 首都机场 must be named
    assert "机场" in tok.listed_places["大兴机场"] and "机场" not in tok.listed_places["首都机场"]
    listed = tmp_path / "places.txt"
    listed.write_text("# comment\n\n甲乙庄=甲庄, 乙庄\n", encoding="utf-8")
    own = ChineseTokenizer(places=listed)
    assert own.listed_places == {"甲乙庄": ("甲庄", "乙庄")}
    assert own.place_names("甲乙庄有多大？") == ["甲乙庄"]
    assert ChineseTokenizer(places=tmp_path / "none.txt").place_names("雄安新区有多大？") == []
