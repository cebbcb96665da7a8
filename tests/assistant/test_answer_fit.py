"""`misfit`: answers that do not answer the question asked (the near-miss refusals)."""

from __future__ import annotations

import pytest

from assistant.answer_fit import answers_only_with, asked_kind, misfit
from assistant.grounding import stated_loosely

PASSAGES = [
    "2024年居民人均可支配收入较2020年增长27.1%。拟设置床位400张。",
    "类别\t序号\t指标名称\t目标值\n\t24\t基层卫生医疗机构诊疗量占比（%）\t≥52\t预期性",
    "规划面积约155平方公里，到2035年常住人口规模控制在130万人以内。",
    "2015年北京PM2.5平均浓度同比下降6.2%，天津投入4亿元支持沧州、唐山两市治理大气污染。",
]


@pytest.mark.parametrize(
    ("question", "answer", "words"),
    [
        ("北京艺术博物馆的建筑面积是多少？", "北京艺术博物馆的建筑面积是[2]", "没有数字"),
        ("宋庄聚集了多少名艺术家？", "宋庄聚集了艺术家，具体人数未给出[1]。", "没有给出"),
        ("六环高线公园的总投资是多少亿元？", "总投资是100亿元[2]。", "100亿元"),
        ("2024年通州地区生产总值是多少亿元？", "2024年为27.1亿元[1]。", "27.1亿元"),
        ("城镇居民人均可支配收入是多少元？", "为27.1%[1]。", "同一种量"),
        # a bare number beside figures of another kind: growth rates and a ratio's change
        ("2024年居民人均可支配收入是多少元？", "较2020年增长27.1%，收入比缩小0.11[1]。", "同一种量"),
        ("妇幼保健院迁建工程总投资是多少？", "400张床位[1]", "同一种量"),
        ("雄安新区现在的常住人口有多少？", "155平方公里[3]", "同一种量"),  # an area for people
        ("北京城市图书馆有多少册藏书？", "有400张[1]。", "多少册"),  # counted in another unit
        ("拟设几座变电站？", "400张床位[1]", "多少座"),
        # a change of anything but money, answered with a sum of money
        ("2015年天津的PM2.5平均浓度同比下降了多少？", "天津投入4亿元治理大气污染[4]。", "同一种量"),
        # a question asking when, answered without a year, month or day
        ("环球度假区二期什么时候开业？", "推动环球度假区后续项目建设[2]。", "时间"),
        ("M102线预计哪一年能通车？", "M102线长约18公里，设车站16座[1]。", "时间"),
        ("2024年北京城市图书馆是哪天开馆的？", "2024年北京城市图书馆开馆[1]。", "时间"),
    ],
)
def test_misfits(question, answer, words):
    assert words in misfit(question, answer, PASSAGES)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("副中心规划面积多大？", "约155平方公里[3]。"),
        ("到2035年常住人口规模控制在多少？", "2035年控制在130万人以内[3]。"),  # 2035年 is the question's
        ("基层医疗卫生机构的诊疗量要占到多少？", "52%"),  # a table cell without its unit
        ("居民收入比2020年增长了多少？", "增长27.1%[1]。"),  # growth of money is a share
        ("拟设几张床位？", "四百张[1]"),
        ("要建哪几座博物馆？", "北京艺术博物馆、梨园美术馆[1]。"),  # a list, not a quantity
        ("这几年通州做了什么？", "开展城市更新[1]。"),
        # "these several" points at things already named: the name answers it
        ("京津冀这几个港口分工里，哪个港口定位成煤炭装船港？", "秦皇岛港[1]。"),
        # a count word that only says "the several": the names answer it
        ("要建成的几个标志性项目都有哪些？", "北京艺术博物馆、梨园美术馆[1]。"),
        ("副中心常住人口规模控制在多少？", "130万[3]"),  # people without a unit
        ("三地人口加起来有多少？", "人口1亿多，面积155平方公里[3]"),  # 1亿: a count of any kind
        ("常住人口规模控制在多少以内？", "约130万人[3]"),
        ("拟设置床位多少张？", "400张[1]"),  # the counter asked
        ("医院设多少张床位、面积多大？", "155平方公里、400张[1]"),  # one of two parts
        ("拟设置多少个床位？", "400张[1]"),  # 个 counts anything
        ("有哪几张床？", "400张[1]"),  # a list
        ("绿地面积增长了多少？", "增长27.1%[1]。"),  # a change of an area
        ("2015年北京PM2.5平均浓度同比下降了多少？", "下降6.2%[4]。"),
        ("PM2.5浓度哪一年同比下降？", "2015年[4]"),  # a year asked with a change word
        ("治理大气污染的资金增长了多少？", "投入4亿元[4]。"),  # money words: a sum may answer
    ],
)
def test_fits(question, answer):
    assert misfit(question, answer, PASSAGES) == ""


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("《京津冀自贸试验区协同发展行动方案》是哪天签署的？", "2023年12月25日签署[1]。"),
        ("2023年的“百千工程”是什么时候启动的？", "2023年9月启动[1]。"),  # 9月 besides its 2023年
        ("老旧小区改造说的是哪年以前建成的小区？", "2000年底前建成的小区[1]。"),
        ("这项工程什么时候完成？", "“十五五”时期完成[1]。"),
        ("2024年度读本里的人口是多少？", "2183.2万人[1]。"),  # 年度 names a report, not asks when
    ],
)
def test_a_time_answers_a_question_asking_when(question, answer):
    assert misfit(question, answer, [answer]) == ""


SIZES = [
    "怀柔科学城29个科学设施平台全部进入科研状态。规划面积约1770平方公里。新增绿地1.5万亩。",
    "由13个公园串联形成环城绿色休闲游憩环。线路长约18公里，设车站16座，工期3年。",
]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("怀柔科学城的规划面积有多大？", "规划面积为29个科学设施平台[1]。"),  # a count for an area
        ("城市绿心占地多大？", "占地13个公园[2]。"),
        ("这条线路有多长？", "设车站16座[2]。"),  # stations for a length
    ],
)
def test_a_count_for_an_area_or_length_misfits(question, answer):
    assert "同一种量" in misfit(question, answer, SIZES)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("雄安新区规划面积多大？", "约1770平方公里[1]。"),
        ("新增绿地面积多大？", "1.5万亩[1]"),  # another unit of area
        ("线路有多长？", "长约18公里[2]"),
        ("工期有多长时间？", "3年[2]"),  # a time, not a length
    ],
)
def test_an_area_or_length_fits(question, answer):
    assert misfit(question, answer, SIZES) == ""


def test_asked_kind():
    assert asked_kind("总投资是多少亿元？") == "money"
    assert asked_kind("总投资是多少？") == "money"
    assert asked_kind("研发经费投入强度是多少？") == ""
    assert asked_kind("面积有多少平方公里？") == "area"
    assert asked_kind("常住人口是多少？") == "people"
    assert asked_kind("有多少人参加？") == "people"
    assert asked_kind("常住人口占全市的比重是多少？") == ""  # a share of people
    assert asked_kind("人口密度是多少？") == ""  # people per km², not people
    assert asked_kind("接待游客多少人次？") == ""
    assert asked_kind("规划面积有多大？") == "area"
    assert asked_kind("占地多大？") == "area"
    assert asked_kind("人均公园绿地面积是多少？") == ""  # per person
    assert asked_kind("全长多少？") == "length"
    assert asked_kind("建设工期有多长时间？") == ""


def test_an_answer_none_of_whose_figures_is_in_what_it_cites_misfits():
    question = "2024年北京新建了多少个5G基站？"
    cited = ["推动5G、光纤网络向农村地区延伸。\n表5-1镇村基础设施", "2024年全市新建学校19所。"]
    answer = "2024年北京新建了5个5G基站。[1][2]"
    # an uncited passage states 5个: the figure is real, but not where the answer says
    passages = [*cited, "建成5个示范片区。"]
    assert misfit(question, answer, passages) == ""
    assert "不在所引的报告原文中" in misfit(question, answer, passages, cited)
    # one cited figure is enough; the others are the grounding check's to flag
    assert misfit(question, "新建5个，学校19所。[1][2]", passages, cited) == ""
    assert misfit(question, answer, passages, ["全市建成5个示范片区。"]) == ""


def test_stated_loosely_only_without_a_unit():
    assert stated_loosely("52%", "占比（%）\t≥52\t预期性")
    # a number inside a name or a label is not a value
    assert not stated_loosely("5个", "推动5G、光纤网络延伸")
    assert not stated_loosely("5个", "表5-1镇村基础设施")
    assert not stated_loosely("2.5", "PM2.5浓度")
    assert not stated_loosely("6.45亿元", "年均增长6.45%，")
    assert not stated_loosely("5", "2185.8万人")


PLAN_ROW = "25\t养老机构护理型床位占比（%）\t≥75\t预期性"
TARGET = "规划面积约155平方公里，到2035年常住人口规模控制在130万人以内。"
NOW = "2024年末常住人口185.3万人，较2020年增加2.1万人。"
CHANGE = "轨道交通总里程较2020年增加10.89公里，城区道路路网密度达到5.12公里/平方公里。"
SINCE = "自2019年9月投运至2023年底，机场累计完成航班起降约76万架次，旅客吞吐量9397万人次。"
PER_HEAD = "按不变价格计算，年均增长5.8%，人均地区生产总值2023年为95338元，比全国平均水平高5980元。"
FELL = "细颗粒物年均浓度由2020年的38微克/立方米降至2023年的32微克/立方米。"


@pytest.mark.parametrize(
    ("question", "answer", "passage", "words"),
    [
        # how things stand now, answered with a plan's target
        ("通州养老机构里护理型床位现在占多大比例？", "75%[1]", PLAN_ROW, "规划目标"),
        ("副中心现在的常住人口有多少？", "130万人[1]", TARGET, "规划目标"),
        # a total, answered with the amount it grew by
        ("通州的轨道交通总里程一共有多少公里？", "10.89公里[1]", CHANGE, "增减"),
        ("副中心常住人口有多少？", "2.1万人[1]", NOW, "增减"),
        # a density is not a number of people
        ("雄安新区现在的常住人口有多少？", "1万人/平方公里[1]", "规划建设区按1万人/平方公里控制。", "同一种量"),
        # "一批" is "a number of", not a count
        ("宋庄聚集了多少名艺术家？", "形成一批艺术家工作室[1]。", "形成一批艺术家工作室。", "没有数字"),
        # a price is money
        ("2024年北京商品住宅的平均房价是多少？", "优良天数为290天[1]。", "优良天数为290天。", "同一种量"),
        # one year asked, answered with a total over years up to it
        ("2023年全年大兴机场的旅客吞吐量是多少？", "9397万人次[1]", SINCE, "累计"),
        # a total asked, answered per head
        ("2023年北京市地区生产总值是多少？", "95338元[1]", PER_HEAD, "人均"),
    ],
)
def test_a_target_change_or_rate_misfits(question, answer, passage, words):
    assert words in misfit(question, answer, [passage], [passage])


@pytest.mark.parametrize(
    ("question", "answer", "passage"),
    [
        ("到“十五五”末，护理型床位占比要达到多少？", "75%[1]", PLAN_ROW),  # the target asked
        ("副中心常住人口规模控制在多少？", "130万人[1]", TARGET),  # no "now": a plan may answer
        ("副中心现在的常住人口有多少？", "185.3万人[1]", NOW),
        ("常住人口比2020年增加了多少？", "2.1万人[1]", NOW),  # the change asked
        ("城区道路路网密度现在是多少？", "5.12公里/平方公里[1]", CHANGE),
        # a size in front of its noun is not a change: "扩大19.28万亩耕地保护空间"
        ("通州的耕地保护空间有多少万亩？", "19.28万亩[1]", "持续扩大19.28万亩耕地保护空间高标准农田覆盖范围。"),
        ("分几批搬迁？", "分三批搬迁[1]。", "分三批搬迁。"),
        # the span asked, or no single year: a total over years answers
        ("大兴机场投运以来累计旅客吞吐量是多少？", "9397万人次[1]", SINCE),
        ("大兴机场旅客吞吐量一共有多少？", "9397万人次[1]", SINCE),
        # a change from an earlier year ("由2020年的…降至") is not a span of years
        ("2023年细颗粒物年均浓度是多少？", "32微克/立方米[1]", FELL),
        # an economy's output is money, its growth from one level to another too
        (
            "京津冀经济总量从2013年到2023年由多少增长到了多少？",
            "从55340亿元增长到104442亿元[1]。",
            "2023年，京津冀经济总量从2013年的55340亿元提升至104442亿元。",
        ),
        # per head asked
        ("2023年北京人均地区生产总值是多少？", "95338元[1]", PER_HEAD),
    ],
)
def test_a_level_or_target_asked_fits(question, answer, passage):
    assert misfit(question, answer, [passage], [passage]) == ""


@pytest.mark.parametrize(
    ("question", "answer", "figures", "only"),
    [
        # the asked length is the invented one; the count beside it is not what was asked
        ("京唐城际铁路全长多少公里？", "全长1000公里。…等7项重点铁路续建项目[3]。", ["1000公里"], True),
        # a side figure miscopied, the asked one stated
        ("2023年末全市常住人口是多少？", "2185.8万人，较上年末增加1.6万人[1]。", ["1.6万人"], False),
        # a counter asked ("多少座"): the figures in 座
        ("轨道交通有多少座车站？", "运营里程836公里[1]，共有车站490座[1]。", ["490座"], True),
        ("轨道交通有多少座车站？", "运营里程836公里[1]，共有车站490座[1]。", ["836公里"], False),
        # no kind named: every figure must be among them
        ("京唐城际铁路什么时候开通？", "2017年12月[3]", ["12月"], False),
        ("京唐城际铁路什么时候开通？", "2017年12月[3]", ["2017年", "12月"], True),
        # the question's own figures never count
        ("2024年新增了多少公里？", "2024年新增20公里[1]", ["20公里"], True),
        # nothing stated at all: nothing to refuse for
        ("京唐城际铁路全长多少公里？", "全长见报告[1]。", [], False),
    ],
)
def test_answers_only_with(question, answer, figures, only):
    assert answers_only_with(question, answer, figures) is only
