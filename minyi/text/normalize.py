"""Text normalisation for analysis: ``normalize``, ``strip_invisible`` and ``to_simplified``.

``normalize(text)`` prepares a citizen's message for the analysers (segmenter, classifier,
duplicate index, PII finder). Its output is for analysis only: callers keep and display
the original. The steps, in order:

1. **Invisible and control characters** (``strip_invisible``): zero-width characters,
   bidi controls, every other format character (Unicode category Cf), C0/C1 control
   characters except ``\\n`` and ``\\t``, lone surrogates, non-characters and the
   invisible Hangul fillers are removed. CR and CRLF become LF; U+2028 becomes LF and
   U+2029 a paragraph break.
2. **Width folding**: NFKC, except for the full-width Chinese punctuation marks
   ``，！？：；（）`` and the ellipsis ``…``, which are kept as written. So full-width
   letters, digits and symbols (``１３８``, ``ＡＢＣ``, ``＠``) become ASCII, the
   ideographic space becomes a space, compatibility ideographs become their unified form.
   Then a half-width ``, ! ? : ;`` that follows a Han character (or a closing Chinese
   quote or bracket) becomes full-width
   (``电话:`` → ``电话：``), so that Chinese sentences carry one punctuation style
   whichever keyboard was used. Brackets stay as written (both forms are understood
   everywhere downstream).
3. **Whitespace**: runs of spaces and tabs become one space; a line break with only
   whitespace around it becomes ``\\n``; two or more line breaks become one paragraph
   break ``\\n\\n``; a space between two CJK characters or CJK punctuation marks is
   dropped (Chinese does not separate words with spaces; the ``combined`` rows of the
   historical data have none either); leading and trailing whitespace is stripped.
4. **Pinyin damage repair**: some simplified→traditional converters leave the reading
   of a character in brackets behind it: ``聯(lián)系``. A bracket directly after a Han
   character is removed when it holds one of that character's readings according to
   pypinyin's heteronyms, written with tone marks (``lián``), a tone number
   (``lian2``, ``lv4``, ``lu:4``) or without tone (``lian``). Anything else, such as
   ``士(mpa)``, is left alone.
5. **Simplified Chinese** with OpenCC ``t2s``, but only when the text contains a
   character that can only be traditional: one that t2s rewrites on its own (probed from
   the installed OpenCC once, lazily) and never writes as output
   (``data/t2s_self_outputs.txt``). Pure simplified text is not passed through t2s,
   because t2s's phrase table damages some simplified phrases (``打坏`` → ``打坯``), and
   t2s is never run on its own output, which keeps ``normalize`` idempotent
   (t2s turns ``楊聯陞`` into ``杨联陞`` and that into ``杨联升``).

``normalize`` is idempotent and runs in linear time. Empty or whitespace-only input
gives ``""``.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["normalize", "repair_pinyin", "strip_invisible", "to_simplified"]

# --- 1. invisible and control characters -------------------------------------------

# Kept in sync with Unicode by a test that compares with unicodedata (categories Cc, Cf, Cs).
_INVISIBLE_CLASS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 except \t \n, DEL, C1 (\r is turned into \n first)
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0"
    "\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f"  # zero-width, bidi marks, embeddings, isolates
    "\ufdd0-\ufdef\ufeff\ufff0-\ufffb\ufffe\uffff"
    "\ud800-\udfff"  # lone surrogates (cannot be encoded; would crash OpenCC/rjieba)
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff"  # tags and variation-selector supplement
)
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE_CLASS}]+")
# The same class cut in two: a class of BMP characters compiles to a bitmap (a fast scan), one
# with astral characters to a list of ranges tried one by one; the astral part runs only on
# text that has an astral character.
_INVISIBLE_BMP_RE = re.compile("[" + _INVISIBLE_CLASS.split("\U000110bd")[0] + "]+")
# One character is enough to find out whether there is any (a repeat makes the regex engine scan slower).
_INVISIBLE_BMP_SEARCH = re.compile("[" + _INVISIBLE_CLASS.split("\U000110bd")[0] + "]").search
_INVISIBLE_ASTRAL_RE = re.compile("[\U000110bd" + _INVISIBLE_CLASS.split("\U000110bd")[1] + "]+")
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")
_LINE_ENDINGS_RE = re.compile("\r\n?|\u2028|\u2029")
_LINE_ENDINGS = {"\r\n": "\n", "\r": "\n", "\u2028": "\n", "\u2029": "\n\n"}


def _line_ending(match: re.Match[str]) -> str:
    return _LINE_ENDINGS[match.group()]


def strip_invisible(text: str) -> str:
    """Remove zero-width, bidi-control, format and control characters; nothing else.

    ``\\n`` and ``\\t`` stay. CR/CRLF and U+2028 become ``\\n`` and U+2029 ``\\n\\n`` so
    that lines are not glued together. Used for titles and other short fields that are
    shown as typed.
    """
    if not text:
        return ""
    return _strip_invisible(text, astral=_ASTRAL_RE.search(text) is not None)


def _strip_invisible(text: str, *, astral: bool) -> str:
    """``strip_invisible``; ``astral``: whether ``text`` has a character outside the BMP."""
    if "\r" in text or "\u2028" in text or "\u2029" in text:
        text = _LINE_ENDINGS_RE.sub(_line_ending, text)
    if _INVISIBLE_BMP_SEARCH(text) is not None:
        text = _INVISIBLE_BMP_RE.sub("", text)
    if astral:
        text = _INVISIBLE_ASTRAL_RE.sub("", text)
    return text


# --- 2. width folding ----------------------------------------------------------------

_KEEP_PUNCT = "，！？：；（）…"
_KEEP_SPLIT_RE = re.compile(f"([{_KEEP_PUNCT}]+)")

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f\U00031350-\U000323af"
_HAN_RE_CLASS = f"[{_HAN}]"
# CJK characters and CJK/full-width punctuation: a space between two of these is dropped.
_WIDE = _HAN + "\u2018-\u201f\u2026\u2014\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\uff00-\uffef"
# After a Han character or a closing CJK quote/bracket.
_HALF_PUNCT_AFTER_HAN_RE = re.compile(f"(?<=[{_HAN}”’」』】》〉）])[,!?:;]+")
_TO_FULL = str.maketrans(",!?:;", "，！？：；")


_unstable_search: Any = None  # see _nfkc_unstable_search


def _nfkc_unstable_search() -> Any:
    """``search`` of a class of the BMP characters that can make text not NFKC: those NFKC
    changes on their own (except the kept punctuation), combining marks, characters that may
    compose with the character before them (NFKC_QC=Maybe), and surrogates. Text without any
    of them (and without astral characters) passes the quick check, so it is NFKC already.
    Built once, lazily (a C-level bitmap scan afterwards)."""
    global _unstable_search
    if _unstable_search is None:
        maybe = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V and T jamo
        for cp in range(0x110000):
            decomposition = unicodedata.decomposition(chr(cp))
            if decomposition and not decomposition.startswith("<"):
                parts = decomposition.split()
                if len(parts) == 2:
                    maybe.add(int(parts[1], 16))
        unstable = []
        for cp in range(0x10000):
            ch = chr(cp)
            changes = ch not in _KEEP_PUNCT and not unicodedata.is_normalized("NFKC", ch)
            if changes or 0xD800 <= cp <= 0xDFFF or cp in maybe or unicodedata.combining(ch):
                unstable.append(cp)
        ranges = []
        start = prev = unstable[0]
        for cp in [*unstable[1:], -1]:
            if cp != prev + 1:
                ranges.append(f"\\u{start:04x}" if start == prev else f"\\u{start:04x}-\\u{prev:04x}")
                start = cp
            prev = cp
        _unstable_search = re.compile("[" + "".join(ranges) + "]").search
    return _unstable_search


def _fold_width(text: str) -> str:
    return _fold(text, astral=_ASTRAL_RE.search(text) is not None)[0]


def _fold(text: str, *, astral: bool) -> tuple[str, bool]:
    """Width folding of ``text`` (which has a character outside the BMP if ``astral``), and whether
    the result has one (NFKC makes a few BMP compatibility ideographs astral)."""
    if text.isascii():
        return text, False
    # NFKC makes a space of both; so does replacing them first (same NFKD), and most text has no other
    # character that NFKC changes, which a single scan then shows
    if "\u3000" in text or "\xa0" in text:
        text = text.replace("\u3000", " ").replace("\xa0", " ")
    if not astral and _nfkc_unstable_search()(text) is None:
        return _chinese_punctuation(text), False
    isnorm = unicodedata.is_normalized
    if not isnorm("NFKC", text):
        pieces = _KEEP_SPLIT_RE.split(text)
        nfkc = unicodedata.normalize
        pieces[::2] = [p if isnorm("NFKC", p) else nfkc("NFKC", p) for p in pieces[::2]]
        text = "".join(pieces)
    return _chinese_punctuation(text), _ASTRAL_RE.search(text) is not None


def _chinese_punctuation(text: str) -> str:
    # cheap substring checks first: most Chinese text has none of these half-width marks
    if "," not in text and ":" not in text and "!" not in text and "?" not in text and ";" not in text:
        return text
    return _HALF_PUNCT_AFTER_HAN_RE.sub(lambda m: m.group().translate(_TO_FULL), text)


# --- 3. whitespace -------------------------------------------------------------------

# Whitespace except \n (``[^\S\n]``) spelt out: an explicit class is a bitmap, much faster to scan
# than a negated category (a test checks it against str.isspace).
_HSPACE_RE = re.compile("[\t\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
# The space first (a literal the regex engine scans for quickly), then the character before it.
_WIDE_SPACE_RE = re.compile(f" (?<=[{_WIDE}] )(?=[{_WIDE}])")
_NEWLINES_RE = re.compile("\n\n\n+")


def _collapse_whitespace(text: str) -> str:
    text = _HSPACE_RE.sub(" ", text)
    if "\n" in text:
        # a line break with whitespace around it becomes "\n", two or more "\n\n": spaces come alone
        # here (runs are collapsed above), so dropping the space on either side of every line break
        # and then making runs of line breaks one paragraph break does it with literal scans
        if " \n" in text:
            text = text.replace(" \n", "\n")
        if "\n " in text:
            text = text.replace("\n ", "\n")
        if "\n\n\n" in text:
            text = _NEWLINES_RE.sub("\n\n", text)
    if " " in text:
        text = _WIDE_SPACE_RE.sub("", text)
    return text.strip()


# --- 4. pinyin damage ----------------------------------------------------------------

_TONE_MARKS = {
    "ā": ("a", 1), "á": ("a", 2), "ǎ": ("a", 3), "à": ("a", 4),
    "ē": ("e", 1), "é": ("e", 2), "ě": ("e", 3), "è": ("e", 4),
    "ī": ("i", 1), "í": ("i", 2), "ǐ": ("i", 3), "ì": ("i", 4),
    "ō": ("o", 1), "ó": ("o", 2), "ǒ": ("o", 3), "ò": ("o", 4),
    "ū": ("u", 1), "ú": ("u", 2), "ǔ": ("u", 3), "ù": ("u", 4),
    "ǖ": ("ü", 1), "ǘ": ("ü", 2), "ǚ": ("ü", 3), "ǜ": ("ü", 4),
    "ń": ("n", 2), "ň": ("n", 3), "ǹ": ("n", 4), "ḿ": ("m", 2),
    "ế": ("ê", 2), "ề": ("ê", 4),
}  # fmt: skip
_PINYIN_LETTERS = "a-zA-ZüÜêÊ" + "".join(_TONE_MARKS) + "".join(_TONE_MARKS).upper()
# One or more brackets of up to 7 pinyin letters (+ a tone digit); the Han character
# before them is checked in _repair.
_BRACKET = rf"[(（] ?[{_PINYIN_LETTERS}:]{{1,7}}[0-5]? ?[)）]"
_DAMAGE_RE = re.compile(f"(?:{_BRACKET})+")
_ONE_BRACKET_RE = re.compile(_BRACKET)
# How every bracket starts: a quick scan that rules most text out (brackets are mostly not pinyin).
_BRACKET_HINT_RE = re.compile(f"[(（] ?[{_PINYIN_LETTERS}:]")
_HAN_CHAR_RE = re.compile(_HAN_RE_CLASS)


def _parse_reading(reading: str) -> tuple[str, int | None]:
    """``'lián'`` → ``('lian', 2)``; ``'lv4'`` → ``('lü', 4)``; ``'de'`` → ``('de', None)``."""
    reading = reading.strip().lower().replace("u:", "ü").replace("v", "ü")
    tone: int | None = None
    if reading and reading[-1].isdigit():
        tone = int(reading[-1]) or 5
        reading = reading[:-1]
    letters = []
    for ch in reading:
        mark = _TONE_MARKS.get(ch)
        if mark is None:
            letters.append(ch)
        else:
            letters.append(mark[0])
            tone = mark[1]
    return "".join(letters), tone


@lru_cache(maxsize=8192)
def _readings(char: str) -> frozenset[tuple[str, int]]:
    """Readings of ``char`` and of its simplified form, as (toneless syllable, tone 1-5).

    The simplified form counts because the damage comes from converters that annotated
    the simplified source character (``发(fà)`` may have become ``髮(fà)`` or ``發(fà)``).
    """
    from pypinyin import Style, pinyin

    converter, _ = _load_converter()
    found = set()
    for form in {char, converter.convert(char)}:
        for heteronyms in pinyin(form, heteronym=True, style=Style.TONE, errors="ignore"):
            for syllable in heteronyms:
                base, tone = _parse_reading(syllable)
                if base:
                    found.add((base, tone or 5))
    return frozenset(found)


def _is_reading(char: str, bracket: str) -> bool:
    base, tone = _parse_reading(bracket[1:-1])
    if not base:
        return False
    readings = _readings(char)
    if tone is None:
        return any(b == base for b, _ in readings)
    return (base, tone) in readings


def _repair(text: str) -> str:
    out = []
    pos = 0
    for match in _DAMAGE_RE.finditer(text):
        start = match.start()
        if start == 0 or _HAN_CHAR_RE.match(text, start - 1) is None:
            continue
        char = text[start - 1]
        cut = start
        for bracket in _ONE_BRACKET_RE.findall(match.group()):
            if not _is_reading(char, bracket):
                break
            cut += len(bracket)
        if cut > start:
            out.append(text[pos:start])
            pos = cut
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def repair_pinyin(text: str) -> str:
    """Remove ``(pinyin)`` brackets that hold a reading of the Han character before them."""
    if "(" not in text and "（" not in text:
        return text
    if _BRACKET_HINT_RE.search(text) is None:
        return text
    return _repair(text)


# --- 5. simplified Chinese -----------------------------------------------------------

_converter_lock = threading.Lock()
_converter: Any = None
_triggers: frozenset[str] | None = None
_trigger_search: Any = None  # a compiled character class of the BMP triggers (a C-level bitmap scan)
_astral_triggers: frozenset[str] = frozenset()

# Blocks probed for characters that t2s rewrites by themselves.
_PROBE_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2EBEF),
    (0x30000, 0x3134F),
)


_SELF_OUTPUTS_FILE = Path(__file__).resolve().parent / "data" / "t2s_self_outputs.txt"


def _self_outputs() -> frozenset[str]:
    chars: set[str] = set()
    with open(_SELF_OUTPUTS_FILE, encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("#"):
                chars.update(line.strip())
    return frozenset(chars)


def _load_converter() -> tuple[Any, frozenset[str]]:
    """The t2s converter and the characters whose presence makes ``to_simplified`` run it.

    Those are the characters that t2s rewrites on their own (probed once from the
    installed OpenCC), minus those that t2s also writes as its own output
    (``data/t2s_self_outputs.txt``), so that t2s never runs on its own output.
    """
    global _converter, _triggers, _trigger_search, _astral_triggers
    if _converter is not None and _triggers is not None:
        return _converter, _triggers
    with _converter_lock:
        if _converter is None or _triggers is None:
            import opencc

            converter = opencc.OpenCC("t2s")
            chars = [chr(cp) for lo, hi in _PROBE_RANGES for cp in range(lo, hi + 1)]
            converted = converter.convert("\n".join(chars)).split("\n")
            if len(converted) != len(chars):  # pragma: no cover - defensive
                raise RuntimeError("OpenCC changed the number of lines while probing t2s")
            rewritten = frozenset(a for a, b in zip(chars, converted, strict=True) if a != b)
            triggers = rewritten - _self_outputs()
            # a class of BMP characters only compiles to a bitmap; astral ones would make it a slow list
            bmp = "".join(re.escape(ch) for ch in sorted(triggers) if ord(ch) < 0x10000)
            _trigger_search = re.compile(f"[{bmp}]").search
            _astral_triggers = frozenset(ch for ch in triggers if ord(ch) >= 0x10000)
            _triggers = triggers
            _converter = converter
    return _converter, _triggers


def to_simplified(text: str) -> str:
    """Convert traditional Chinese to simplified with OpenCC ``t2s`` (one pass).

    Text is converted only when it holds a character that t2s rewrites on its own and
    never writes as output, that is, a character that can only be traditional (``聯``,
    ``發``). Simplified text is returned unchanged, so t2s never sees its own output and
    ``to_simplified(to_simplified(x)) == to_simplified(x)``. Text whose only traditional
    characters are ones t2s also outputs (``步步高陞``) is left as it is.
    """
    return _to_simplified(text, astral=True)


def _to_simplified(text: str, *, astral: bool) -> str:
    """``to_simplified``; without ``astral`` the text is known to have no character outside the BMP."""
    if not text or text.isascii():
        return text
    converter, _ = _load_converter()
    if _trigger_search(text) is None and (
        not astral or _ASTRAL_RE.search(text) is None or _astral_triggers.isdisjoint(text)
    ):
        return text
    return converter.convert(text)


# --- all together --------------------------------------------------------------------


def normalize(text: str) -> str:
    """Normalise ``text`` for analysis (see the module docstring). The original is kept by the caller."""
    if not text:
        return ""
    astral = _ASTRAL_RE.search(text) is not None  # later steps remove characters; only NFKC adds any
    text = _strip_invisible(text, astral=astral)
    text, astral = _fold(text, astral=astral)
    text = _collapse_whitespace(text)
    if not text:
        return ""
    if "(" in text or "（" in text:
        for _ in range(4):
            repaired = repair_pinyin(text)
            if repaired == text:
                break
            text = _collapse_whitespace(_chinese_punctuation(repaired))
    return _to_simplified(text, astral=astral)
