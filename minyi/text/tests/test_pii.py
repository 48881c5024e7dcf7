"""find_pii and mask_pii."""

from __future__ import annotations

import itertools
import re
import unicodedata
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minyi.text.pii import (
    ADDRESS,
    BANK_CARD,
    EMAIL,
    ID_CARD,
    KINDS,
    LANDLINE,
    MOBILE,
    NAME,
    PLATE,
    Span,
    find_pii,
    is_valid_bank_card,
    is_valid_id_card,
    mask_pii,
)
from minyi.text.tests import PROPERTY

# --- independent helpers (not the module's code) -------------------------------------

WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 as GB 11643 defines it."""
    remainder = (12 - sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11) % 11
    return "X" if remainder == 10 else str(remainder)


def luhn_complete(prefix: str) -> str:
    """``prefix`` plus the Luhn check digit."""
    digits = [int(d) for d in prefix + "0"]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return prefix + str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    return int(luhn_complete(number[:-1])[-1]) == int(number[-1])


VALID_ID = "11010519491231002X"  # the worked example of GB 11643-1999
VALID_ID_DIGIT = "44052419800101001" + id_check_digit("44052419800101001")
VALID_ID_15 = "110105491231002"
VALID_CARD = luhn_complete("621700271000068487")  # 19 digits, UnionPay-style prefix
VALID_CARD_16 = "4111111111111111"

# A second, independent checker for "no valid number left": full-width digits folded,
# invisible characters (Cf, Cc except tab/newline, variation selectors, tags) removed,
# then plain patterns.
_CHECK_FOLD = {0xFF10 + i: str(i) for i in range(10)} | {0x3000: " ", 0x00A0: " ", 0xFF0D: "-"}
_CHECK_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]([ -]?)[0-9]{4}\1[0-9]{4}(?![0-9])")
_CHECK_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


def _invisible(ch: str) -> bool:
    if ch in "\t\n":
        return False
    return (
        unicodedata.category(ch) in ("Cf", "Cc", "Cs")
        or "\ufe00" <= ch <= "\ufe0f"  # variation selectors
        or "\U000e0000" <= ch <= "\U000e0fff"  # tags block, assigned or not
    )


def _check_view(text: str) -> str:
    return "".join(ch for ch in text.translate(_CHECK_FOLD) if not _invisible(ch))


def surviving_numbers(text: str) -> list[str]:
    view = _check_view(text)
    found = [m.group() for m in _CHECK_MOBILE.finditer(view)]
    for m in _CHECK_ID.finditer(view):
        number = m.group().upper()
        try:
            born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        except ValueError:
            continue
        # The generated IDs use these provinces; random noise does not make valid IDs.
        if (
            number[:2] in ("11", "44", "43", "31")
            and born.year >= 1900
            and id_check_digit(number[:17]) == number[17]
        ):
            found.append(number)
    return found


def kinds_of(text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in find_pii(text)]


# --- validators ----------------------------------------------------------------------


def test_id_card_validation() -> None:
    assert is_valid_id_card(VALID_ID)
    assert is_valid_id_card(VALID_ID.lower())
    assert is_valid_id_card(VALID_ID_DIGIT)
    assert not is_valid_id_card(VALID_ID[:-1] + "1")  # wrong check digit
    assert not is_valid_id_card("110105194902300027")  # 30 February
    assert not is_valid_id_card("990105194912310021")  # no such province
    future = f"110105{date.today().year + 1}0101001"
    assert not is_valid_id_card(future + id_check_digit(future))
    assert is_valid_id_card(VALID_ID_15)
    assert not is_valid_id_card("110105491331002")  # month 13
    assert not is_valid_id_card("1101054912310")
    old = "44052418800101001"
    assert not is_valid_id_card(old + id_check_digit(old))  # born before 1900


def test_bank_card_validation() -> None:
    assert is_valid_bank_card(VALID_CARD) and len(VALID_CARD) == 19
    assert is_valid_bank_card(VALID_CARD_16)
    assert not is_valid_bank_card("4111111111111112")
    assert not is_valid_bank_card("0" * 16)
    assert not is_valid_bank_card("411111111111")


# --- finding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的电话13812345678谢谢", [(MOBILE, "13812345678")]),
        ("电话：138 1234 5678。", [(MOBILE, "138 1234 5678")]),
        ("电话138-1234-5678", [(MOBILE, "138-1234-5678")]),
        ("+86 139 1234 5678", [(MOBILE, "+86 139 1234 5678")]),
        ("+8613912345678", [(MOBILE, "+8613912345678")]),
        ("008613912345678", [(MOBILE, "008613912345678")]),
        ("8613912345678", [(MOBILE, "8613912345678")]),
        ("手机：１３８１２３４５６７８", [(MOBILE, "１３８１２３４５６７８")]),
        ("138\u200b1234\u200d5678", [(MOBILE, "138\u200b1234\u200d5678")]),
        ("tel13812345678号", [(MOBILE, "13812345678")]),
        ("010-12345678" + "和" + "010-62345678", [(LANDLINE, "010-62345678")]),  # locals start 2-9
        ("座机0731-88888888", [(LANDLINE, "0731-88888888")]),
        ("座机(0731)8888888", [(LANDLINE, "(0731)8888888")]),
        ("座机（0731）88888888", [(LANDLINE, "（0731）88888888")]),
        ("0731-88888888-123转", [(LANDLINE, "0731-88888888-123")]),
        ("020 87654321", [(LANDLINE, "020 87654321")]),
        ("电话：84567890", [(LANDLINE, "84567890")]),
        (f"身份证{VALID_ID}，", [(ID_CARD, VALID_ID)]),
        (f"身份证{VALID_ID.lower()}", [(ID_CARD, VALID_ID.lower())]),
        ("身份证110105 19491231 002X", [(ID_CARD, "110105 19491231 002X")]),
        (f"老身份证{VALID_ID_15}", [(ID_CARD, VALID_ID_15)]),
        (f"卡号{VALID_CARD}", [(BANK_CARD, VALID_CARD)]),
        ("卡号4111 1111 1111 1111。", [(BANK_CARD, "4111 1111 1111 1111")]),
        ("卡号4111-1111-1111-1111", [(BANK_CARD, "4111-1111-1111-1111")]),
        ("邮箱 zhang.san+x@mail.example.com.cn。", [(EMAIL, "zhang.san+x@mail.example.com.cn")]),
        ("邮箱１２３＠ｑｑ．ｃｏｍ", [(EMAIL, "１２３＠ｑｑ．ｃｏｍ")]),
        ("车牌湘A12345被", [(PLATE, "湘A12345")]),
        ("京AD12345新能源", [(PLATE, "京AD12345")]),
        ("粤B·12345", [(PLATE, "粤B·12345")]),
        ("湘a1234d", [(PLATE, "湘a1234d")]),
        ("我叫张三，今年50岁", [(NAME, "张三")]),
        ("我叫欧阳修文，", [(NAME, "欧阳修文")]),
        ("本人李四反映", [(NAME, "李四")]),
        ("联系人：王五 电话", [(NAME, "王五")]),
        ("姓名：赵六", [(NAME, "赵六")]),
        ("我是张三丰的邻居", [(NAME, "张三丰")]),
        ("投诉人：陈小明", [(NAME, "陈小明")]),
        ("A市五一大道202号", [(ADDRESS, "202号")]),
        ("芙蓉路12号3栋2单元501室", [(ADDRESS, "12号3栋2单元501室")]),
        ("住在3栋2单元501室", [(ADDRESS, "3栋2单元501室")]),
        ("某某小区3栋楼下", [(ADDRESS, "3栋")]),
        ("张家村5组村民", [(ADDRESS, "5组")]),
        ("龙华村八组", [(ADDRESS, "八组")]),
        ("万科花园3-2-501", [(ADDRESS, "3-2-501")]),
        ("2号楼301的住户", [(ADDRESS, "2号楼301")]),
    ],
)
def test_finds(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds_of(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "订单号213812345678",  # a phone inside a longer run of digits
        "13812345678901234567890",
        "1381234567",
        "12812345678",  # no such mobile prefix
        "编号0000-00000000",  # the masked numbers of the historical data
        f"1{VALID_ID}",
        f"{VALID_ID[:-1]}1",
        "4111111111111112",
        "我叫苦不迭",
        "我是高一学生",
        "本人尚未接到通知",
        "被申请人应当在期限内",
        "我是李先生",
        "我是王家湾的居民",
        "地铁1号2号线",
        "2019年3月5号",
        "路1000米处",
        "一栋32层高楼",
        "市政府103号令",
        "小区831户业主",
        "士(mpa)吧(ktv)",
        "川A区",
        "a@b",
    ],
)
def test_does_not_find(text: str) -> None:
    assert find_pii(text) == []


def test_spans_index_the_original_text() -> None:
    text = "张三说：手机１３８\u200b１２３４５６７８，邮箱a@b.cn。"
    for span in find_pii(text):
        assert isinstance(span, Span)
        assert text[span.start : span.end] == span.text
    with pytest.raises(AttributeError):
        find_pii(text)[0].kind = "x"  # type: ignore[misc]


def test_overlaps_are_resolved_by_priority() -> None:
    # An 18-digit ID that is also Luhn-valid stays an ID.
    for seq in range(1000):
        body = f"11010519491231{seq:03d}"
        candidate = body + id_check_digit(body)
        if candidate[-1] != "X" and luhn_ok(candidate) and is_valid_id_card(candidate):
            break
    else:  # pragma: no cover
        pytest.fail("no Luhn-valid ID found")
    assert kinds_of(f"号码{candidate}") == [(ID_CARD, candidate)]
    # An e-mail address made of a phone number is one e-mail span.
    assert kinds_of("邮箱13812345678@qq.com") == [(EMAIL, "13812345678@qq.com")]
    # A phone number after a road name is a phone, not a house number.
    assert kinds_of("中山路13812345678") == [(MOBILE, "13812345678")]


def test_masking_rechecks_numbers_exposed_by_masking() -> None:
    # A grouped phone glued to a card: the card wins the overlap, and its kept first four
    # digits are the phone's last four, so the phone must be masked in a second round.
    card = luhn_complete("81590086165050794")
    text = f"电话159-3106-{card}"
    assert [s.kind for s in find_pii(text)] == [BANK_CARD]
    masked = mask_pii(text)
    assert surviving_numbers(masked) == []
    assert find_pii(masked, kinds={MOBILE, ID_CARD, BANK_CARD}) == []
    # A phone number as an e-mail domain.
    assert "13812345678" not in mask_pii("邮箱a@13812345678.cn")


def test_mask_with_spans_given() -> None:
    text = f"我叫张三，电话13812345678，身份证{VALID_ID}"
    spans = find_pii(text)
    assert mask_pii(text, spans=spans) == mask_pii(text)
    names = [s for s in spans if s.kind == NAME]
    assert mask_pii(text, kinds={NAME}, spans=names) == text.replace("张三", "张*")


def test_kinds_filter() -> None:
    text = f"我叫张三，电话13812345678，身份证{VALID_ID}"
    assert [s.kind for s in find_pii(text, kinds={MOBILE})] == [MOBILE]
    assert mask_pii(text, kinds={ID_CARD}) == "我叫张三，电话13812345678，身份证1101**********002X"


# --- masking -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话13812345678", "电话138****5678"),
        ("电话138 1234 5678", "电话138 **** 5678"),
        ("+86-139-1234-5678", "+86-139-****-5678"),
        ("手机１３８１２３４５６７８。", "手机138****5678。"),
        (f"身份证{VALID_ID}", "身份证1101**********002X"),
        (f"身份证{VALID_ID_15}", "身份证1101*******1002"),
        (f"卡号{VALID_CARD}", f"卡号{VALID_CARD[:4]}{'*' * 11}{VALID_CARD[-4:]}"),
        ("卡号4111 1111 1111 1111", "卡号4111 **** **** 1111"),
        ("座机0731-88888888-123", "座机0731-******88-***"),
        ("座机(0731)8888888", "座机(0731)*****88"),
        ("邮箱zhangsan@example.com", "邮箱z***@example.com"),
        ("车牌湘A12345", "车牌湘A*****"),
        ("车牌粤B·12345", "车牌粤B·*****"),
        ("我叫张三丰，", "我叫张**，"),
        ("我叫欧阳修文，", "我叫欧阳**，"),
        ("芙蓉路12号3栋2单元501室", "芙蓉路**号*栋*单元***室"),
        ("龙华村八组", "龙华村*组"),
    ],
)
def test_masks(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize("text", ["", " ", "\n\t", "\u3000"])
def test_empty_or_blank(text: str) -> None:
    assert find_pii(text) == []
    assert mask_pii(text) == text


def test_text_without_pii_is_returned_as_is() -> None:
    text = "小区路灯坏了三个月，物业不管，请尽快处理。"
    assert mask_pii(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "1" * 100_000,
        "13812345678 " * 10_000,
        "a@" * 60_000,
        "a" * 100_000 + "@",
        "a." * 60_000 + "@x",
        "x@" + "a-" * 60_000,
        "我叫" * 60_000,
        "我是张" * 40_000,
        "3栋" * 60_000,
        "路1" * 60_000,
        "湘A" * 60_000,
        "(0731)" * 20_000,
        "\u200b1" * 60_000,
        "１" * 100_000,
    ],
)
def test_long_input_completes(text: str) -> None:
    spans = find_pii(text)
    assert all(text[s.start : s.end] == s.text for s in spans)
    assert isinstance(mask_pii(text), str)


# --- properties ----------------------------------------------------------------------

REGION = st.sampled_from(["110105", "440524", "430104", "310115"])
BIRTH = st.dates(min_value=date(1920, 1, 1), max_value=date(2015, 12, 31))


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    body = draw(REGION) + draw(BIRTH).strftime("%Y%m%d") + draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    number = body + id_check_digit(body)
    if number.endswith("X") and draw(st.booleans()):
        number = number[:-1] + "x"
    return number


@st.composite
def valid_mobiles(draw: st.DrawFn) -> str:
    digits = draw(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
    sep = draw(st.sampled_from(["", " ", "-"]))
    number = f"{digits[:3]}{sep}{digits[3:7]}{sep}{digits[7:]}"
    prefix = draw(st.sampled_from(["", "", "+86", "+86 ", "0086", "86"]))
    number = prefix + number
    if draw(st.booleans()):
        number = number.translate({ord(str(i)): chr(0xFF10 + i) for i in range(10)})
    return number


@st.composite
def valid_cards(draw: st.DrawFn) -> str:
    length = draw(st.integers(16, 19))
    prefix = draw(st.sampled_from(["62", "4", "5", "35"]))
    rest = draw(st.from_regex(rf"[0-9]{{{length - len(prefix) - 1}}}", fullmatch=True))
    return luhn_complete(prefix + rest)


SENTENCES = st.sampled_from(
    [
        "您好，我的手机号是{}，请回电。",
        "本人身份证号{}，",
        "联系电话：{}（白天）",
        "{}",
        "我叫张三，号码{}谢谢",
        "工资卡{}被冻结",
        "邮箱x{}@qq.com",
        "住在芙蓉路{}号",
    ]
)
NOISE = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.sampled_from("\u200b\u200d\u202e\u2066\ufeff\u00a0\u3000 -+()（）：号栋路X"),
    ),
    max_size=6,
)


@PROPERTY
@given(st.text())
def test_never_raises_and_spans_are_consistent(text: str) -> None:
    spans = find_pii(text)
    assert spans == sorted(spans, key=lambda s: s.start)
    for before, after in itertools.pairwise(spans):
        assert before.end <= after.start
    for span in spans:
        assert span.kind in KINDS
        assert text[span.start : span.end] == span.text
        assert span.start < span.end
    assert isinstance(mask_pii(text), str)


@PROPERTY
@given(
    st.lists(st.one_of(valid_ids(), valid_mobiles(), valid_cards()), min_size=1, max_size=4),
    st.lists(st.one_of(NOISE, SENTENCES), min_size=1, max_size=5),
)
def test_masking_leaves_no_valid_id_or_phone(numbers: list[str], pieces: list[str]) -> None:
    parts = []
    for i, number in enumerate(numbers):
        piece = pieces[i % len(pieces)]
        parts.append(piece.format(number) if "{}" in piece else piece + number)
    text = "，".join(parts) + pieces[-1].replace("{}", "")
    assume(surviving_numbers(text))  # at least one standalone valid number went in
    masked = mask_pii(text)
    assert [s for s in find_pii(masked) if s.kind in (ID_CARD, MOBILE, BANK_CARD)] == []
    assert surviving_numbers(masked) == []


PLAIN_SENTENCES = st.sampled_from(
    [
        "您好，我的手机号是{}，请回电。",
        "本人身份证号{}，",
        "联系电话：{}（白天）",
        "{}",
        "我叫张三，号码{}谢谢",
    ]
)


@PROPERTY
@given(valid_ids(), valid_mobiles(), PLAIN_SENTENCES)
def test_valid_numbers_in_sentences_are_found(id_number: str, mobile: str, sentence: str) -> None:
    text = sentence.format(id_number) + "，电话" + mobile + "。"
    kinds = {s.kind for s in find_pii(text)}
    assert ID_CARD in kinds and MOBILE in kinds
