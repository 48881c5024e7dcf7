"""How good a reply to an appeal is: ``assess_reply``.

``assess_reply(appeal, reply, title=..., received_at=..., replied_at=..., due_at=...)`` reads a
citizen's appeal (its title and text) and the department's reply and returns a ``Quality``: a
score 0..100, five parts (each 0..1, or ``None`` when it does not apply) and the reasons, each a
code with its part, a severity (``bad``, ``warn``, ``good``) and JSON-safe params (``REASON_CODES``
lists every code with its part). It returns codes; the Django side turns them into Chinese labels.
Both texts are normalised inside (``minyi.text.normalize``), so raw text is fine.

Parts and weights (``WEIGHTS``). The score is the weighted mean of the parts that apply, the
weights renormalised over them, times 100, rounded; an off-topic reply scores at most
``OFF_TOPIC_CAP`` (30), since what it says was done is not about this appeal. ``Part.weight`` is
the effective (renormalised) weight, 0 for a part that does not apply.

    ============  ======  ==================================================================
    relevance      0.30   does the reply talk about this appeal
    completeness   0.30   every question answered; what was done, by whom, by when
    legal_basis    0.15   a refusal cites its basis (applies only when the reply refuses)
    timeliness     0.10   replied by the due time, else how many days it took
    tone           0.15   courteous, not curt or blaming, not a bare one-liner
    ============  ======  ==================================================================

Relevance (``None`` when the appeal and title are empty: ``appeal_empty``, warn)
    ``0.5 × min(1, cosine / SIM_FULL) + 0.3 × key-term coverage + 0.2 × place coverage``,
    renormalised over the terms that exist (an appeal may name no place). The cosine is between
    the appeal (title + text) and the reply, over rjieba tokens of two or more characters with a
    Han character, minus the stop words, plus the character pairs of tokens of three or more
    characters at half weight (``荣合桥社区`` meets ``荣合桥``); each feature counts
    ``log(1 + Σ w)`` where ``w`` is 0.1 for the boilerplate of appeals and replies
    (``GENERIC_WORDS``: 问题, 回复, 情况, 反映, 相关, 部门 ...) and 1 otherwise. There is no
    corpus at scoring time; the generic words stand in for an IDF. On the 2,816 real pairs a
    plain token cosine with a corpus IDF (an oracle) puts the real reply above a mismatched one
    in 91.3% of the appeals, flat weights 90.9%, this relevance part 92.4%
    (benchmarks/reply_quality.py). ``SIM_FULL`` (0.3) is about the upper quartile of real pairs.
    Key terms are the appeal's ``KEY_TERMS`` (6) most salient tokens (not stop words, generic or
    question words; a title token counts double, longer tokens weigh more); one is covered when
    it occurs in the reply's text. Places (``find_places``) are names found in the appeal by
    their suffix (``街道 社区 小区 花园 苑 省 市 县 区 镇 乡 村 组 路 街 大道 巷 …``, not before
    民/委/长/场/织 … as in 村民, 市场, 组织), with a body of two to six Han characters back to a
    stop character (的 是 在 我 …), or a code such as ``A7县``, minus everyday words (``道路``,
    ``城区``, ``农村``, ``小组`` ...). Province and city names count only when the appeal names
    nothing smaller (they are in nearly every reply). A place is covered when the reply has its
    full name or its body (``荣合桥`` for ``荣合桥社区``).
    Reasons: ``off_topic`` (bad: relevance below ``OFF_TOPIC``, 0.15; 13% of the real replies,
    94% of the mismatched ones), ``weak_relevance`` (warn: below ``WEAK_RELEVANCE``, 0.35),
    ``on_topic`` (good), params ``similarity`` and ``relevance``; ``key_terms_missing`` (warn:
    under half covered; params ``terms`` missing, ``found``, ``total``); ``places_missing``
    (warn: the reply names under half of the places; params ``places``), ``places_named`` (good).

Completeness
    The weighted mean of four checks: questions 0.4, action 0.3, body 0.15, time 0.15 (the
    questions' share is left out when the appeal asks none).
    Questions (``find_questions``): the appeal's sentences (cut at ``。！？!?；;`` and line
    breaks) that end in ``？``/``?`` or hold a question word (``吗 是否 能否 可否 怎么 如何
    为什么 为何 什么时候 何时 多久 哪里 有没有 是不是 能不能 可不可以 怎样 啥时 为啥 …``; not
    多少 or 谁, mostly no questions: 吃多少苦, 谁料), the first ``MAX_QUESTIONS`` (8); of each,
    the clauses holding the question word (and the last one of a sentence ending in ？), each
    with the clause before it when shorter than 12 characters. A question's terms are its up to
    ``QUESTION_TERMS`` (4) longest specific tokens (not stop, generic, question or filler words
    such as 到底, 竟然, 今天); a term is found when it occurs in the reply, or, from three
    characters, most of its character pairs do; a question about a time (什么时候, 何时, 多久 …)
    finds one more when the reply gives a time (below). A question earns
    ``min(1, found / ceil(terms / 2))``, but at most 0.5 when none of its own terms is found
    (those the appeal has only in this question: in ``垃圾站什么时候搬迁？`` of an appeal about a
    垃圾站, 搬迁 is what it asks); the check is the mean. A question without terms is not
    counted. Reasons ``question_unanswered`` (bad: nothing found; params ``question`` cut to 60
    characters, ``terms``), ``question_partly`` (warn; params ``question``, ``missing``), at most
    three of them and then ``questions_more`` (warn; params ``count``); ``questions_answered``
    (good; params ``answered``, ``total``).
    Action: a verb of handling (``ACTION_VERBS``: 核实 调查 现场 整改 处理 督促 约谈 责令 查处
    拆除 维修 协调 落实 …) marked as done or planned (``已 经 将 拟 计划 下一步 正在 立即 迅速
    及时 并 进行了 督促 责成 要求 …`` earlier in its clause, or 了/完毕/到位 right after it, or
    ``经查 经核实 经调查 经了解 经研究 …``): 1 (``action_stated``, good; params ``cues``); such a
    verb without a marker: 0.6 (``action_unclear``, warn); none: 0 (``no_action``, bad).
    Body: ``我局 我委 我办 本单位 我镇 …`` or a name ending in an agency word (``…局 …委员会
    …办事处 …执法大队 …派出所 …中心 …人民政府 …公司 …居委会 …社区`` …, not 局长, 委员,
    格局, 市中心 …): 1 (``body_named``, good; params ``bodies``), else 0 (``no_body``, warn).
    Time: a date (``3月15日``, ``2019年6月``, ``6月底``, ``2019-06-30``) other than the reply's
    closing date and a date the citizen wrote on (``您于…``), or ``年底 年内 月底 本月 下月 近日
    日前 限期 截至 N个工作日 N日内``: 1 (``time_given``, good; params ``when``); only ``尽快 尽早
    近期 抓紧 适时 下一步 逐步 后期``: 0.5 (``time_vague``, warn; params ``cue``); none: 0
    (``no_time``, warn).

Legal basis (``None`` unless the reply refuses)
    A refusal is ``不予… 不受理 驳回 不同意 不支持 不属于``, ``不符合`` + 条件/规定/政策/要求/
    标准/资格/范围, ``不具备`` + 条件/资格, ``暂不`` + 予以/考虑/能/宜/具备/实施/安排/纳入/属于/
    会 …, ``无法 不能 不得`` + 受理/办理/支持/批准/享受/给予/纳入/安排/解决/补偿/落户/报销/审批/
    同意 … (满足 only before 您/诉求: 场地有限，无法满足要求 is no refusal), ``不在 … 范围``. Its
    basis: a title in ``《…》`` ending in 法/条例/规定/办法/细则/规则/意见/通知/决定/标准/规范/
    解释/规划/政策/方案/通告/批复/纲要/公告/规程/准则/制度 (not 《问政西地省》 or 《出生医学证明》),
    ``第N条``, a document number (``〔2010〕76号``, ``8号文件``), or ``依据/根据/按照/依照`` + a
    named law (``根据…法``, ``…条例``, ``…办法``): 1 (``basis_cited``, good); only ``根据相关规定
    按照有关政策 按规定 依法``: 0.5 (``basis_vague``, warn); none: 0 (``refusal_without_basis``,
    bad). Params ``cue`` (the refusal) and ``basis``.

Timeliness (``None`` when the times are unknown; a draft should pass ``replied_at=now``)
    With ``due_at``: on time 1 (``replied_on_time``, good; params ``days_left``); late by d days
    ``max(0, 0.6 × (1 − d / 30))`` (``replied_late``, bad; params ``days_late``).
    Else with ``received_at``: d days from received to replied score 1 up to 7 days, then
    linearly 0.8 at 15, 0.5 at 30, 0.2 at 60 and 0 at 90 and after (``TIMELINESS_SCALE``; the
    real replies' median is 11 days, p90 41; the 信访工作条例 gives 60 days to handle a matter).
    Reasons ``replied_within`` (good, up to 15 days), ``replied_slow`` (warn, 15-60),
    ``replied_very_slow`` (bad, over 60); params ``days`` (one decimal). A naive and an aware
    datetime are compared by dropping the aware one's zone; a ``date`` counts as its midnight;
    anything else counts as unknown.

Tone
    1, minus 0.3 without any courtesy (``您好 你好 感谢 谢谢 您反映 来信收悉 留言收悉 如有疑问
    欢迎 敬请 请您 理解 抱歉 …``; ``no_courtesy``, warn; else ``courteous``, good), minus 0.4 per
    curt or blaming phrase (``CURT_PHRASES``: 自己去找 不归我们管 与我们无关 别再 无理取闹
    胡搅蛮缠 爱找谁找谁 少管闲事 …, not 不归我局管辖; ``curt``, bad; params ``phrases``), and at
    most 0.2 for a reply of fewer than ``MIN_HAN`` (30) Han characters (``too_short``, bad:
    ``网友：您好！留言已收悉``; params ``chars``, ``min``).

An empty reply (no letter or digit) scores 0 (``empty_reply``, bad). Bad input never raises: a
non-string text counts as empty, a non-date time as unknown; each text is cut to ``MAX_CHARS``
(20,000) characters; param strings are cut to 60 characters. ``QUALITY_VERSION`` changes
whenever the rules or weights change (stored scores of an older version can be recomputed).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from itertools import pairwise
from typing import Any

from minyi.text.normalize import normalize
from minyi.text.segment import segment, stopwords

__all__ = [
    "GENERIC_WORDS",
    "PARTS",
    "QUALITY_VERSION",
    "REASON_CODES",
    "SEVERITIES",
    "TIMELINESS_SCALE",
    "WEIGHTS",
    "Part",
    "Quality",
    "Reason",
    "assess_reply",
    "find_places",
    "find_questions",
]

QUALITY_VERSION = 1
PARTS = ("relevance", "completeness", "legal_basis", "timeliness", "tone")
WEIGHTS = {"relevance": 0.3, "completeness": 0.3, "legal_basis": 0.15, "timeliness": 0.1, "tone": 0.15}
SEVERITIES = ("bad", "warn", "good")

MAX_CHARS = 20_000
PARAM_CHARS = 60
SIM_FULL = 0.3
OFF_TOPIC = 0.15
WEAK_RELEVANCE = 0.35
OFF_TOPIC_CAP = 30
KEY_TERMS = 6
MAX_QUESTIONS = 8
MAX_QUESTION_REASONS = 3
MIN_HAN = 30
# (days, score) points of the piecewise-linear scale from received to replied
TIMELINESS_SCALE = ((0.0, 1.0), (7.0, 1.0), (15.0, 0.8), (30.0, 0.5), (60.0, 0.2), (90.0, 0.0))
LATE_CAP = 0.6
LATE_ZERO_DAYS = 30.0

# code -> part: every code assess_reply can give (the Django side has a label for each)
REASON_CODES: dict[str, str] = {
    "empty_reply": "completeness",
    "appeal_empty": "relevance",
    "off_topic": "relevance",
    "weak_relevance": "relevance",
    "on_topic": "relevance",
    "key_terms_missing": "relevance",
    "places_missing": "relevance",
    "places_named": "relevance",
    "question_unanswered": "completeness",
    "question_partly": "completeness",
    "questions_more": "completeness",
    "questions_answered": "completeness",
    "no_action": "completeness",
    "action_unclear": "completeness",
    "action_stated": "completeness",
    "no_body": "completeness",
    "body_named": "completeness",
    "no_time": "completeness",
    "time_vague": "completeness",
    "time_given": "completeness",
    "refusal_without_basis": "legal_basis",
    "basis_vague": "legal_basis",
    "basis_cited": "legal_basis",
    "replied_on_time": "timeliness",
    "replied_late": "timeliness",
    "replied_within": "timeliness",
    "replied_slow": "timeliness",
    "replied_very_slow": "timeliness",
    "courteous": "tone",
    "no_courtesy": "tone",
    "curt": "tone",
    "too_short": "tone",
}


@dataclass(frozen=True)
class Reason:
    code: str
    part: str
    severity: str  # "bad" | "warn" | "good"
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "part": self.part, "severity": self.severity, "params": dict(self.params)}


@dataclass(frozen=True)
class Part:
    key: str
    score: float | None  # 0..1; None = not applicable
    weight: float  # effective weight in the score (renormalised; 0 when not applicable)

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "weight": self.weight}


@dataclass(frozen=True)
class Quality:
    score: int
    parts: dict[str, Part]
    reasons: list[Reason]
    version: int = QUALITY_VERSION

    def reasons_of(self, severity: str) -> list[Reason]:
        return [r for r in self.reasons if r.severity == severity]

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    def parts_dict(self) -> dict[str, dict[str, Any]]:
        return {key: part.to_dict() for key, part in self.parts.items()}

    def reasons_list(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.reasons]


# --- vocabulary ----------------------------------------------------------------------------

HAN_RE = re.compile("[\u4e00-\u9fff]")
_HAN_COUNT_RE = re.compile("[\u4e00-\u9fff]")

# Boilerplate of appeals and replies: weight 0.1 in the cosine, never key terms. Written for minyi
# from the most frequent words of real appeals and replies (administrative formulas, not topics).
GENERIC_WORDS = frozenset(
    str.split(
        "问题 回复 答复 工作 如下 情况 网友 反映 进行 收悉 相关 有关 感谢 感谢您 支持 部门 咨询 留言 要求 "
        "根据 政府 目前 现将 现在 监督 理解 处理 规定 办理 解决 通过 关心 关注 单位 时间 建议 请求 按照 "
        "同时 存在 严重 人员 一直 组织 作为 了解 多次 其他 来信 以上 提供 请问 是否 造成 工作人员 及时 "
        "还是 还有 就是 提出 得到 直接 具体 任何 主要 实际 正常 进一步 为什么 很多 再次 针对 只有 经过 "
        "原因 继续 地方 确保 方式 一下 知道 出现 考虑 积极 全部 只能 明确 时候 一定 予以 开展 发生 特别 "
        "严格 过程 看到 信息 以下 至今 以来 负责 原则 期间 当时 告知 才能 结果 给予 之前 统一 收到 做好 "
        "沟通 到位 反馈 合理 不到 事情 几个 落实 提高 力度 措施 方面 不要 一步 以后 认为 甚至 达到 一是 "
        "二是 三是 另外 这是 一次 说明 有效 应当 确实 完全 内容 表示 接到 欢迎 此事 网上 很大 高度重视 "
        "重视 满意 意见 疑问 联系 电话 联系电话 办公室 群众 老百姓 百姓 市民 广大 书记 市长 局长 问政 "
        "平台 相关部门 有关部门 职能部门 主管部门 有关情况 调查 核实 调查核实 我局 我们 你们 他们 网民 "
        "您好 你好 谢谢 来电 来访 信访 信访人 反应 希望 恳请 尽快 立即 马上 已经 能够 可以 不能 无法 "
        "没有 不是 这样 那样 一些 这种 那种 大家 现已 目前已 下一步 以便 以及 及其 对于 关于 由于 因此 "
        "所以 但是 并且 而且 如果 虽然 即使 据悉 经查 经了解 了解到 回复如下 回复您 收悉您 您的 你的 "
        "本人 我们的 他们的 领导 各位 尊敬 政府部门 给予支持 感谢您对 工作的 支持与 理解与"
    )
)
_QUESTION_WORDS = frozenset(
    str.split(
        "吗 是否 能否 可否 怎么 如何 为什么 为何 什么 什么时候 何时 多久 哪里 哪儿 谁 有没有 是不是 能不能 "
        "可不可以 会不会 多少 怎样 怎么办 请问 难道 何 几时 要不要 该不该 行不行 可以吗 咋 咋办"
    )
)
# 多少 and 谁 often are no question (吃多少苦, 谁料): they count only in a sentence ending in ？
_QUESTION_CUE_RE = re.compile(
    "是否|能否|可否|怎么(?!样也)|如何|为什么|为何|什么时候|何时|多久|哪里|哪儿|有没有|是不是|能不能|可不可以"
    "|会不会|怎样|几时|要不要|该不该|啥时|为啥|干啥|咋|吗(?!啡)"
)
_WHEN_QUESTION_RE = re.compile("什么时候|何时|多久|啥时|几时|哪天|何日|多长时间|什么时间|哪一年|几月")
# words of a question that say nothing about its topic (besides the stop and generic words)
_QUESTION_FILLER = frozenset(
    str.split(
        "到底 究竟 竟然 居然 声称 清楚 谁料 谁知 今天 昨天 明天 上午 下午 晚上 早上 这么 那么 为啥 干嘛 难道 "
        "一下 问下 想问 请问 我想 应该 真的 简直 实在 根本 怎么样 这样子 是不是 有没有 能不能 可不可以 "
        "会不会 要不要 该不该 凭什么 什么样 多少钱 哪个 哪些 现在 以后 还要 还是 还有 已经 一直 "
        "好像 似乎 据说 听说 总是 老是 经常 每次 不再 不得 不会 不用 不敢 不想 不能 不可 可能 可否 能否 是否 如何 为何 "
        "何时 多久 哪里 哪儿 谁 多少 怎样 几时"
    )
)
_SENTENCE_RE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*")
_CLAUSE_SPLIT_RE = re.compile("[，,：:]")
QUESTION_MIN_CHARS = 12
QUESTION_TERMS = 4

# --- places --------------------------------------------------------------------------------

_PLACE_SUFFIXES = tuple(
    str.split(
        "街道办事处 街道办 街道 社区居委会 居委会 村委会 社区 小区 花园 公寓 大厦 广场 家园 新村 苑 "
        "省 市 县 区 镇 乡 村 组 路 街 大道 巷 大桥 公园 小学 中学 幼儿园 医院 工业园"
    )
)
_PLACE_SUFFIX_RE = re.compile(
    "(?:" + "|".join(sorted(map(re.escape, _PLACE_SUFFIXES), key=len, reverse=True)) + ")"
    # not a suffix before these: 村民, 市场, 县委, 区长, 组织, 路灯 ...
    "(?!民|委|长|场|级|政府|领导|干部|织|建|成|合|员|灯|费|税|况|线|径|子|口|里人)"
)
_PLACE_SUFFIXES_LONGEST_FIRST = tuple(sorted(_PLACE_SUFFIXES, key=len, reverse=True))
_CODE_SUFFIXES = frozenset("省市县区镇乡")
MAX_PLACE_BODY = 6
# characters that end a name's body on its left (the name is after them)
_PLACE_STOP = set(
    "的是在到了和与及或向从对把被给让将我你您他她们这那该此每其个为于由就也都还又再很最已并且有"
    "求请要想住去来在至往近旁边内外上下中后前点半时天年月日号"
)
# everyday words with a place suffix: a name ending in one of them is not a place
_NOT_PLACES = frozenset(
    str.split(
        "道路 马路 公路 铁路 线路 出路 思路 电路 网路 水路 小路 山路 老路 走路 带路 让路 一路 半路 上路 进路 "
        "城区 市区 辖区 片区 地区 郊区 景区 校区 厂区 街区 园区 山区 灾区 老区 该区 本区 全区 小区 社区 "
        "城市 都市 超市 上市 城镇 乡镇 集镇 农村 乡村 山村 本村 全村 该村 本市 全市 该市 我市 本县 全县 "
        "该县 我县 本镇 全镇 该镇 我镇 全省 我省 本省 外省 大街 上街 街道 花园 公园 学校 小学 中学 医院 "
        "广场 大桥 城乡 县城 小组 班组 各组 一组 专家组 工作组 调查组 领导组 督查组 检查组 巡视组 分组 "
        "外地区 各区 各县 各市 各镇 各村 两区 两县 市县 县区 省市 区县 镇村 村组"
    )
)
_PLACE_GENERIC_BODY = frozenset(
    str.split(
        "我们 你们 他们 这个 那个 这里 那里 所在 当地 附近 周边 整个 各个 多个 所有 其他 相关 有关 "
        "一个 几个 这些 那些 什么 哪个 哪些 多少 同一 不同 没有 已经"
    )
)

# --- completeness cues ---------------------------------------------------------------------

ACTION_VERBS = tuple(
    str.split(
        "核实 核查 调查 查处 查实 现场 整改 处理 督促 约谈 责令 拆除 清理 清除 修复 维修 恢复 安排 协调 "
        "落实 完成 开展 检查 巡查 排查 走访 处罚 罚款 立案 查封 取缔 疏通 更换 安装 补发 发放 退还 支付 "
        "转交 转办 交办 会同 联合 召开 制定 出台 下发 回访 约见 勘查 勘察 测量 检测 监测 审批 办结 纳入 "
        "实施 启动 推进 移交 通知 告知 答复 解释 劝导 劝离 制止 规范 改造 修建 硬化 铺设 设置 增设 调整 "
        "研究 部署 组织 派员 派出 核定 审核 受理 登记 退款 赔偿 补偿 兑现 解决"
    )
)
_ACTION_RE = re.compile("|".join(sorted(ACTION_VERBS, key=len, reverse=True)))
# a verb counts as done or planned with one of these earlier in its clause, or 了/完毕 right after it
_ACTION_MARK_RE = re.compile(
    "已|经|将|拟|计划|下一步|正在|立即|迅速|及时|随即|当即|马上|并|进行了|开展了|组织了|认真|专门|专题|多次|"
    "再次|继续|依法|坚决|加快|加强|督促|责成|要求"
)
_ACTION_AFTER = ("了", "完毕", "到位", "结束", "完成")
_CLAUSE_RE = re.compile("[^，。；;！？!?\n]+")
_ACTION_FIXED_RE = re.compile(
    "经查|经核实|经核查|经调查|经了解|经研究|经现场|经走访|经排查|经检查|经勘查|经审核"
)

_BODY_SELF_RE = re.compile(
    "(?:我|本)(?:局|委|办|厅|处|科|所|站|队|中心|院|校|司|公司|镇|乡|街道|区|县|市|部|单位|部门|馆|社区|村)"
)
_BODY_SUFFIX_RE = re.compile(
    "(?:委员会|管委会|办公室|街道办事处|办事处|街道办|执法大队|执法局|大队|支队|中队|派出所|服务中心|"
    "管理处|管理所|中心|人民政府|政府|有限公司|公司|集团|居委会|村委会|社区|法院|检察院|分局|局|厅|委|"
    "供电所|国土所|财政所|卫生院)"
    "(?!长|员|面|部|势|托|屈|婉|城|地带|位置|区域|主任|书记|领导)"
)
_NOT_BODIES = frozenset(
    str.split(
        "格局 结局 布局 当局 大局 全局 时局 政局 开局 残局 骗局 饭局 赌局 棋局 僵局 定局 出局 "
        "市中心 中心 城市中心 一中心 分公司 子公司 总公司 该公司 这个公司 政府 地方政府 当地政府 "
        "有关政府 相关政府 学校 医院 社区 主委 评委 村委 常委 纪委 党委"
    )
)
_BODY_LEFT_STOP = set(
    "的是在到了和与及或向从对把被给让将我你您他她们这那该此每其为于由就也都还又再已并经如求请成令交来去"
    "至可据映转联邀报"
)

_DATE_RE = re.compile(
    r"(?:\d{4}年)?(?:\d{1,2}|[一二三四五六七八九十]{1,3})月(?:\d{1,2}|[一二三四五六七八九十]{1,3})[日号]"
    r"|(?:\d{4}年)?(?:\d{1,2}|[一二三四五六七八九十]{1,3})月(?:底|初|中旬|上旬|下旬|份|中)"
    r"|\d{4}年(?:底|初|内|\d{1,2}月)?"
    r"|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
)
_TIME_RE = re.compile(
    r"年底|年内|月底|本月|下月|本周|下周|近日|日前|限期|截至|截止"
    r"|[0-9一二三四五六七八九十两]+个?(?:工作日|日|天|周|星期|月)(?:内|之内|以内)"
    r"|[0-9一二三四五六七八九十两]+个工作日"
)
_TIME_WEAK_RE = re.compile("尽快|尽早|近期|抓紧|适时|下一步|逐步|择机|后期")
_DATE_OF_CITIZEN_RE = re.compile("(?:您|你|网友|来信|留言|信访人|反映人)(?:于|在|在网上|在本平台)?$")

# --- refusals and their basis --------------------------------------------------------------

_REFUSAL_RE = re.compile(
    "不予(?:以)?[\u4e00-\u9fff]{0,2}|不受理|驳回|不同意|不支持"
    "|不符合[\u4e00-\u9fff]{0,12}?(?:条件|规定|政策|要求|标准|资格|范围)"
    "|不属于|不具备[\u4e00-\u9fff]{0,6}?(?:条件|资格)"
    "|暂不(?:予以|考虑|能|宜|具备|实施|安排|纳入|属于|会|予|办理|开通|批准|同意)"
    "|(?:无法|不能|不可以|不得)(?:为您|给您|对您)?(?:满足(?:您|你|诉求|其)|受理|办理|支持|批准|享受|给予|纳入|安排|解决|补偿|落户|"
    "报销|审批|同意|认定|退还|调入|录用|发放|补发|认可|立案|登记|迁入|申请|列入)"
    "|不在[\u4e00-\u9fff]{0,12}?范围"
)
_BASIS_TITLE_RE = re.compile(
    "《[^《》\n]{1,60}?(?:法|条例|规定|办法|细则|规则|意见|通知|决定|标准|规范|解释|规划|政策|方案|通告|批复|"
    "纲要|公告|规程|准则|制度)(?:（[^（）]{0,20}）|\\([^()]{0,20}\\))?》"
)
_BASIS_ARTICLE_RE = re.compile(
    "第[0-9一二三四五六七八九十百零]+条|[〔\\[［（(][0-9]{4}[〕\\]］）)]第?[0-9]+号|[0-9]+号(?:文件|文|令)"
)
_BASIS_NAMED_RE = re.compile(
    "(?:依据|根据|按照|依照|遵照|参照|违反了?)[^，。；;\n]{0,30}?"
    "(?<!相关)(?<!有关)(?<!国家)(?:法|条例|办法|细则)(?:规定|要求|的规定|第)?"
)
_BASIS_VAGUE_RE = re.compile(
    "(?:依据|根据|按照|依照|按)(?:国家|上级|省|市|县|区)?(?:的)?(?:相关|有关)?(?:法律法规|法律|法规|政策|规定|文件|要求)"
    "|按规定|依法依规|依法"
)

# --- tone ----------------------------------------------------------------------------------

_COURTESY_RE = re.compile(
    "您好|你好|感谢|谢谢|您反映|你反映|您所反映|来信收悉|留言收悉|已收悉|收悉|如有疑问|如有问题|如有异议|"
    "欢迎|敬请|请您|理解|抱歉|歉意|不便|关心|关注|尊敬的"
)
CURT_PHRASES = tuple(
    str.split(
        "你自己去 自己去找 自己去问 自己去查 自己看着办 自己想办法 不归我们管 不归我局管 不归我们 不关我们的事 "
        "与我们无关 与我局无关 与本单位无关 不是我们的事 别再 不要再反映 不要再打 不要再来 请勿再 无理取闹 "
        "胡搅蛮缠 少管闲事 爱找谁找谁 找谁都没用 别找我们 没空管 管不了 懒得 你们自己 闹什么 有本事"
    )
)
# 不归我局管辖 is a polite referral, not 不归我局管
_CURT_RE = re.compile(
    "(?:" + "|".join(sorted(map(re.escape, CURT_PHRASES), key=len, reverse=True)) + ")(?![辖理])"
)


# --- helpers -------------------------------------------------------------------------------


def _clip(value: str, limit: int = PARAM_CHARS) -> str:
    value = value.strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _prepare(text: Any) -> str:
    if not isinstance(text, str) or not text:
        return ""
    return normalize(text[: MAX_CHARS * 2])[:MAX_CHARS]


def _han_count(text: str) -> int:
    return len(_HAN_COUNT_RE.findall(text))


@lru_cache(maxsize=65536)
def _is_content(token: str) -> bool:
    return len(token) >= 2 and token not in stopwords() and HAN_RE.search(token) is not None


def _content_tokens(tokens: list[str]) -> list[str]:
    return [t for t in tokens if _is_content(t)]


@lru_cache(maxsize=65536)
def _features(token: str) -> tuple[tuple[str, float], ...]:
    """A content token's features and weights: itself, and its character pairs at half weight."""
    if not _is_content(token):
        return ()
    w = 0.1 if token in GENERIC_WORDS else 1.0
    if len(token) < 3:
        return ((token, w),)
    return ((token, w), *(("#" + token[k : k + 2], 0.5 * w) for k in range(len(token) - 1)))


def _vector(tokens: list[str]) -> dict[str, float]:
    weights: dict[str, float] = {}
    get = weights.get
    for token in tokens:
        for key, w in _features(token):
            weights[key] = get(key, 0.0) + w
    return {key: math.log1p(value) for key, value in weights.items()}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    if dot <= 0:
        return 0.0
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb)


@lru_cache(maxsize=65536)
def _specific(token: str) -> bool:
    return (
        _is_content(token)
        and token not in GENERIC_WORDS
        and token not in _QUESTION_WORDS
        and token not in _QUESTION_FILLER
        and not any(q in token for q in ("什么", "怎么", "为什么", "是否", "能否", "如何"))
    )


def _key_terms(title_tokens: list[str], body_tokens: list[str], limit: int = KEY_TERMS) -> list[str]:
    scores: Counter[str] = Counter()
    first: dict[str, int] = {}
    for i, token in enumerate([*title_tokens, *body_tokens]):
        if not _specific(token):
            continue
        scores[token] += 2.0 if i < len(title_tokens) else 1.0
        first.setdefault(token, i)
    ranked = sorted(scores, key=lambda t: (-(math.log1p(scores[t]) * min(len(t), 4)), first[t]))
    return ranked[:limit]


def find_places(text: str) -> list[str]:
    """Place names in a normalised text by their suffix (see the module docstring), in order, once each."""
    if not isinstance(text, str) or not text:
        return []
    found: list[str] = []
    prev_end = 0
    for match in _PLACE_SUFFIX_RE.finditer(text):
        start, suffix = match.start(), match.group(0)
        k = start
        if suffix in _CODE_SUFFIXES and k > prev_end and text[k - 1].isascii() and text[k - 1].isalnum():
            while k > prev_end and start - k < 4 and text[k - 1].isascii() and text[k - 1].isalnum():
                k -= 1
            name = text[k:start].upper() + suffix
            if not name[0].isalpha() or (k > 0 and text[k - 1].isascii() and text[k - 1].isalnum()):
                continue
        else:
            while k > prev_end and start - k <= MAX_PLACE_BODY and HAN_RE.match(text[k - 1]):
                if text[k - 1] in _PLACE_STOP:
                    break
                k -= 1
            body = text[k:start]
            if start - k > MAX_PLACE_BODY or len(body) < 2 or body in _PLACE_GENERIC_BODY:
                continue
            name = body + suffix
            if name in _NOT_PLACES or (
                len(suffix) == 1 and (name[-2:] in _NOT_PLACES or name[-3:] in _NOT_PLACES)
            ):
                continue
        prev_end = match.end()
        if name not in found:
            found.append(name)
    return found


def _place_named(place: str, reply: str) -> bool:
    if place in reply:
        return True
    for suffix in _PLACE_SUFFIXES_LONGEST_FIRST:
        if place.endswith(suffix):
            body = place[: -len(suffix)]
            return len(body) >= 2 and body in reply
    return False


def find_questions(text: str) -> list[str]:
    """The questions of a normalised appeal (see the module docstring), at most MAX_QUESTIONS.

    A question is the clause (cut at ，,：:) that holds the question word, with the clause before it
    when it has fewer than ``QUESTION_MIN_CHARS`` characters; a sentence that ends in a question mark
    without a question word gives its last clause (and the one before it when short).
    """
    if not isinstance(text, str) or not text:
        return []
    questions = []
    for match in _SENTENCE_RE.finditer(text):
        sentence = match.group(0).strip()
        if len(sentence) < 3:
            continue
        marked = sentence.endswith(("？", "?"))
        if not marked and not _QUESTION_CUE_RE.search(sentence):
            continue
        clauses = [c.strip() for c in _CLAUSE_SPLIT_RE.split(sentence) if c.strip()]
        chosen = [i for i, c in enumerate(clauses) if _QUESTION_CUE_RE.search(c)]
        if marked and len(clauses) - 1 not in chosen:
            chosen.append(len(clauses) - 1)
        parts: list[int] = []
        for i in chosen:
            if i > 0 and len(clauses[i]) < QUESTION_MIN_CHARS and i - 1 not in parts:
                parts.append(i - 1)
            if i not in parts:
                parts.append(i)
        questions.append("，".join(clauses[i] for i in parts))
        if len(questions) >= MAX_QUESTIONS:
            break
    return questions


def _term_in(term: str, text: str) -> bool:
    """The term is in the text, or (three characters or more) most of its character pairs are."""
    if term in text:
        return True
    if len(term) < 3:
        return False
    pairs = [term[k : k + 2] for k in range(len(term) - 1)]
    return sum(1 for p in pairs if p in text) * 2 > len(pairs)


def _question_terms(question: str) -> list[str]:
    tokens = [t for t in segment(question) if _specific(t)]
    seen: list[str] = []
    for token in tokens:
        if token not in seen:
            seen.append(token)
    return sorted(seen, key=lambda t: (-len(t), seen.index(t)))[:QUESTION_TERMS]


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    return None


def _days_between(start: datetime, end: datetime) -> float:
    if (start.tzinfo is None) != (end.tzinfo is None):
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    return (end - start).total_seconds() / 86400.0


def _scale(days: float) -> float:
    points = TIMELINESS_SCALE
    if days <= points[0][0]:
        return points[0][1]
    for (d0, s0), (d1, s1) in pairwise(points):
        if days <= d1:
            return s0 + (s1 - s0) * (days - d0) / (d1 - d0)
    return points[-1][1]


# --- the parts -----------------------------------------------------------------------------


def _relevance(
    appeal_tokens: list[str], title_tokens: list[str], appeal_text: str, reply: str, reply_tokens: list[str]
) -> tuple[float | None, list[Reason]]:
    part = "relevance"
    if not appeal_tokens and not title_tokens:
        return None, [Reason("appeal_empty", part, "warn", {})]
    reasons: list[Reason] = []
    sim = _cosine(_vector([*title_tokens, *appeal_tokens]), _vector(reply_tokens))
    terms = _key_terms(title_tokens, appeal_tokens)
    found = [t for t in terms if t in reply]
    coverage = len(found) / len(terms) if terms else None
    places = find_places(appeal_text)
    local = [p for p in places if not p.endswith(("省", "市"))]
    places = (local or places)[:6]  # a province or city is named in nearly every reply: only when alone
    named = [p for p in places if _place_named(p, reply)]
    place_cov = len(named) / len(places) if places else None

    components = [(0.5, min(1.0, sim / SIM_FULL))]
    if coverage is not None:
        components.append((0.3, coverage))
    if place_cov is not None:
        components.append((0.2, place_cov))
    score = sum(w * s for w, s in components) / sum(w for w, _ in components)

    params = {"similarity": round(sim, 3), "relevance": round(score, 3)}
    if score < OFF_TOPIC:
        reasons.append(Reason("off_topic", part, "bad", params))
    elif score < WEAK_RELEVANCE:
        reasons.append(Reason("weak_relevance", part, "warn", params))
    else:
        reasons.append(Reason("on_topic", part, "good", params))
    if terms and coverage is not None and coverage < 0.5:
        missing = [t for t in terms if t not in found]
        reasons.append(
            Reason(
                "key_terms_missing",
                part,
                "warn",
                {"terms": missing[:4], "found": len(found), "total": len(terms)},
            )
        )
    if places:
        missing_places = [p for p in places if p not in named]
        if missing_places and len(named) * 2 < len(places):
            reasons.append(
                Reason("places_missing", part, "warn", {"places": [_clip(p, 20) for p in missing_places[:3]]})
            )
        if named:
            reasons.append(
                Reason("places_named", part, "good", {"places": [_clip(p, 20) for p in named[:3]]})
            )
    return score, reasons


def _completeness(appeal_text: str, reply: str) -> tuple[float, list[Reason]]:
    part = "completeness"
    reasons: list[Reason] = []
    checks: list[tuple[float, float]] = []

    # questions: each earns min(1, hits / ceil(terms / 2)) of its share
    counted = answered = 0
    credit = 0.0
    unanswered: list[tuple[str, list[str]]] = []
    partly: list[tuple[str, list[str]]] = []
    when_given = bool(_times(reply))
    for question in find_questions(appeal_text):
        terms = _question_terms(question)
        if not terms:
            continue
        counted += 1
        missing = [t for t in terms if not _term_in(t, reply)]
        hits = len(terms) - len(missing)
        asked_when = _WHEN_QUESTION_RE.search(question) is not None
        if when_given and asked_when:  # asked when, and the reply gives a time
            hits += 1
        need = math.ceil(len(terms) / 2)
        value = min(1.0, hits / need)
        # the terms that the appeal has only in this question say what it asks (垃圾站 is the
        # topic of the whole appeal, 搬迁 the question): one of them must be found
        own = [t for t in terms if appeal_text.count(t) <= question.count(t)]
        if own and not (when_given and asked_when) and all(t in missing for t in own):
            value = min(value, 0.5)
        credit += value
        if value >= 1.0:
            answered += 1
        elif hits:
            partly.append((question, missing))
        else:
            unanswered.append((question, terms))
    if counted:
        checks.append((0.4, credit / counted))
        for question, terms in unanswered[:MAX_QUESTION_REASONS]:
            reasons.append(
                Reason("question_unanswered", part, "bad", {"question": _clip(question), "terms": terms})
            )
        for question, terms in partly[: max(0, MAX_QUESTION_REASONS - len(unanswered))]:
            reasons.append(
                Reason("question_partly", part, "warn", {"question": _clip(question), "missing": terms})
            )
        more = len(unanswered) + len(partly) - MAX_QUESTION_REASONS
        if more > 0:
            reasons.append(Reason("questions_more", part, "warn", {"count": more}))
        if answered:
            reasons.append(
                Reason("questions_answered", part, "good", {"answered": answered, "total": counted})
            )

    # action
    strong: list[str] = [m.group(0) for m in _ACTION_FIXED_RE.finditer(reply)]
    weak: list[str] = []
    for clause in _CLAUSE_RE.finditer(reply):
        text = clause.group(0)
        for m in _ACTION_RE.finditer(text):
            if _ACTION_MARK_RE.search(text, 0, m.start()) or text.startswith(_ACTION_AFTER, m.end()):
                strong.append(m.group(0))
            elif len(weak) < 3:
                weak.append(m.group(0))
        if len(strong) >= 6:
            break
    if strong:
        checks.append((0.3, 1.0))
        cues = list(dict.fromkeys(strong))[:3]
        reasons.append(Reason("action_stated", part, "good", {"cues": cues}))
    elif weak:
        checks.append((0.3, 0.6))
        reasons.append(Reason("action_unclear", part, "warn", {"cues": list(dict.fromkeys(weak))[:3]}))
    else:
        checks.append((0.3, 0.0))
        reasons.append(Reason("no_action", part, "bad", {}))

    # body
    bodies = _bodies(reply)
    if bodies:
        checks.append((0.15, 1.0))
        reasons.append(Reason("body_named", part, "good", {"bodies": bodies[:3]}))
    else:
        checks.append((0.15, 0.0))
        reasons.append(Reason("no_body", part, "warn", {}))

    # time
    when = _times(reply)
    if when:
        checks.append((0.15, 1.0))
        reasons.append(Reason("time_given", part, "good", {"when": when[:3]}))
    else:
        vague = _TIME_WEAK_RE.search(reply)
        if vague:
            checks.append((0.15, 0.5))
            reasons.append(Reason("time_vague", part, "warn", {"cue": vague.group(0)}))
        else:
            checks.append((0.15, 0.0))
            reasons.append(Reason("no_time", part, "warn", {}))

    score = sum(w * s for w, s in checks) / sum(w for w, _ in checks)
    return score, reasons


def _bodies(reply: str) -> list[str]:
    found: list[str] = [m.group(0) for m in _BODY_SELF_RE.finditer(reply)]
    for m in _BODY_SUFFIX_RE.finditer(reply):
        start = m.start()
        k = start
        while k > 0 and start - k < 8:
            ch = reply[k - 1]
            if ch in _BODY_LEFT_STOP or not (HAN_RE.match(ch) or (ch.isascii() and ch.isalnum())):
                break
            k -= 1
        name = reply[k : m.end()]
        if name == m.group(0) and len(name) < 3:  # a bare 局 / 中心 / 社区 / 政府
            continue
        if name in _NOT_BODIES:
            continue
        if any(
            name.endswith(x) for x in ("格局", "结局", "布局", "当局", "大局", "全局", "骗局", "饭局", "僵局")
        ):
            continue
        found.append(name)
    return list(dict.fromkeys(_clip(b, 20) for b in found))


def _times(reply: str) -> list[str]:
    tail = len(reply.rstrip(" 。.！!\n\u3000"))
    out: list[str] = []
    for m in _DATE_RE.finditer(reply):
        if m.end() >= tail - 1:  # the reply's closing date
            continue
        if _DATE_OF_CITIZEN_RE.search(reply[max(0, m.start() - 8) : m.start()]):
            continue
        out.append(m.group(0))
    out.extend(m.group(0) for m in _TIME_RE.finditer(reply))
    return list(dict.fromkeys(out))


def _legal(reply: str) -> tuple[float | None, list[Reason]]:
    part = "legal_basis"
    refusal = _REFUSAL_RE.search(reply)
    if refusal is None:
        return None, []
    cue = refusal.group(0)
    basis = _BASIS_TITLE_RE.search(reply) or _BASIS_ARTICLE_RE.search(reply) or _BASIS_NAMED_RE.search(reply)
    if basis is not None:
        return 1.0, [Reason("basis_cited", part, "good", {"cue": cue, "basis": _clip(basis.group(0), 40)})]
    vague = _BASIS_VAGUE_RE.search(reply)
    if vague is not None:
        return 0.5, [Reason("basis_vague", part, "warn", {"cue": cue, "basis": vague.group(0)})]
    return 0.0, [Reason("refusal_without_basis", part, "bad", {"cue": cue})]


def _timeliness(
    received_at: datetime | None, replied_at: datetime | None, due_at: datetime | None
) -> tuple[float | None, list[Reason]]:
    part = "timeliness"
    if replied_at is None:
        return None, []
    if due_at is not None:
        late = _days_between(due_at, replied_at)
        if late <= 0:
            return 1.0, [Reason("replied_on_time", part, "good", {"days_left": round(-late, 1)})]
        score = max(0.0, LATE_CAP * (1 - late / LATE_ZERO_DAYS))
        return score, [Reason("replied_late", part, "bad", {"days_late": round(late, 1)})]
    if received_at is None:
        return None, []
    days = max(0.0, _days_between(received_at, replied_at))
    params = {"days": round(days, 1)}
    if days <= 15:
        reason = Reason("replied_within", part, "good", params)
    elif days <= 60:
        reason = Reason("replied_slow", part, "warn", params)
    else:
        reason = Reason("replied_very_slow", part, "bad", params)
    return _scale(days), [reason]


def _tone(reply: str) -> tuple[float, list[Reason]]:
    part = "tone"
    reasons: list[Reason] = []
    score = 1.0
    courtesy = list(dict.fromkeys(m.group(0) for m in _COURTESY_RE.finditer(reply)))
    if courtesy:
        reasons.append(Reason("courteous", part, "good", {"cues": courtesy[:3]}))
    else:
        score -= 0.3
        reasons.append(Reason("no_courtesy", part, "warn", {}))
    curt = list(dict.fromkeys(m.group(0) for m in _CURT_RE.finditer(reply)))
    if curt:
        score -= 0.4 * len(curt)
        reasons.append(Reason("curt", part, "bad", {"phrases": curt[:5]}))
    han = _han_count(reply)
    if han < MIN_HAN:
        score = min(score, 0.2)
        reasons.append(Reason("too_short", part, "bad", {"chars": han, "min": MIN_HAN}))
    return max(0.0, score), reasons


_SEVERITY_ORDER = {"bad": 0, "warn": 1, "good": 2}
_WORD_RE = re.compile("[\u4e00-\u9fffA-Za-z0-9]")


def assess_reply(
    appeal: str,
    reply: str,
    *,
    title: str = "",
    received_at: datetime | None = None,
    replied_at: datetime | None = None,
    due_at: datetime | None = None,
) -> Quality:
    """The quality of ``reply`` to ``appeal`` (see the module docstring)."""
    appeal_text = _prepare(appeal)
    title_text = _prepare(title)
    reply_text = _prepare(reply)
    received, replied, due = _as_datetime(received_at), _as_datetime(replied_at), _as_datetime(due_at)

    scores: dict[str, float | None] = dict.fromkeys(PARTS)
    reasons: list[Reason] = []
    if not _WORD_RE.search(reply_text):
        reasons.append(Reason("empty_reply", "completeness", "bad", {}))
        parts = {
            key: Part(key, 0.0 if key in ("relevance", "completeness", "tone") else None, 0.0)
            for key in PARTS
        }
        return Quality(0, parts, reasons, QUALITY_VERSION)

    appeal_tokens = segment(appeal_text) if appeal_text else []
    title_tokens = segment(title_text) if title_text else []
    reply_tokens = segment(reply_text)
    full_appeal = f"{title_text}\n{appeal_text}".strip()

    scores["relevance"], found = _relevance(
        appeal_tokens, title_tokens, full_appeal, reply_text, reply_tokens
    )
    reasons += found
    scores["completeness"], found = _completeness(full_appeal, reply_text)
    reasons += found
    scores["legal_basis"], found = _legal(reply_text)
    reasons += found
    scores["timeliness"], found = _timeliness(received, replied, due)
    reasons += found
    scores["tone"], found = _tone(reply_text)
    reasons += found

    applicable = {key: WEIGHTS[key] for key in PARTS if scores[key] is not None}
    total = sum(applicable.values())
    parts = {
        key: Part(
            key,
            None if scores[key] is None else round(float(scores[key]), 4),  # type: ignore[arg-type]
            round(applicable.get(key, 0.0) / total, 4) if total else 0.0,
        )
        for key in PARTS
    }
    value = sum(WEIGHTS[key] * scores[key] for key in applicable) / total if total else 0.0  # type: ignore[operator]
    final = max(0, min(100, round(100 * value)))
    if any(r.code == "off_topic" for r in reasons):
        final = min(final, OFF_TOPIC_CAP)
    order = {key: i for i, key in enumerate(PARTS)}
    reasons.sort(key=lambda r: (_SEVERITY_ORDER[r.severity], order[r.part]))
    return Quality(final, parts, reasons, QUALITY_VERSION)
