"""Risk that an appeal signals a group matter or an escalating one: ``assess_risk``.

``assess_risk(text, when=...)`` reads a normalised message (simplified Chinese, half-width:
``minyi.text.normalize``) and returns a ``Risk``: a score 0..100, a level and the reasons,
one per code, each with its strongest evidence (the cue found, its offsets, its weight). It
returns codes; the Django side turns them into labels.

Codes (``REASON_CODES``) and their cues (weights in parentheses; the full lists are ``_cue(...)``
below; phrases marked "not" are exclusions, found first because they start earlier or run longer, or
context rules checked in Python)
    ``group``        many people affected: 全体业主, 全体村民, 全体职工, 众多业主 (15), 联名,
                     集体 + a verb: 集体投诉, 集体维权, 集体上访 ... (20; not 集体土地, 集体经济,
                     集体所有, 集体宿舍 ...), 农民工, 一群, 大批业主/村民/工人 (10), and counts of
                     at least 10 people or households: ``几十户``, ``上百户``, ``数百名``,
                     ``二十多名工人``, ``30多户``, ``100余人``, ``3万多人``. Numbers are Arabic or
                     Chinese (几/数 count as 3: 几十 = 30, 十几 = 13; 上百 = 100); units 户 人 名 位
                     家 and 工人 业主 村民 员工 职工 居民 农民工 住户 商户 家长 学生 老人 群众 租户,
                     with an optional 多/余/来 and 个/名/位 in between. Weight 10 below 100, 15
                     from 100, 20 from 1,000, and 10 again from 10,000 (such figures are mostly
                     populations: ``几十万居民``). Not counts: a bare Arabic number before a person
                     noun (``1107业主`` is a flat), a number after 第/前/每/号/栋 (``第100名``,
                     ``5栋10户``), 人民/人口/人次/人工/位数/名额/家具 ..., 千家万户, 万家丽.
    ``self_harm``    跳楼, 轻生, 喝农药, 服毒, 自焚, 不想活, 以死相逼, 寻死, 一死了之, 上吊,
                     割腕, 跳河, 想/要/扬言/准备自杀 ... (60); 自杀 alone (45: in the data it is
                     as often general, ``导致学生自杀``, as personal); the distress of 活不下去,
                     死路一条 (30). Not
                     跳楼价, 跳楼机, 慢性自杀, 减轻生(产), 一哭二闹三上吊.
    ``threat``       to others (50): 同归于尽, 炸了/炸掉 (not 轰炸了, 爆炸了, 头都要炸了,
                     气炸了), 杀了他, 拼命 after 跟/和/与 (``跟他们拼命``; not the adverb of
                     ``拼命的开药``), 鱼死网破, 血债, 让他们付出代价, and 报复 only before
                     社会/他/她/你/政府 or after 我(们)要/会/就 and never after 打击/被/遭/怕/
                     担心/的/恶意 ...: in the data 报复 is nearly always the writer's fear of
                     retaliation (打击报复, 怕他们的报复), which is not a threat.
    ``gathering``    静坐, 拉横幅, 打横幅, 举横幅, 围堵, 堵门, 示威, 游行 (not 旅游行业), 聚众闹事,
                     冲击 + a government office (not 冲击力), 聚集 at or to a government office,
                     a gate or a sales office (not 聚集场所, 聚集了大量人口) (30-35); 集会, 工人
                     罢工 (not a lift that "strikes"), 群体性事件 (25); 集体上访 also counts as
                     group (20) and escalation (25).
    ``road_block``   堵路, 堵马路, 封堵道路, 堵高速, 堵公路, 卧轨 ... (40); 拦路, 拦车, 堵住路口
                     (25). Not ordinary traffic: 道路拥堵, 堵车, 交通拥堵, 堵塞交通, 拥堵路段,
                     停车堵路, 车辆堵住路口, 堵路上; nor 拦路虎, 拦路抢劫, 拦车揽客, 拦车检查.
    ``escalation``   上访, 到省里反映, 去省里上访, 省信访局, 向中央反映, 告到中央 (20); 越级,
                     国家信访局, 闹访, 缠访 (25); 进京, 赴京, 去北京上访 (30); 找媒体, 媒体曝光,
                     向媒体 (15). Not 信访条例, 西地省信访条例, 享受到中央政府.
    ``repeated``     多次反映, 反映多次, 多次投诉, 多次向, 一直没有解决, 至今未解决, 石沉大海,
                     踢皮球, 推诿, 扯皮, 无人问津 ... (10).
    ``wages``        unpaid wages (15): 欠薪, 讨薪, 拖欠工资, 工资未发, 不发工资, 农民工工资
                     (also group), and three patterns within a clause: 拖欠/克扣/欠 up to 12
                     characters before 工资/工钱/薪水/薪资/劳务费/劳动报酬 (``拖欠我们三个月的
                     工资``); those words up to 6 characters before 未发/没发/拖欠/不发/拿不到 ...;
                     没/未/不 + 发/给/支付/结 up to 4 characters before them (``至今没有发放工资``).
    ``wage_festival`` the same evidence when the message falls in the Spring Festival season:
                     ``when`` is within 60 days before the Spring Festival (正月初一, from
                     ``spring_festival``) or up to 15 days after it, or the text mentions 春节,
                     过年, 年关, 年底, 除夕 or 腊月. It then replaces ``wages``, with weight 35:
                     arrears before the festival are the classic trigger of collective wage
                     protests, while unpaid wages at other times are an ordinary labour case,
                     kept as the weaker code ``wages`` (so one code is always enough to tell
                     which it was).

Negation
    A cue of gathering, road_block, escalation, threat, wages or wage_festival is cancelled
    when the text right before it ends with a negation, optionally followed by one filler
    verb: ``(不会|不要|不想|不用|不必|不再|不敢|不准备|不打算|绝不|决不|没有|没|未|从未|不曾|
    无需|无须|千万别|禁止|严禁)(再|去|到|要|会|想|敢|采取|进行|参与|参加|组织|搞|选择)?`` then the
    cue (``我们不会去上访``, ``未拉横幅``, ``决没有越级上访之意``). ``不得不去上访`` stays a cue
    (``不得不`` is not in the list). Self-harm cues are never cancelled (``不想活`` is itself a
    cue, and a denied self-harm thought is still worth a reader's attention); group and
    repeated cues are facts, not intentions, and are not cancelled either.

Score and level
    ``score = min(100, Σ weight(code) + Σ bonus(pair))`` where weight(code) is the weight of
    the strongest cue of that code, and a pair's bonus is added when some cue of one code
    starts within ``BONUS_DISTANCE`` (150) characters of some cue of the other (the group
    that gathers is usually named in the same passage; a signature of 全体业主 at the end of
    a long letter and a past 拉横幅 in its middle are not one event):

    ====================================  =====
    group + gathering                       +25
    group + road_block                      +25
    group + wage_festival                   +15
    group + escalation                      +15
    group + wages                           +10
    gathering + escalation                  +10
    escalation + repeated                   +10
    wage_festival + escalation              +10
    ====================================  =====

    Levels: ``none`` at 0, ``low`` 1..29, ``medium`` 30..59, ``high`` 60 and above. So one
    self-harm cue other than a bare 自杀 is high on its own; a threat, a road block or a gathering alone is medium;
    a group with a gathering or a road block nearby is high (10 + 35 + 25); unpaid wages of
    a group before the festival are high (10 + 35 + 15); a petition after repeated complaints
    is medium (20 + 10 + 10); a petition, a group or repeated complaints alone are low.

Speed: one compiled alternation of every literal cue, built as a character trie (each
alternative starts with a literal, so the regex engine skips positions whose character starts
no cue, and at most one branch goes on from a position); the context of 报复, 自杀, 堵路,
堵住路口 and 上吊 is checked in Python (``_BAD_CONTEXT``) instead of literals such as 我要报复
or 车堵路 that start with common characters and would stop the engine at many more positions; the patterned cues of wages, 拼命,
冲击 and 聚集 run only when a short literal they need is in the text; counts are one pattern
that starts with a plain character class, which the engine can skip to as well. Bad input never
raises: a non-string or empty text gives score 0; a ``when`` that is not a date (or outside the
table) is ignored; a datetime counts by its own calendar date.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

__all__ = [
    "BONUSES",
    "BONUS_DISTANCE",
    "LEVELS",
    "REASON_CODES",
    "Risk",
    "RiskReason",
    "assess_many",
    "assess_risk",
    "festival_season",
    "level_for",
    "spring_festival",
]

GROUP = "group"
SELF_HARM = "self_harm"
THREAT = "threat"
GATHERING = "gathering"
ROAD_BLOCK = "road_block"
ESCALATION = "escalation"
WAGE_FESTIVAL = "wage_festival"
WAGES = "wages"
REPEATED = "repeated"
REASON_CODES = (GROUP, SELF_HARM, THREAT, GATHERING, ROAD_BLOCK, ESCALATION, WAGE_FESTIVAL, WAGES, REPEATED)
LEVELS = ("none", "low", "medium", "high")
LOW, MEDIUM, HIGH = 1, 30, 60  # lower bounds of the levels

BONUSES: dict[frozenset[str], int] = {
    frozenset((GROUP, GATHERING)): 25,
    frozenset((GROUP, ROAD_BLOCK)): 25,
    frozenset((GROUP, WAGE_FESTIVAL)): 15,
    frozenset((GROUP, ESCALATION)): 15,
    frozenset((GROUP, WAGES)): 10,
    frozenset((GATHERING, ESCALATION)): 10,
    frozenset((ESCALATION, REPEATED)): 10,
    frozenset((WAGE_FESTIVAL, ESCALATION)): 10,
}

BONUS_DISTANCE = 150  # characters between the starts of two cues for their pair's bonus
FESTIVAL_BEFORE = timedelta(days=60)
FESTIVAL_AFTER = timedelta(days=15)


@dataclass(frozen=True)
class RiskReason:
    code: str
    evidence: str
    start: int
    end: int
    weight: int


@dataclass(frozen=True)
class Risk:
    score: int
    level: str
    reasons: tuple[RiskReason, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


_NO_RISK = Risk(0, "none", ())

# --- cues ----------------------------------------------------------------------------------

# A cue is a literal; it may count for several codes (集体上访: group, gathering, escalation).
# Weight per code. ``None`` as the codes marks an exclusion: a phrase that contains or starts
# before a cue and is not one (集体土地, 跳楼价, 打击报复): the alternation finds it first.
_CUES: dict[str, tuple[tuple[str, int], ...] | None] = {}


def _cue(codes: tuple[tuple[str, int], ...] | None, words: str) -> None:
    for word in words.split():
        _CUES[word] = codes


_cue(
    ((GROUP, 15),),
    "全体业主 全体村民 全体职工 全体员工 全体居民 全体住户 全体教职工 全组村民 众多业主 众多村民",
)
_cue(
    ((GROUP, 20),),
    "联名 联名信 联名举报 联名上书 集体投诉 集体反映 集体维权 集体签名 集体举报 集体起诉 集体诉讼",
)
_cue(((GROUP, 20),), "集体要求 集体抗议 集体去 集体到 集体前往 集体来到 集体停工 集体罢工")
_cue(((GROUP, 10),), "农民工 一群 大批业主 大批村民 大批群众 大批工人 大批人员")
_cue(((GROUP, 20), (WAGES, 15)), "集体讨薪 农民工工资")
_cue(((GROUP, 20), (GATHERING, 35), (ESCALATION, 25)), "集体上访 群体上访 集体到政府 集体去政府")
_cue(None, "集体土地 集体经济 集体所有 集体资产 集体户 集体建设用地 集体用地 集体企业 集体宿舍")
_cue(None, "集体产权 集体林 集体荣誉 集体行为 集体失声 一群狗 大批量")

_cue(((SELF_HARM, 60),), "跳楼 轻生 喝农药 服毒 自焚 不想活 以死相逼 寻死 一死了之 上吊 割腕 跳河 跳江")
# 自杀 alone is often general (导致学生自杀, 老人因饥饿自杀): 45; with an intent word before it, 60
# (_CONTEXT below).
_cue(((SELF_HARM, 45),), "自杀")
_cue(((SELF_HARM, 60),), "以死明志 死给你们看 死给他们看 不活了 服药自尽 自尽 喝药自杀 从楼上跳下去")
_cue(((SELF_HARM, 30),), "活不下去 死路一条")
_cue(None, "跳楼价 跳楼甩卖 跳楼大甩卖 跳楼机 慢性自杀 自杀式 减轻生 引起自杀 寻死觅活")

# 报复 counts only with the writer as the one who retaliates (_CONTEXT below).
_cue(((THREAT, 50),), "报复")
_cue(((THREAT, 50),), "同归于尽 炸了 炸掉 杀了他 杀了他们 杀了你 血债 血债血偿 让他们付出代价")
_cue(((THREAT, 50),), "拼了命 拼个你死我活 鱼死网破 要他的命 要他们的命")
_cue(None, "轰炸了 爆炸了 头都要炸了 头要炸了 脑袋要炸了 气炸了 油炸 炸掉当")

_cue(
    ((GATHERING, 35),),
    "静坐 拉横幅 打横幅 举横幅 围堵 堵门 示威 游行 聚众闹事 聚众上访 聚众围堵 聚众冲击 冲击政府",
)
_cue(((GATHERING, 25),), "集会 工人罢工 司机罢工 职工罢工 员工罢工 群体性事件 群体事件 上街游行")
_cue(None, "旅游行 示威似 集会所")

_cue(
    ((ROAD_BLOCK, 40),), "堵路 堵马路 封堵道路 堵高速 堵公路 堵国道 阻断交通 堵桥 卧轨 堵铁路 拦堵道路 把路堵"
)
_cue(((ROAD_BLOCK, 25),), "拦路 拦车 堵住路口")
_cue(
    None,
    "拥堵路 堵路段 堵路上 堵车堵路 商贩堵路 拦路虎 拦路抢 拦路敲诈 拦车揽客 拦车检查 拦车桩",
)
_cue(None, "拦车不停")
_cue(((ROAD_BLOCK, 40), (GROUP, 10)), "集体堵路")

_cue(
    ((ESCALATION, 20),),
    "上访 上访到 省信访局 省信访办 告到省里 到省里反映 到省里上访 去省里上访 去省里反映 找省里",
)
_cue(((ESCALATION, 20),), "向中央反映 告到中央 反映到中央 到中央反映 到中央上访 去中央 找中央")
_cue(((ESCALATION, 25),), "越级 越级上访 国家信访局 闹访 缠访 赴省 中央巡视组")
_cue(((ESCALATION, 30),), "进京 赴京 进京上访 赴京上访 去北京上访 到北京上访 上北京")
_cue(((ESCALATION, 15),), "找媒体 媒体曝光 向媒体 联系媒体 找记者 请记者 电视台曝光 曝光给媒体")
_cue(None, "省信访条例 省信访事项 信访条例")

_cue(
    ((REPEATED, 10),),
    "多次反映 反映多次 多次投诉 投诉多次 多次向 屡次反映 反复反映 一直没有解决 一直未解决 至今未解决 "
    "至今没有解决 仍未解决 仍然没有解决 石沉大海 踢皮球 推诿 扯皮 无人问津 多次上访 多次信访",
)

_cue(((WAGES, 15),), "欠薪 讨薪 拖欠工资 工资未发 不发工资 讨要工资 追讨工资 拿不到工资 工资拖欠 欠工资")

_NEGATABLE = frozenset((GATHERING, ROAD_BLOCK, ESCALATION, THREAT, WAGES, WAGE_FESTIVAL))
_NEGATION_RE = re.compile(
    "(?:不会|不要|不想|不用|不必|不再|不敢|不准备|不打算|绝不|决不|没有|没|未|从未|不曾|无需|无须|千万别|禁止|严禁)"
    "(?:再|去|到|要|会|想|敢|采取|进行|参与|参加|组织|搞|选择)?$"
)
_NEGATION_WINDOW = 6

# Context of a few cues, checked in Python rather than spelt as literals that would start with
# common characters (我, 要, 车 ...) and make the regex engine stop at many more positions.
# (words the text before the cue must not end with, words the text after it must not start with)
_BAD_CONTEXT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "堵路": (("车", "车辆", "后", "停车"), ()),  # 停车堵路, 剐蹭后堵路: traffic
    "堵住路口": (("车", "车辆"), ()),
    "上吊": (("三",), ()),  # 一哭二闹三上吊
    "报复": (
        ("打击", "被", "遭", "遭到", "受到", "怕", "害怕", "担心", "的", "施加", "恶意", "挟私", "打压"),
        ("他人",),
    ),
}
_CONTEXTUAL = frozenset((*_BAD_CONTEXT, "自杀"))
_INTENT_BEFORE_SUICIDE = ("想", "要", "去", "欲", "扬言", "准备", "打算", "闹", "逼我", "逼得我", "采取")
_REVENGE_BY_WRITER = ("我要", "我会", "我们要", "我们会", "我就", "我一定", "我们就")
_REVENGE_ON = ("社会", "他", "她", "你", "政府")


def _in_context(cue: str, text: str, start: int, end: int) -> int | None:
    """None when the context rules the cue out, else its weight here (-1: the cue's own weights)."""
    bad = _BAD_CONTEXT.get(cue)
    if bad is not None and (
        text.endswith(bad[0], max(0, start - 2), start) or (bad[1] and text.startswith(bad[1], end))
    ):
        return None
    if cue == "报复":
        by_writer = text.endswith(_REVENGE_BY_WRITER, max(0, start - 3), start)
        return 50 if by_writer or text.startswith(_REVENGE_ON, end) else None
    if cue == "自杀":
        return 60 if text.endswith(_INTENT_BEFORE_SUICIDE, max(0, start - 3), start) else 45
    return -1


def _trie_pattern(words: list[str]) -> str:
    """An alternation of ``words`` factored as a character trie, longest continuation first."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        if len(branches) == 1 and not ends:
            return branches[0]
        group = "(?:" + "|".join(branches) + ")"
        return group + "?" if ends else group

    return emit(trie)


_CUE_RE = re.compile(_trie_pattern(sorted(_CUES)))

_WAGE_WORDS = "(?:工资|工钱|薪水|薪资|劳务费|劳动报酬)"
_PUNCT_FREE = "[^，。！？；!?;\n]"
_WAGE_RE = re.compile(
    f"(?:拖欠|克扣|欠){_PUNCT_FREE}{{0,12}}?{_WAGE_WORDS}"
    f"|{_WAGE_WORDS}{_PUNCT_FREE}{{0,6}}?(?:未发|没发|没有发|未付|没付|拖欠|不发|未结|没结|没有结|发不出|拿不到|未到账)"
    f"|(?:没|未|不)有?(?:发放?|给|支付|结算?|结清){_PUNCT_FREE}{{0,4}}?{_WAGE_WORDS}"
)
_WAGE_GATE = ("工资", "工钱", "薪", "劳务费", "劳动报酬")
_FESTIVAL_RE = re.compile("春节|过年|年关|年底|除夕|腊月")

# 冲击/聚集 at an office; 拼命 against someone; written as patterns, run only when the word is there.
_PATTERNS: tuple[tuple[str, re.Pattern[str], str, int], ...] = (
    (
        "冲击",
        re.compile("冲击[\u4e00-\u9fff]{0,6}?(?:政府|机关|信访|派出所|售楼部|营销中心|办公楼|大楼)"),
        GATHERING,
        35,
    ),
    (
        "聚集",
        re.compile(
            f"聚集(?:在|到|于){_PUNCT_FREE}{{0,8}}?(?:政府|机关|门口|门前|大门|售楼部|营销中心|信访|办公楼|广场)"
            f"|(?:在|到|去){_PUNCT_FREE}{{0,8}}?(?:政府|机关|门口|门前|大门|售楼部|营销中心|信访|办公楼)聚集"
            "|聚集(?:维权|讨薪|抗议|上访|闹事)"
        ),
        GATHERING,
        30,
    ),
    ("拼命", re.compile(f"(?:跟|和|与){_PUNCT_FREE}{{0,5}}?拼命"), THREAT, 50),
)

# Counts of people: number, optional 多/余/来/几, optional 个, a unit.
_NUMBER_CHARS = "零〇一二两三四五六七八九十百千万几数上"
_PERSON_NOUNS = "工人|业主|村民|员工|职工|居民|农民工|住户|商户|家长|学生|老人|群众|租户"
# The number starts with a plain character class (no look-behind) so that the regex engine can skip
# to its candidates; the character before it is checked in Python (_NOT_BEFORE_COUNT).
_COUNT_RE = re.compile(
    f"([0-9{_NUMBER_CHARS}][0-9{_NUMBER_CHARS}]{{0,7}})(多|余|来|几)?(个|名|位)?"
    f"(?:({_PERSON_NOUNS})|(户|人|名|位|家))"
    "(?!民|口|次|均|数|额|单|义|字|具|电|庭|常|务|乡|属|里|门|型|籍|头|置|工|士|物|才|选)"
)
_NOT_BEFORE_COUNT = frozenset("第前每号栋.0123456789")  # 第100名, 前十名, 每户, 3号, 5栋10户
_COUNT_EXCLUDED_RE = re.compile("千家万户|万家丽|万家灯火|万人空巷|百家|千家|万家")
_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_GROUP_MIN = 10


def _chinese_number(text: str) -> int | None:
    """Value of a Chinese numeral such as 二十, 三百五十, 十几, 几十, 上百, 数千, 两万, 3万; None if not one.

    几/数 stand for 3 (几十 = 30, 十几 = 13), 上 for 1 before a unit (上百 = 100)."""
    while text[:1] in ("上", "数") and (len(text) < 2 or text[1] not in "十百千万"):
        text = text[1:]  # 楼上一百人, 多数一...: the character belongs to the word before
    if not text:
        return None
    total = section = 0
    digit: int | None = None
    run = ""  # ASCII digits (3万, 2千多): one number
    for i, ch in enumerate(text):
        if "0" <= ch <= "9":
            run += ch
            digit = int(run)
            continue
        run = ""
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in "几数":
            digit = 3
        elif ch == "上":
            if i + 1 >= len(text) or text[i + 1] not in "十百千万":
                return None
            digit = 1
        elif ch in _UNITS:
            section += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        elif ch == "万":
            section += digit or 0
            total += (section or 1) * 10000
            section, digit = 0, None
        else:  # pragma: no cover - the pattern only lets numeral characters through
            return None
    return total + section + (digit or 0)


def _group_weight(count: int) -> int:
    """10 for 10-99 people, 15 from 100, 20 from 1,000; 10 again from 10,000 (a population figure)."""
    if count >= 10000:
        return 10
    if count >= 1000:
        return 20
    if count >= 100:
        return 15
    return 10


# --- the Spring Festival ----------------------------------------------------------------------

# 正月初一 of each year, 1990-2060, as (month, day), by the official calendar (China time, UTC+8).
_SPRING_FESTIVAL = {
    1990: (1, 27), 1991: (2, 15), 1992: (2, 4), 1993: (1, 23), 1994: (2, 10),
    1995: (1, 31), 1996: (2, 19), 1997: (2, 7), 1998: (1, 28), 1999: (2, 16),
    2000: (2, 5), 2001: (1, 24), 2002: (2, 12), 2003: (2, 1), 2004: (1, 22),
    2005: (2, 9), 2006: (1, 29), 2007: (2, 18), 2008: (2, 7), 2009: (1, 26),
    2010: (2, 14), 2011: (2, 3), 2012: (1, 23), 2013: (2, 10), 2014: (1, 31),
    2015: (2, 19), 2016: (2, 8), 2017: (1, 28), 2018: (2, 16), 2019: (2, 5),
    2020: (1, 25), 2021: (2, 12), 2022: (2, 1), 2023: (1, 22), 2024: (2, 10),
    2025: (1, 29), 2026: (2, 17), 2027: (2, 6), 2028: (1, 26), 2029: (2, 13),
    2030: (2, 3), 2031: (1, 23), 2032: (2, 11), 2033: (1, 31), 2034: (2, 19),
    2035: (2, 8), 2036: (1, 28), 2037: (2, 15), 2038: (2, 4), 2039: (1, 24),
    2040: (2, 12), 2041: (2, 1), 2042: (1, 22), 2043: (2, 10), 2044: (1, 30),
    2045: (2, 17), 2046: (2, 6), 2047: (1, 26), 2048: (2, 14), 2049: (2, 2),
    2050: (1, 23), 2051: (2, 11), 2052: (2, 1), 2053: (2, 19), 2054: (2, 8),
    2055: (1, 28), 2056: (2, 15), 2057: (2, 4), 2058: (1, 24), 2059: (2, 12),
    2060: (2, 2),
}  # fmt: skip


def spring_festival(year: int) -> date:
    """Chinese New Year's day (正月初一) of ``year``, 1990-2060 (``ValueError`` outside)."""
    try:
        month, day = _SPRING_FESTIVAL[year]
    except (KeyError, TypeError):
        raise ValueError(f"spring_festival: {year!r} is outside the table (1990-2060)") from None
    return date(year, month, day)


def festival_season(when: datetime | date | None) -> bool:
    """Is ``when`` within 60 days before a Spring Festival or 15 days after it? (False if unknown)"""
    if isinstance(when, datetime):
        when = when.date()
    if not isinstance(when, date):
        return False
    for year in (when.year, when.year + 1):
        if year in _SPRING_FESTIVAL:
            festival = spring_festival(year)
            if festival - FESTIVAL_BEFORE <= when <= festival + FESTIVAL_AFTER:
                return True
    return False


# --- assessing ----------------------------------------------------------------------------------


def level_for(score: int) -> str:
    """The level of a score: none 0, low 1..29, medium 30..59, high 60..100."""
    if score >= HIGH:
        return "high"
    if score >= MEDIUM:
        return "medium"
    if score >= LOW:
        return "low"
    return "none"


def _negated(text: str, start: int) -> bool:
    return _NEGATION_RE.search(text, max(0, start - _NEGATION_WINDOW), start) is not None


def _evidence(text: str, in_season: bool) -> list[tuple[str, int, int, int]]:
    """Every (code, weight, start, end) found in ``text``."""
    found: list[tuple[str, int, int, int]] = []
    cues = _CUES
    for match in _CUE_RE.finditer(text):
        codes = cues.get(match.group())
        if codes is None:
            continue
        start, end = match.span()
        if match.group() in _CONTEXTUAL:
            adjusted = _in_context(match.group(), text, start, end)
            if adjusted is None:
                continue
            if adjusted > 0:
                codes = ((codes[0][0], adjusted),)
        negated: bool | None = None
        for code, weight in codes:
            if code in _NEGATABLE:
                if negated is None:
                    negated = _negated(text, start)
                if negated:
                    continue
            found.append((code, weight, start, end))
    for gate, pattern, code, weight in _PATTERNS:
        if gate in text:
            for match in pattern.finditer(text):
                start = match.start()
                if not _negated(text, start):
                    found.append((code, weight, start, match.end()))
    if any(word in text for word in _WAGE_GATE):
        for match in _WAGE_RE.finditer(text):
            if not _negated(text, match.start()):
                found.append((WAGES, 15, match.start(), match.end()))
    excluded: list[tuple[int, int]] | None = None
    for match in _COUNT_RE.finditer(text):
        number, vague, measure, noun, _ = match.groups()
        if noun and number.isdigit() and not (vague or measure):
            continue  # 1107业主: a room number
        start, end = match.span()
        if start and text[start - 1] in _NOT_BEFORE_COUNT:
            continue
        if excluded is None:
            excluded = [(m.start(), m.end()) for m in _COUNT_EXCLUDED_RE.finditer(text)]
        if any(s < end and start < e for s, e in excluded):
            continue
        count = int(number) if number.isdigit() else _chinese_number(number)
        if count is not None and count >= _GROUP_MIN:
            found.append((GROUP, _group_weight(count), start, end))
    # Unpaid wages in the festival season count as wage_festival instead.
    if any(code == WAGES for code, *_ in found) and (in_season or _FESTIVAL_RE.search(text)):
        found = [(WAGE_FESTIVAL, 35, s, e) if code == WAGES else (code, w, s, e) for code, w, s, e in found]
    return found


def _near(a: list[int], b: list[int]) -> bool:
    """Is some start in ``a`` within ``BONUS_DISTANCE`` characters of some start in ``b``?"""
    a, b = sorted(a), sorted(b)
    i = j = 0
    while i < len(a) and j < len(b):
        if abs(a[i] - b[j]) <= BONUS_DISTANCE:
            return True
        if a[i] < b[j]:
            i += 1
        else:
            j += 1
    return False


def assess_risk(text: str, *, when: datetime | date | None = None) -> Risk:
    """The risk signals of one normalised message (see the module docstring)."""
    if not isinstance(text, str) or not text:
        return _NO_RISK
    found = _evidence(text, festival_season(when))
    if not found:
        return _NO_RISK
    best: dict[str, tuple[str, int, int, int]] = {}
    for item in found:
        current = best.get(item[0])
        if current is None or item[1] > current[1] or (item[1] == current[1] and item[2] < current[2]):
            best[item[0]] = item
    score = sum(item[1] for item in best.values())
    if len(best) > 1:
        starts: dict[str, list[int]] = {}
        for code, _, start, _ in found:
            starts.setdefault(code, []).append(start)
        for pair, bonus in BONUSES.items():
            a, b = tuple(pair)
            if a in starts and b in starts and _near(starts[a], starts[b]):
                score += bonus
    score = min(100, score)
    reasons = tuple(
        RiskReason(code, text[start:end], start, end, weight)
        for code, weight, start, end in sorted(best.values(), key=lambda item: (-item[1], item[2]))
    )
    return Risk(score, level_for(score), reasons)


def assess_many(texts: Sequence[str], *, when: Sequence[datetime | date | None] | None = None) -> list[Risk]:
    """``assess_risk`` for each text; ``when``, if given, holds one date (or None) per text."""
    if when is None:
        return [assess_risk(text) for text in texts]
    if len(when) != len(texts):
        raise ValueError(f"assess_many: {len(texts)} texts but {len(when)} dates")
    return [assess_risk(text, when=w) for text, w in zip(texts, when, strict=True)]
