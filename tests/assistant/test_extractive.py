"""The model-free backend: it quotes the right sentence, verbatim, or refuses."""

from __future__ import annotations

import re

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from assistant.backend_extractive import (
    ExtractiveChatModel,
    _answered,
    _defined_terms,
    _spells_out,
    _states_each,
    extractive_answer,
    is_caption,
    score_sentences,
    truncate_sentence,
)
from assistant.grounding import verify_answer
from assistant.models import REFUSAL

PASSAGES = [
    "北京市人口调控政策持续优化，全市各区人口规模保持稳定。城市副中心规划范围155平方公里。",
    "北京中轴线正式列入《世界遗产名录》。全市森林覆盖率达到44.9%，平原地区森林覆盖率达到32.5%。",
    "城乡建设用地规模持续下降。\n2023年末全市常住人口2185.8万人，较上年末增加1.5万人。",
]


def quotes(answer: str) -> list[tuple[str, int]]:
    return [(q, int(n)) for q, n in re.findall(r"“(.*?)”\[(\d+)\]", answer)]


class TestExtractiveAnswer:
    def test_picks_the_fact_in_passage_three_over_distractors(self, tokenizer):
        answer = extractive_answer("2023年末全市常住人口是多少？", PASSAGES, tokenizer)
        assert quotes(answer)[0] == ("2023年末全市常住人口2185.8万人，较上年末增加1.5万人。", 3)

    def test_quotes_are_verbatim_and_cited_to_their_passage(self, tokenizer):
        answer = extractive_answer("森林覆盖率达到多少", PASSAGES, tokenizer)
        assert answer.startswith("据报告：")
        for quote, n in quotes(answer):
            assert quote in PASSAGES[n - 1]
        assert quotes(answer)[0][1] == 2

    def test_answer_passes_grounding(self, tokenizer):
        answer = extractive_answer("北京中轴线列入世界遗产名录了吗", PASSAGES, tokenizer)
        assert verify_answer(answer, PASSAGES).grounded

    def test_nothing_matches_refuses(self, tokenizer):
        assert extractive_answer("火星基地什么时候建成？", PASSAGES, tokenizer) == REFUSAL
        assert extractive_answer("常住人口多少", [], tokenizer) == REFUSAL

    def test_at_most_max_sentences(self, tokenizer):
        answer = extractive_answer("规模", PASSAGES, tokenizer, max_sentences=1)
        assert len(quotes(answer)) == 1

    def test_a_comparison_quotes_the_other_passage_too(self, tokenizer):
        years = [
            "2024年度：全市外调绿电规模提升至354亿千瓦时，同比增长26.9%。",
            "2023年度：全市外调绿电规模为279亿千瓦时。",
        ]
        # The 2023 sentence scores ~0.7 of the best: enough for a question comparing two years,
        # not for one asking about 2024 alone.
        both = extractive_answer("2024年度和上一年全市外调绿电规模分别是多少？", years, tokenizer)
        assert [n for _, n in quotes(both)] == [1, 2]
        one = extractive_answer("2024年度全市外调绿电规模是多少？", years, tokenizer)
        assert [n for _, n in quotes(one)] == [1]

    def test_a_how_many_answer_stated_in_one_passage_is_not_joined_by_another(self, tokenizer):
        circles = [
            "城市副中心建成一刻钟便民生活圈62个，实现覆盖率100%。",
            "全市一刻钟便民生活圈总数已达到693个，服务品质持续提升。",
        ]
        # The other passage's sentence scores close enough to join an answer that lists...
        listed = extractive_answer("一刻钟便民生活圈建设有哪些进展？", circles, tokenizer)
        assert [n for _, n in quotes(listed)] == [1, 2]
        # ...but a how-many question is answered by the first sentence's quantity alone.
        counted = extractive_answer("一刻钟便民生活圈有多少个？", circles, tokenizer)
        assert quotes(counted) == [(circles[0], 1)]

    @pytest.mark.parametrize(
        ("question", "first", "answered"),
        [
            ("全市一刻钟便民生活圈有多少个？", "全市一刻钟便民生活圈总数已达到693个。", True),
            # dates and the question's own figures are no answer to how many
            ("2023年京津冀经济总量是多少？", "2024年9月，新中国75年经济社会发展成就报告发布。", False),
            ("M102线设几个站？", "推进M102线规划方案研究。", False),
            # not a how-many question, or one asked in parts
            ("便民生活圈有哪些？", "全市一刻钟便民生活圈总数已达到693个。", False),
            ("总面积多大？其中起步区多大？", "雄安新区规划面积1770平方公里。", False),
        ],
    )
    def test_which_first_quotes_answer_a_how_many_question(
        self, tokenizer, question, first, answered
    ):
        chosen = score_sentences(question, [first], tokenizer)[:1]
        assert _answered(question, chosen) is answered

    def test_a_comparison_whose_first_quote_states_each_figure_is_not_joined(self, tokenizer):
        falls = [
            "2023年，京津冀三地PM2.5浓度与2013年相比分别下降64.2%、57.3%和64.3%。",
            "京津冀三地PM2.5年均浓度与2013年相比降幅均超六成。",
        ]
        question = "跟2013年比，2023年京津冀三地PM2.5浓度分别下降了多少？"
        assert quotes(extractive_answer(question, falls, tokenizer)) == [(falls[0], 1)]
        # the second passage scores close enough to join a comparison the first does not answer
        other = ["2023年，京津冀三地PM2.5浓度与2013年相比下降明显。", falls[1]]
        assert [n for _, n in quotes(extractive_answer(question, other, tokenizer))] == [1, 2]

    @pytest.mark.parametrize(
        ("question", "first", "years", "states"),
        [
            ("解决率分别是从多少提高到多少？", "解决率均值从去年的94.3%提升到96.7%。", set(), True),
            # one figure asked: `_answered` decides
            ("解决率提高到了多少？", "解决率均值从去年的94.3%提升到96.7%。", set(), False),
            # the two figures are in clauses about other things, or of two kinds
            ("全市和通州的生活圈各有多少个？", "建成生活圈62个、实现覆盖率100%。", set(), False),
            ("森林覆盖率和全市比分别是多少？", "PM2.5浓度降至30微克，森林覆盖率达到34.62%。", set(), False),
            # two years compared: one reader's change does not give the other reader's figure
            (
                "高铁总里程2023年度和2024年度分别是多少公里？",
                "京津冀高铁总里程由2013年的1284公里增长到2669公里。",
                {"2023年", "2024年"},
                False,
            ),
        ],
    )
    def test_which_first_quotes_state_each_figure_asked(
        self, tokenizer, question, first, years, states
    ):
        [sentence] = score_sentences(question, [first], tokenizer)[:1]
        assert _states_each(question, sentence, years) is states

    def test_a_question_in_parts_quotes_the_sentence_for_the_other_part(self, tokenizer):
        road = [
            "六环路改造工程通州段工程分为南北两段，南段西起区界，东至京哈高速，长约17.7公里；"
            "北段北起区界，南至潞苑北大街，长约8.1公里。改造后通行能力明显提升。",
            "六环路沿线绿化工程同步实施，新增绿地约200公顷。",
        ]
        both = extractive_answer("六环路改造工程通州段，南段和北段分别多长？", road, tokenizer)
        assert "长约17.7公里" in both and "长约8.1公里" in both
        # one part asked: one sentence
        south = extractive_answer("六环路改造工程通州段的南段多长？", road, tokenizer)
        assert len(quotes(south)) == 1 and "8.1公里" not in south
        # a first sentence that already states two figures needs no second one
        stated = extractive_answer(
            "南段和北段分别多长？", ["南段长约17.7公里，北段长约8.1公里。北段沿线新增绿地12公顷。"],
            tokenizer,
        )
        assert len(quotes(stated)) == 1

    def test_a_definition_question_quotes_the_sentence_that_spells_the_term_out(self, tokenizer):
        layout = [
            "按照错位发展的思路，形成“一核、两区、三镇重点突破，一带、一轴、一廊串联发展”的格局。",
            "“一核”即运河商务区。“一廊”即东南部智造廊。",
        ]
        # The first sentence repeats every quoted item of the question; only the second says what
        # the asked term (the last quoted one) is.
        answer = extractive_answer("“一核、两区、三镇……一廊”中的“一廊”指什么？", layout, tokenizer)
        assert quotes(answer)[0] == ("“一廊”即东南部智造廊。", 2)

    def test_a_sentence_spelling_the_term_out_is_not_joined_by_another_passage(self, tokenizer):
        nets = [
            "推动“四网融合”（干线铁路、城际铁路、市域（郊）铁路、城市轨道交通的融合）。",
            "充分发挥综合交通枢纽辐射作用，深化“四网融合”，优化运营服务。",
        ]
        # The other passage only names the term: it adds a citation without the answer.
        answer = extractive_answer("“四网融合”是哪四张网？", nets, tokenizer)
        assert quotes(answer) == [(nets[0], 1)]
        # Without a sentence spelling it out, both passages' sentences are quoted.
        named = [nets[1], "推动“四网融合”，加快枢纽节点功能提升。"]
        assert len(quotes(extractive_answer("“四网融合”是哪四张网？", named, tokenizer))) == 2

    def test_a_first_quote_listing_the_names_asked_is_not_joined_by_another_passage(
        self, tokenizer
    ):
        parks = [
            "在北京顺义、天津武清、河北廊坊建设3个京津冀智能网联新能源汽车科技生态港园区。",
            "共建京津冀智能网联新能源汽车科技生态港，印发实施产业创新发展实施方案。",
        ]
        question = "3个智能网联新能源汽车科技生态港园区分别建在哪几个地方？"
        assert quotes(extractive_answer(question, parks, tokenizer)) == [(parks[0], 1)]
        # a first quote listing nothing leaves room for the other passage
        unlisted = [parks[1], "智能网联新能源汽车科技生态港园区在北京顺义建设。"]
        assert len(quotes(extractive_answer(question, unlisted, tokenizer))) == 2

    def test_a_list_answers_a_question_asking_where_or_which_each_one_is(self, tokenizer):
        from assistant.backend_extractive import _lists_each, score_sentences

        airports = [
            "深化京津冀“三地四场”功能定位，构建以北京双枢纽机场为核心的京津冀世界级机场群。",
            "依托“三地四场”（北京首都国际机场、北京大兴国际机场、天津滨海国际机场、石家庄正定国际机场），"
            "推动空港协作。",
        ]
        question = "“三地四场”里的四个机场分别是哪四个？"
        first = score_sentences(question, airports, tokenizer)[0]
        assert _lists_each(question, first)
        # "分别" asks about each of several: the list answers it whole, alone.
        assert quotes(extractive_answer(question, airports, tokenizer)) == [(airports[1], 2)]
        assert _lists_each("3个园区分别建在哪里？", first)
        # Two figures compared, not a list: the other side may be in another passage.
        for compared in ("换乘站点占比，两年读本分别是多少？", "三个小镇分别有多少人？"):
            assert not _lists_each(compared, first), compared

    @pytest.mark.parametrize(
        ("text", "caption"),
        [
            ("图04首都都市圈产业发展空间格局规划示意图", True),
            ("表2-1博物馆之城示范区重点项目表", True),
            ("4.《北京城市总体规划（2016年—2035年）》", True),
            ("按规划示意图推进博物馆建设。", False),  # a sentence
            ("《北京城市总体规划（2016年—2035年）》获批", False),
        ],
    )
    def test_which_lines_are_captions(self, text, caption):
        assert is_caption(text) is caption

    def test_a_caption_is_never_quoted(self, tokenizer):
        museums = ["表2-1博物馆之城示范区重点项目表", "建成北京艺术博物馆、梨园美术馆等项目。"]
        question = "博物馆之城示范区重点项目有哪些？"
        # the caption holds the question's words best...
        assert score_sentences(question, museums, tokenizer)[0].text == museums[0]
        # ...but names what a table shows; the sentence stating them is quoted
        assert quotes(extractive_answer(question, museums, tokenizer)) == [(museums[1], 2)]

    @pytest.mark.parametrize(
        ("sentence", "spelled"),
        [
            ("“五辅”即雄县、容城、安新县城及寨里、昝岗五个外围组团；", True),
            ("三城一区（中关村科学城、怀柔科学城、未来科学城、创新型产业集群示范区）", True),
            ("通武廊地区包括北京市通州区、天津市武清区和河北省廊坊市的相关地区。", True),
            ("推动河北雄安新区和北京城市副中心“两翼”比翼齐飞。", True),
            # "…，即…" after the term: 培育京津雄地区创新三角，即以首都为核心、三点支撑的创新集聚区
            ("培育京津雄地区创新三角，即以首都为核心、三点支撑的创新集聚区。", True),
            # the term is one more item of a list, or only named
            ("加大河北雄安新区、通州区与北三县、天津滨海新区政策赋能力度。", False),
            ("形成“一核、两区、三镇”的格局。", False),
            ("发挥“两翼”的牵引支撑作用。", False),
            ("培育京津雄地区创新三角，提升首都都市圈核心竞争力。", False),
        ],
    )
    def test_which_sentences_spell_a_term_out(self, sentence, spelled):
        terms = ["五辅", "三城一区", "通武廊", "两翼", "北三县", "一核", "创新三角"]
        assert _spells_out(sentence, terms) is spelled

    def test_a_question_asking_when_quotes_the_sentence_stating_a_time(self, tokenizer):
        layout = [
            "“百千工程”即“百村示范、千村振兴”工程，是深入学习运用“千万工程”经验的重要举措。"
            "深入实施“百千工程”，基本完成第一批19个示范村建设。",
            "“百千工程”自2023年9月启动，旨在推动乡村全面振兴。",
        ]
        # "什么时候" asks a time, not what the quoted term means; a count (19个) is not a time
        answer = extractive_answer("北京的“百千工程”是什么时候启动的？", layout, tokenizer)
        assert quotes(answer)[0] == (layout[1], 2)

    def test_a_yearly_reports_sentences_hold_the_year_of_its_title(self, tokenizer):
        passages = [
            "全市监测评价总指数为117.7，比2023年提高7.2。",
            "全市各类公园已达到1065个，成为“千园之城”。",
            "全市公园总数达到1100个，市民游憩空间更加丰富。",
        ]
        titles = [
            "北京城市副中心（通州区）国民经济和社会发展第十五个五年规划纲要",
            "北京城市总体规划实施体检报告公众读本（2023年度）",
            "北京城市总体规划实施体检报告公众读本（2024年度）",
        ]
        question = "北京全市公园数量2023年达到多少个，2024年又是多少个？"
        answer = extractive_answer(question, passages, tokenizer, titles=titles)
        # one quote for each year, each from the reader of that year
        assert set(quotes(answer)) == {(passages[1], 2), (passages[2], 3)}
        # a plan period is not the year of each of its sentences
        plan = ["现代化首都都市圈空间协同规划（2023—2035年）"] * 3
        scored = score_sentences(question, passages, tokenizer, titles=plan)
        assert all("2023年" not in s.held or "2023年" in s.text for s in scored)

    def test_a_term_only_the_heading_holds_counts_for_its_sentences(self, tokenizer):
        # The sub-centre plan's sentence never repeats 城市副中心: its report title does.
        passages = [
            "全市森林覆盖率达到44.9%，平原地区森林覆盖率达到32.5%。",
            "森林覆盖率达到34.62%，建成区绿化覆盖率达到50%。",
        ]
        headings = [
            "北京城市总体规划实施体检报告公众读本（2024年度） 生态环境",
            "北京城市副中心（通州区）国民经济和社会发展第十五个五年规划纲要 第八章 生态城市",
        ]
        question = "城市副中心的森林覆盖率达到了多少？"
        answer = extractive_answer(question, passages, tokenizer, headings=headings)
        assert quotes(answer) == [(passages[1], 2)]
        # without the headings the city-wide sentence of the earlier passage comes first
        assert quotes(extractive_answer(question, passages, tokenizer))[0] == (passages[0], 1)
        # a heading alone does not make a sentence holding no question term a candidate
        scored = score_sentences("副中心有多少", ["天气晴朗。"], tokenizer, headings=headings[1:])
        assert scored == []

    def test_the_asked_term_is_the_last_quoted_one(self):
        assert _defined_terms("“一核两翼”里的“两翼”指的是哪两个地方？") == ["两翼"]
        assert _defined_terms("北京的“三城一区”是指哪几个？") == ["三城一区"]
        assert _defined_terms("北京的三城一区是指哪几个？") == []

    def test_spelling_the_term_out_answers_despite_low_coverage(self, tokenizer):
        passages = ["平蓟三兴地区主要包括北京市平谷区、天津市蓟州区、河北省廊坊市三河市、承德市兴隆县。"]
        question = "都市圈规划里讲的“平蓟三兴”指的是哪几个地方？"
        answer = extractive_answer(question, passages, tokenizer, min_coverage=0.9)
        assert quotes(answer) == [(passages[0], 1)]
        # without a sentence spelling it out, the same bar refuses
        assert extractive_answer(question, ["推进平蓟三兴协同发展。"], tokenizer, min_coverage=0.9) == REFUSAL

    def test_a_sentence_continuing_the_one_before_it_inherits_its_terms(self, tokenizer):
        named = "京雄走廊依托北京原始创新和河北雄安新区制度创新优势，形成高质量发展走廊。"
        continues = "走廊北起北京怀柔科学城，南至河北雄安新区及保定中心城区。"
        distractor = "推动优质高校和医疗机构等向区域延伸布局。"
        question = "京雄走廊从哪里延伸到哪里？"

        def order(passages, carry):
            return [s.text for s in score_sentences(question, passages, tokenizer, carry=carry)]

        together = [named + continues, distractor]
        assert order(together, 0.0).index(continues) > order(together, 0.0).index(distractor)
        assert order(together, 0.5).index(continues) < order(together, 0.5).index(distractor)
        # only from the sentence before it in the same passage
        apart = [named, continues, distractor]
        assert order(apart, 0.5).index(continues) > order(apart, 0.5).index(distractor)

    def test_closeness_in_meaning_decides_between_sentences_the_words_cannot(self, tokenizer):
        # Both sentences hold the question's words; only the second says where the corridor runs.
        question = "京雄走廊从哪里延伸到哪里？"
        passages = [
            "京雄走廊依托北京原始创新优势，形成高质量发展走廊。",
            "京雄走廊北起北京怀柔科学城，南至河北雄安新区。",
        ]
        seen: list[tuple[str, list[str]]] = []

        def similarity(q, texts):
            seen.append((q, list(texts)))
            return [0.95 if "北起" in t else 0.80 for t in texts]

        def first(**kw):
            return score_sentences(question, passages, tokenizer, **kw)[0].text

        assert first() == passages[0]
        assert first(similarity=similarity) == passages[1]
        assert seen == [(question, passages)]
        # unknown similarities (None) leave the scores as they were
        unknown = score_sentences(question, passages, tokenizer, similarity=lambda q, t: [None] * len(t))
        assert [s.score for s in unknown] == [s.score for s in score_sentences(question, passages, tokenizer)]
        answer = extractive_answer(question, passages, tokenizer, similarity=similarity)
        assert quotes(answer)[0] == (passages[1], 2)

    def test_overlong_sentence_is_cut_at_a_clause(self, tokenizer):
        long = "全市常住人口2185.8万人，" + "，".join(["各区人口规模保持稳定"] * 30) + "。"
        answer = extractive_answer("常住人口多少", [long], tokenizer, max_chars=40)
        quote = quotes(answer)[0][0]
        assert quote.endswith("…") and quote[:-1] in long and len(quote) <= 41

    def test_overlong_sentence_keeps_the_clauses_holding_the_question_terms(self, tokenizer):
        filler = "，".join(f"第{i}项工程建成通车" for i in range(12))
        long = f"北京通州站建成投运，{filler}，北运河通州段与河北段全线62公里实现旅游通航，持续推动公共服务一体化发展。"
        terms = tokenizer.tokenize("北运河通州段和河北段通航的河道有多长？")
        cut = truncate_sentence(long, 80, terms)
        assert "62公里" in cut and cut.startswith("…") and len(cut) <= 80
        assert cut[1:] in long  # the clauses verbatim, up to the sentence's end
        # a late clause that holds nothing asked: the head, as before
        head = truncate_sentence(long, 80, tokenizer.tokenize("北京通州站什么时候投运？"))
        assert head == truncate_sentence(long, 80) and head.startswith("北京通州站")
        # a run in the middle is marked on both sides
        middle = truncate_sentence(long + "其余工程" * 30 + "。", 80, terms)
        assert middle.startswith("…北运河") and middle.endswith("…")
        # the answer quotes that run
        answer = extractive_answer("北运河通州段和河北段通航的河道有多长？", [long], tokenizer, max_chars=80)
        assert "62公里" in quotes(answer)[0][0]

    def test_invalid_arguments(self, tokenizer):
        with pytest.raises(ValueError, match="max_sentences"):
            extractive_answer("人口", PASSAGES, tokenizer, max_sentences=0)
        with pytest.raises(ValueError, match="max_chars"):
            extractive_answer("人口", PASSAGES, tokenizer, max_chars=0)


class TestExtractiveChatModel:
    def message(self, question: str) -> HumanMessage:
        return HumanMessage(
            content="（提示词）",
            additional_kwargs={"planqa": {"question": question, "passages": PASSAGES}},
        )

    def test_invoke_answers_from_the_kwargs(self, tokenizer):
        model = ExtractiveChatModel(tokenizer=tokenizer)
        reply = model.invoke([SystemMessage(content="系统"), self.message("常住人口是多少")])
        assert reply.content == extractive_answer("常住人口是多少", PASSAGES, tokenizer)
        assert "[3]" in reply.content
        assert model._llm_type == "planqa-extractive"

    def test_stream_gives_the_same_answer(self, tokenizer):
        model = ExtractiveChatModel(tokenizer=tokenizer)
        chunks = list(model.stream([self.message("常住人口是多少")]))
        assert (
            "".join(c.content for c in chunks)
            == model.invoke([self.message("常住人口是多少")]).content
        )

    def test_makes_its_own_tokenizer(self):
        reply = ExtractiveChatModel().invoke([self.message("常住人口是多少")])
        assert "2185.8万人" in reply.content

    def test_missing_kwargs_is_a_clear_error(self, tokenizer):
        model = ExtractiveChatModel(tokenizer=tokenizer)
        with pytest.raises(ValueError, match=r'additional_kwargs\["planqa"\]'):
            model.invoke("常住人口是多少")
