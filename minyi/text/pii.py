"""Personal data in citizens' messages: ``find_pii`` and ``mask_pii``.

Kinds (string constants): ``mobile``, ``landline``, ``id_card``, ``bank_card``,
``email``, ``plate``, ``name``, ``address``.

- ``mobile``: mainland mobile numbers ``1[3-9]x xxxx xxxx``, with or without spaces or
  dashes between the 3-4-4 groups, with an optional ``+86`` / ``0086`` / ``86`` prefix.
- ``landline``: area code (``010``, ``02x``, ``0[3-9]xx``) and a 7-8 digit local number
  starting 2-9, as ``010-12345678``, ``(0731)8888888``, ``0731 88888888``, with an
  optional extension (``-123``, ``转123``); a bare local number only right after a word
  such as 电话 or 座机.
- ``id_card``: 18-digit resident ID numbers with a valid ISO 7064 MOD 11-2 check digit
  (``X`` or ``x``), a known province code and a real birth date not in the future; the
  old 15-digit form with a province code and a real 19xx birth date. 6-8-4 grouping
  with spaces or dashes is accepted.
- ``bank_card``: 16-19 digits starting 1-9, optionally grouped in fours, Luhn-valid.
- ``email``; ``plate`` (``湘A12345``, ``京AD12345``, ``粤B·12345``, lower-case letters too).
- ``name``: a 2-4 character name with a common surname (``data/surnames.txt``), after an
  introduction (``我叫``, ``本人``, ``我是``, ``姓名：``, ``联系人：``, ``投诉人`` ...).
  Without a colon after the introduction, the name must end at punctuation, a
  non-Chinese character or a word that usually follows a name (``的``, ``反映``,
  ``住`` ...), and surnames that are everyday words (``尚``, ``应``, ``房`` ...) do not count.
- ``address``: the house-number part of an address: ``12号`` after a road name,
  ``3栋2单元501室`` (two or more parts, or one after an estate or village word such as
  ``小区``/``村``), ``5组`` after ``村``, ``3-2-501`` after an estate word. The span is
  the number part only; the road or estate name stays visible.

A number inside a longer run of digits is never a match (digit boundaries). The finder
runs on the text as given: full-width digits, letters and signs are read as their
ASCII forms and zero-width or bidi characters inside a number are skipped, while the
spans index the original text. Digits of other scripts (Arabic-Indic ...) are not read.

Overlaps are resolved by kind priority, then length, then position:
email > id_card > bank_card > mobile > landline > plate > address > name. With
``kinds=...`` only those kinds are looked for.

``mask_pii`` replaces each span with a hint that keeps its shape:
``138****5678`` (mobile: first 3 and last 4 digits), ``4401**********1234`` (ID: first
4 and last 4), ``6222 **** **** 1234`` (card: first 4 and last 4), ``0731-******88``
(landline: area code and last 2), ``z***@example.com`` (email: first character),
``湘A*****`` (plate: first 2 characters), ``张**`` (name: surname), ``*栋*单元***室``
(address: digits masked). The masked text is searched again for numbers that masking
exposed (a phone glued to a card whose kept digits complete it, a phone in an e-mail
domain) and masked again, so no valid ID, card or phone number is left behind.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

from minyi.text.normalize import _INVISIBLE_CLASS

__all__ = [
    "ADDRESS",
    "BANK_CARD",
    "EMAIL",
    "ID_CARD",
    "KINDS",
    "LANDLINE",
    "MOBILE",
    "NAME",
    "PLATE",
    "Span",
    "find_pii",
    "is_valid_bank_card",
    "is_valid_id_card",
    "mask_pii",
]

MOBILE = "mobile"
LANDLINE = "landline"
ID_CARD = "id_card"
BANK_CARD = "bank_card"
EMAIL = "email"
PLATE = "plate"
NAME = "name"
ADDRESS = "address"
KINDS = (EMAIL, ID_CARD, BANK_CARD, MOBILE, LANDLINE, PLATE, ADDRESS, NAME)  # priority order
_PRIORITY = {kind: i for i, kind in enumerate(KINDS)}

_DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of personal data: ``text == original[start:end]``."""

    start: int
    end: int
    kind: str
    text: str


# --- the view: offset-preserving folding ---------------------------------------------

_FOLD = {0xFF01 + i: chr(0x21 + i) for i in range(0x5E)}  # full-width ASCII
for _punct in "，！？：；（）":  # Chinese punctuation is matched as itself
    del _FOLD[ord(_punct)]
_FOLD.update(dict.fromkeys((0x3000, 0x00A0, 0x202F, 0x205F, *range(0x2000, 0x200B)), " "))
_FOLD.update(dict.fromkeys((0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE63), "-"))
_FOLD.update(dict.fromkeys((0x2022, 0x2027, 0x30FB, 0xFF65, 0x2219, 0x22C5), "·"))
_FOLD_TABLE = str.maketrans(_FOLD)
_FOLD_NEEDED_RE = re.compile(f"[{''.join(re.escape(chr(cp)) for cp in sorted(_FOLD))}]")

# Invisible characters are skipped (as strip_invisible removes them), and so are CR and
# variation selectors, so that they cannot hide a number.
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE_CLASS}\r\ufe00-\ufe0f]")
# Its BMP part alone compiles to a bitmap (a fast scan); astral characters are rare.
_INVISIBLE_BMP_RE = re.compile("[" + _INVISIBLE_CLASS.split("\U000110bd")[0] + "\r\ufe00-\ufe0f]")
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")
_VISIBLE_RUN_RE = re.compile(f"[^{_INVISIBLE_CLASS}\r\ufe00-\ufe0f]+")


# Either of the two (one bitmap scan for the usual text, which has neither).
_FOLD_OR_INVISIBLE_RE = re.compile(
    f"[{''.join(re.escape(chr(cp)) for cp in sorted(_FOLD))}"
    + _INVISIBLE_CLASS.split("\U000110bd")[0]
    + "\r\ufe00-\ufe0f]"
)


def _view(text: str) -> tuple[str, list[int] | None]:
    """Folded text with invisible characters removed, and the map back to ``text`` offsets."""
    if _FOLD_OR_INVISIBLE_RE.search(text) is None and _ASTRAL_RE.search(text) is None:
        return text, None
    if _FOLD_NEEDED_RE.search(text) is not None:
        text = text.translate(_FOLD_TABLE)
    if _INVISIBLE_BMP_RE.search(text) is None and (
        _ASTRAL_RE.search(text) is None or _INVISIBLE_RE.search(text) is None
    ):
        return text, None
    kept = []
    positions: list[int] = []
    for run in _VISIBLE_RUN_RE.finditer(text):
        kept.append(run.group())
        positions.extend(range(run.start(), run.end()))
    positions.append(len(text))
    return "".join(kept), positions


# --- validators ----------------------------------------------------------------------

# Province-level codes (first two digits); 71 Taiwan, 81/82/83 residence permits.
_PROVINCES = frozenset(
    {
        *("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"),
        *("41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64"),
        *("65", "71", "81", "82", "83"),
    }
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        born = date(year, month, day)
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= datetime.now(tz=UTC).date()


def is_valid_id_card(number: str) -> bool:
    """An 18-digit (check digit verified) or 15-digit resident ID number, digits only."""
    number = number.upper()
    if len(number) == 18:
        if not number[:17].isascii() or not number[:17].isdigit() or number[17] not in _ID_CHECK:
            return False
        if number[:2] not in _PROVINCES:
            return False
        if not _real_date(int(number[6:10]), int(number[10:12]), int(number[12:14])):
            return False
        total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
        return _ID_CHECK[total % 11] == number[17]
    if len(number) == 15:
        if not number.isascii() or not number.isdigit() or number[:2] not in _PROVINCES:
            return False
        return _real_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    return False


def is_valid_bank_card(number: str) -> bool:
    """16-19 digits, not starting with 0, Luhn-valid."""
    if not 16 <= len(number) <= 19 or not number.isascii() or not number.isdigit() or number[0] == "0":
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# --- patterns ------------------------------------------------------------------------

_NB = r"(?<![0-9])"  # no digit before


def _starts(first: str) -> str:
    """No digit before, and a cheap first-character test (lets the regex engine skip ahead)."""
    return f"(?=[{first}]){_NB}"


_NA = r"(?![0-9])"  # no digit after

_MOBILE_RE = re.compile(
    _starts("+(0-9") + r"(?P<prefix>(?:\+|00)?86[ -]?|\(\+?86\) ?)?"
    r"(?P<number>1[3-9][0-9](?P<sep>[ -]?)[0-9]{4}(?P=sep)[0-9]{4}|1[3-9][0-9]{9})" + _NA
)
_LANDLINE_RE = re.compile(
    _starts("(（0") + r"(?P<open>[(（])?(?P<area>010|02[0-9]|0[3-9][0-9]{2})(?(open)[)）])"
    r"(?P<sep>[ -]?)(?P<local>[2-9][0-9]{6,7})"
    r"(?:(?:-|转|轉|分机|分機|ext\.? ?|EXT\.? ?)[0-9]{1,5})?" + _NA
)
_LOCAL_LANDLINE_RE = re.compile(
    r"(?:电话|電話|座机|座機|固话|固話|联系方式|聯繫方式|聯系方式|[Tt]el|TEL)[:：]? ?(?P<local>[2-9][0-9]{6,7})"
    + _NA
)
_DATE8 = r"(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_ID18_RE = re.compile(
    _starts("1-8") + r"[1-8][0-9]{5}(?P<sep>[ -]?)" + _DATE8 + r"(?P=sep)[0-9]{3}[0-9Xx]" + _NA
)
_ID15_RE = re.compile(
    _starts("1-8") + r"[1-8][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}" + _NA
)
_CARD_RE = re.compile(
    _starts("1-9")
    + r"(?:[1-9][0-9]{15,18}|[1-9][0-9]{3}(?P<sep>[ -])[0-9]{4}(?P=sep)[0-9]{4}(?P=sep)[0-9]{4}"
    r"(?:(?P=sep)[0-9]{1,3})?)" + _NA
)
_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@"
    r"[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,7}\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
_PROVINCE_CHARS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼滬遼魯蘇贛貴閩陝寧瓊雲晉"
_PLATE_LETTER = "A-HJ-NP-Za-hj-np-z"
_PLATE_RE = re.compile(
    f"(?<![A-Za-z0-9])[{_PROVINCE_CHARS}][{_PLATE_LETTER}][·. -]?"
    f"(?:[DFdf][{_PLATE_LETTER}0-9][0-9]{{4}}|[0-9]{{5}}[DFdf]|[{_PLATE_LETTER}0-9]{{4}}[{_PLATE_LETTER}0-9挂学警港澳])"
    "(?![A-Za-z0-9])"
)


def _alternatives(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# A number: digits, or Chinese numerals other than a lone 一 or a leading 两 (一栋楼, 两栋 are counts).
_NUM = r"(?:[0-9]{1,5}|[二三四五六七八九十百零〇][一二三四五六七八九十百零〇两]{0,3}|一[一二三四五六七八九十百零〇两]{1,3})"
_UNIT = r"(?:号楼|號樓|单元|單元|栋|棟|幢|座|楼|樓|层|層|室|号|號|户|戶|房|组|組)"
_BUILDING_UNIT = r"(?:号楼|號樓|单元|單元|栋|棟|幢|座)"
_ESTATE_UNIT = r"(?:号楼|號樓|单元|單元|栋|棟|幢|座|楼|樓|号|號|组|組)"
_ROADS = ("路", "街", "大道", "大街", "巷", "弄", "胡同")
_ESTATES = (
    "小区", "小區", "花园", "花園", "公寓", "大厦", "大廈", "广场", "廣場", "家园", "家園", "新村", "新城",
    "社区", "社區", "山庄", "山莊", "宿舍", "苑", "园", "園", "城", "府", "湾", "灣", "庭", "居", "阁",
    "閣", "郡", "邸", "村",
)  # fmt: skip
_MEASURE = "米元个個年月日天次多公里千万萬亿億%人辆輛条條件岁歲名家度期分秒块塊位平方线線路"
_NOT_AFTER_UNITS = r"(?![0-9线線路令文])"
# A road and its house number: 中山路12号, 五一大道202 (号 optional, not before a measure word).
_ROAD_NUMBER_RE = re.compile(
    rf"(?:{_alternatives(_ROADS)})(?P<road>[0-9]{{1,5}}(?:-[0-9]{{1,4}})?(?:号|號|(?![0-9号號{_MEASURE}]))"
    rf"(?:{_NUM}{_UNIT})*){_NOT_AFTER_UNITS}"
)
# An estate or village and one or more parts: 小区3栋, 村5组, 花园3-2-501, 华府2栋1单元.
_ESTATE_NUMBER_RE = re.compile(
    rf"(?:{_alternatives(_ESTATES)})(?P<estate>{_NUM}{_ESTATE_UNIT}(?:-?{_NUM}{_UNIT})*(?:-?[0-9]{{1,5}})?{_NOT_AFTER_UNITS}"
    rf"|[0-9]{{1,3}}-[0-9]{{1,3}}(?:-[0-9]{{1,4}})?(?![0-9月日号號年]))"
)
# Two or more parts (3栋2单元501室), or a building part and a bare number (2号楼301).
_UNITS_RE = re.compile(
    rf"(?P<units>{_NUM}{_UNIT}(?:-?{_NUM}{_UNIT})+(?:-?[0-9]{{1,5}})?|{_NUM}{_BUILDING_UNIT}-?[0-9]{{2,5}}){_NOT_AFTER_UNITS}"
)


# --- names ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _surnames() -> tuple[str, tuple[str, ...]]:
    single: set[str] = set()
    compound: list[str] = []
    section = "single"
    with open(_DATA / "surnames.txt", encoding="utf-8") as handle:
        for raw in handle:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line == "[compound]":
                section = "compound"
            elif section == "compound":
                compound.append(line)
            else:
                single.update(line)
    return "".join(sorted(single)), tuple(sorted(compound, key=len, reverse=True))


# Characters that end a name (the next word usually starts with them); never in a given name.
_NAME_STOP = (
    "的地得了着過过是在和与與及或等说說想对對从從到已也都就还還又再将將会會能可被把让讓给給有没沒不同刚剛曾"
    "之所以并並但而自打去带帶找跟向为為因于於今现現住家系係来來特请請要希望申投举舉咨反电電手联聯男女身年"
    "未当當竟回复復称稱讲講表示告诉訴认認经經却卻仍才便即若如只吗嗎呢吧啊呀嘛哦"
    "，。、；：！？"
)
# Place and organisation words that are never part of a given name.
_NOT_GIVEN = "镇鎮村乡鄉区區县縣市省路街楼樓苑站厂廠店院校局所队隊组組社委部会會司场場馆館庄莊屯"
# Surnames that are also everyday words (尚未, 应当, 房子, 和平 ...): only after a colon (姓名：尚明).
_AMBIGUOUS_SURNAMES = "尚应應房和于於但都来來相初时時全那由向区區路花信利能平强強计計国國海万萬位连連"
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_TRIGGERS = (
    "我叫|我名叫|我的名字叫|我的名字是|名字叫|本人叫|本人名叫|本人姓名|姓名|联系人|聯繫人|聯系人|"
    "申请人|申請人|举报人|舉報人|投诉人|投訴人|反映人|来信人|來信人|留言人|当事人|當事人|户主|戶主|"
    "签名|簽名|署名|收件人|委托人|委託人|法定代表人|负责人|負責人|我是|本人"
)


@lru_cache(maxsize=1)
def _name_re() -> re.Pattern[str]:
    single, compound = _surnames()
    clear = "".join(ch for ch in single if ch not in _AMBIGUOUS_SURNAMES)
    given = f"(?:(?![{_NAME_STOP}{_NOT_GIVEN}])[{_HAN}])"
    titles = "(?!先生|女士|小姐|老师|老師|师傅|師傅|同志|阿姨|大爷|大爺|经理|經理|主任)"
    compound_alt = "|".join(compound)
    boundary = f"(?=[^{_HAN}]|$|[{_NAME_STOP}])"
    return re.compile(
        f"(?:{_TRIGGERS})(?:"
        # after a colon (姓名：, 联系人：): any listed surname, the name may run into the next word
        f"[:：]\\s?(?P<colon>(?:{compound_alt}|[{single}]){titles}{given}{{1,2}})"
        # otherwise (我叫张三, 本人李四反映): a clear surname, and the name must end at a boundary
        f"|\\s?(?P<plain>(?:{compound_alt}|[{clear}]){titles}{given}{{1,2}}){boundary})"
    )


# --- finding -------------------------------------------------------------------------

_HAS_DIGIT_RE = re.compile("[0-9]")
_LONG_NUMBER_RE = re.compile("[0-9](?:[ -]?[0-9]){6}")  # every phone, ID and card number has 7+ digits
_ADDRESS_HINT_RE = re.compile("[号號栋棟幢座楼樓层層室户戶房组組元]|[0-9]-[0-9]")
# Cheap scans (a character class first, so the regex engine skips ahead) that every match
# of the longer patterns needs: a plate starts with a province and a letter; the units and
# estate patterns need a number directly followed by a unit word (or 1-2); a road number
# needs a digit directly after the road word.
_PLATE_HINT_RE = re.compile(f"[{_PROVINCE_CHARS}][{_PLATE_LETTER}]")
_NUMBER_UNIT_HINT_RE = re.compile("[0-9一二三四五六七八九十百零〇两][号號单單栋棟幢座楼樓层層室户戶房组組]")
_DIGIT_DASH_RE = re.compile("[0-9]-[0-9]")
_ROAD_HINT_RE = re.compile("[路街道巷弄同][0-9]")
# What every units match holds: the end of a number, a unit, maybe a dash, and a digit or the
# start of a number (the second number, or the room number of the building form).
_UNITS_HINT_RE = re.compile(
    "[0-9一二三四五六七八九十百零〇两](?:号楼|號樓|单元|單元|[栋棟幢座楼樓层層室号號户戶房组組])-?[0-9一二三四五六七八九十百零〇]"
)


def _candidates(view: str, *, numbers_only: bool = False) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    add = found.append
    has_digit = _HAS_DIGIT_RE.search(view) is not None
    if has_digit and _LONG_NUMBER_RE.search(view) is not None:
        for m in _ID18_RE.finditer(view):
            if is_valid_id_card(re.sub("[ -]", "", m.group())):
                add((m.start(), m.end(), ID_CARD))
        for m in _ID15_RE.finditer(view):
            if is_valid_id_card(m.group()):
                add((m.start(), m.end(), ID_CARD))
        for m in _CARD_RE.finditer(view):
            if is_valid_bank_card(re.sub("[ -]", "", m.group())):
                add((m.start(), m.end(), BANK_CARD))
        for m in _MOBILE_RE.finditer(view):
            add((m.start(), m.end(), MOBILE))
        for m in _LANDLINE_RE.finditer(view):
            add((m.start(), m.end(), LANDLINE))
        for m in _LOCAL_LANDLINE_RE.finditer(view):
            add((m.start("local"), m.end("local"), LANDLINE))
    if numbers_only:
        return found
    if has_digit and _PLATE_HINT_RE.search(view) is not None:
        for m in _PLATE_RE.finditer(view):
            if sum(ch.isdigit() for ch in m.group()) >= 3:
                add((m.start(), m.end(), PLATE))
    if "@" in view:
        for m in _EMAIL_RE.finditer(view):
            add((m.start(), m.end(), EMAIL))
    if _ADDRESS_HINT_RE.search(view) is not None:
        number_unit = _NUMBER_UNIT_HINT_RE.search(view) is not None
        if has_digit and _ROAD_HINT_RE.search(view) is not None:
            for m in _ROAD_NUMBER_RE.finditer(view):
                add((m.start("road"), m.end("road"), ADDRESS))
        if number_unit or (has_digit and _DIGIT_DASH_RE.search(view) is not None):
            for m in _ESTATE_NUMBER_RE.finditer(view):
                add((m.start("estate"), m.end("estate"), ADDRESS))
        if number_unit and _UNITS_HINT_RE.search(view) is not None:
            for m in _UNITS_RE.finditer(view):
                add((m.start("units"), m.end("units"), ADDRESS))
    for m in _name_re().finditer(view):
        group = "colon" if m.group("colon") else "plain"
        add((m.start(group), m.end(group), NAME))
    return found


def _resolve(candidates: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Keep non-overlapping spans: higher priority first, then longer, then earlier."""
    chosen: list[tuple[int, int, str]] = []
    starts: list[int] = []  # sorted starts of the chosen spans (which never overlap)
    ends: list[int] = []
    for start, end, kind in sorted(candidates, key=lambda c: (_PRIORITY[c[2]], c[0] - c[1], c[0])):
        i = bisect_right(starts, start)
        if i and ends[i - 1] > start:  # the chosen span before overlaps
            continue
        if i < len(starts) and starts[i] < end:  # the chosen span after overlaps
            continue
        starts.insert(i, start)
        ends.insert(i, end)
        chosen.append((start, end, kind))
    chosen.sort()
    return chosen


Kinds = frozenset[str] | set[str] | tuple[str, ...] | list[str]
_NUMBER_KINDS = frozenset({ID_CARD, BANK_CARD, MOBILE, LANDLINE})


def _find(text: str, kinds: Kinds | None, *, numbers_only: bool = False) -> list[Span]:
    if not text or text.isspace():
        return []
    view, positions = _view(text)
    candidates = _candidates(view, numbers_only=numbers_only)
    if kinds is not None:
        candidates = [c for c in candidates if c[2] in kinds]
    spans = []
    for start, end, kind in _resolve(candidates):
        if positions is not None:
            start, end = positions[start], positions[end - 1] + 1
        spans.append(Span(start, end, kind, text[start:end]))
    return spans


def find_pii(text: str, *, kinds: Kinds | None = None) -> list[Span]:
    """Personal data in ``text``, in order of position; optionally only the given kinds.

    With ``kinds``, other kinds are not looked for at all (so they cannot hide a wanted span).
    """
    return _find(text, kinds)


# --- masking -------------------------------------------------------------------------


def _mask_id(text: str) -> str:
    digits = [i for i, ch in enumerate(text) if ch.isdigit() or ch in "Xx"]
    keep = set(digits[:4] + digits[-4:])
    return "".join(ch if i in keep or i not in digits else "*" for i, ch in enumerate(text))


def _mask_mobile(text: str) -> str:
    digit_positions = [i for i, ch in enumerate(text) if ch.isdigit()]
    national = digit_positions[-11:]
    keep = set(national[:3] + national[-4:])
    hidden = set(national) - keep
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


def _mask_landline(text: str) -> str:
    m = _LANDLINE_RE.search(text)
    if m is None:  # a bare local number
        return "*" * (len(text) - 2) + text[-2:]
    head = text[: m.end("sep")]
    local = m.group("local")
    tail = text[m.end("local") :]
    masked_local = "*" * (len(local) - 2) + local[-2:]
    return head + masked_local + re.sub("[0-9]", "*", tail)


def _mask_email(text: str) -> str:
    local, _, domain = text.partition("@")
    return f"{local[:1]}***@{domain}"


def _mask_plate(text: str) -> str:
    return text[:2] + "".join("*" if ch.isalnum() else ch for ch in text[2:])


def _mask_name(text: str) -> str:
    _, compound = _surnames()
    keep = next((len(c) for c in compound if text.startswith(c) and len(text) > len(c)), 1)
    return text[:keep] + "*" * (len(text) - keep)


_ADDRESS_NUMBER_RE = re.compile("[0-9]|[一二三四五六七八九十百零〇两]")
_DIGIT_ANY_RE = re.compile("[0-9\uff10-\uff19]")


def _mask(kind: str, text: str) -> str:
    if kind == MOBILE:
        return _mask_mobile(text)
    if kind in (ID_CARD, BANK_CARD):
        return _mask_id(text)
    if kind == LANDLINE:
        return _mask_landline(text)
    if kind == EMAIL:
        return _mask_email(text)
    if kind == PLATE:
        return _mask_plate(text)
    if kind == NAME:
        return _mask_name(text)
    return _ADDRESS_NUMBER_RE.sub("*", text)


def _apply_masks(text: str, spans: Sequence[Span]) -> str:
    out = []
    pos = 0
    for span in spans:
        out.append(text[pos : span.start])
        view, _ = _view(span.text)
        out.append(_mask(span.kind, view))
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def mask_pii(text: str, *, kinds: Kinds | None = None, spans: Sequence[Span] | None = None) -> str:
    """``text`` with every piece of personal data replaced by a masked hint (see the module docstring).

    ``spans``: the result of ``find_pii(text, kinds=kinds)`` when the caller has it
    already (saves finding them twice).

    Masking can expose a number that was not one before: the hint digits of a card may
    complete a phone number that was glued to it, a phone may sit in an e-mail domain, or
    of two overlapping numbers only one is masked. So the masked text is searched again
    for phone, ID and card numbers, and masked again, until none is left.
    """
    if not text:
        return ""
    spans = find_pii(text, kinds=kinds) if spans is None else sorted(spans, key=lambda s: s.start)
    if not spans:
        return text
    masked = _apply_masks(text, spans)
    number_kinds = _NUMBER_KINDS if kinds is None else _NUMBER_KINDS & frozenset(kinds)
    if not number_kinds:
        return masked
    for _ in range(8):  # every round hides at least four more digits
        again = _find(masked, number_kinds, numbers_only=True)
        if not again:
            return masked
        masked = _apply_masks(masked, again)
    return _DIGIT_ANY_RE.sub("*", masked)  # pragma: no cover - a last resort, never reached in tests
