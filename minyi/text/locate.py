"""Where an appeal is about: ``Gazetteer``, ``Place``, ``PlaceMatch`` and ``Location``.

A ``Gazetteer`` is built from the places an administrator maintains (city, districts,
streets, communities, estates, roads, landmarks, companies), each with an optional parent,
and finds their mentions in a citizen's message. Texts are expected to be normalised by the
caller (``minyi.text.normalize``); offsets index the text as passed.

Names
    Every name and explicit alias is passed through ``normalize`` once, when the gazetteer
    is built, so that traditional or full-width names match normalised text. Names shorter
    than 2 characters are not indexed (the place still exists as a parent). Automatic
    aliases ("stems") are made by cutting one suffix that the kind of place usually carries:

    ========== ==============================================================
    city       市
    district   自治县, 区, 县, 市, 旗
    street     街道办事处, 街道办, 街道, 镇, 乡
    community  社区居委会, 居委会, 村委会, 社区, 村
    estate     小区 (only: ``阳光花园`` keeps no ``阳光``; 花园/苑/城 are part of the name)
    ========== ==============================================================

    The longest suffix that fits is cut, once, from the name and from each explicit alias. A
    stem is kept only when it has at least 2 characters and contains a Han character (so
    ``A3区`` gives no ``A3``, which would match inside ``A31``). Roads, landmarks, companies
    and "other" places get no automatic alias: give them explicit ones.

Generic stems
    A stem that is an everyday word or one of the names every Chinese city reuses
    (``GENERIC_STEMS``: 人民, 解放, 建设, 中山, 东方, 阳光, 幸福, 中心, 新区, 开发, 城市 ...)
    appears in ordinary sentences (``人民群众``, ``建设单位``, ``中心城区``, ``阳光房``) far
    more often than as the place. Such a stem is indexed but never fires alone: its mention is
    kept only when it is followed by a house number (``阳光5栋``) or another, non-generic
    mention in the same text is of its parent or of a place inside it (the stem ``中山`` of
    ``中山街道`` counts in ``江北区中山一带`` when ``中山街道`` is in ``江北区``; in
    ``中山大学`` it does not, nor after a mere mention of the city, which encloses everything).
    An explicit alias is never generic.

Finding mentions (``find``)
    Leftmost-longest, non-overlapping, with one exception: a stem mention gives way to an
    overlapping full-name (or explicit alias) mention that starts inside it and ends after it
    (``江北京路`` is the road ``北京路``, not the stem ``江北``). A name that starts or ends
    with an ASCII letter or digit must not touch another ASCII letter or digit on that side.
    When a key is both a full name (or explicit alias) of some places and a stem of others,
    only the full-name places count.

    The search is not a loop over names. Every indexed key has at least 2 characters, so a
    mention starts where the text's character pair is the first pair of some key. The text's
    code points (``str.encode("utf-32-le")`` into a NumPy array) give every pair's hash in a
    few vector operations; a 1 MiB byte table of the hashed first pairs of the keys keeps the positions
    that can start a key (about 1% false hits, removed by a dict look-up of the pair), and at
    those the keys starting with that pair are tried longest first (dict look-ups of slices).
    The cost is linear in the text and independent of the gazetteer's size. ``locate_many``
    runs the vector step once over a whole batch.

Resolution (``locate``)
    Each mention has one or more candidate places (a name shared by several places: two
    ``滨江街道`` in two districts). Two places are *related* when one is an ancestor of the
    other (or they are the same place). A shared name is resolved to the candidate related to
    the most other mentions (weighted as below); ties and candidates that no other mention
    supports stay unresolved. This repeats until nothing changes, so resolved mentions help
    resolve others. Unresolved mentions give their candidates' ids in ``Location.ambiguous``
    and stand for their candidates' deepest common ancestor (or nothing).

    Mention weights: full name or explicit alias 2, stem 1, plus 2 when the mention is
    address-like (followed by a house number: ``幸福路12号``, ``阳光花园3栋``, ``5单元``).
    The place of the text is the mentioned place with the largest sum of weights of the
    mentions that it *explains* (its own and its ancestors' mentions); ties go to the deeper
    place, then to the earlier mention. ``江北区滨江街道幸福里社区`` is the community (it
    explains all three mentions); of two unrelated mentions the one with a house number wins.
    ``region_id`` is the nearest place at or above it whose kind is city, district, street
    or community.

Bad input never raises: a non-string or empty text gives no match; control, zero-width
and lone surrogate characters are simply not part of any name; a 1 MB text is fine.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from minyi.text.normalize import normalize

__all__ = [
    "GENERIC_STEMS",
    "KINDS",
    "REGION_KINDS",
    "STEM_SUFFIXES",
    "Gazetteer",
    "Location",
    "Place",
    "PlaceMatch",
    "stems",
]

KINDS = ("city", "district", "street", "community", "estate", "road", "landmark", "company", "other")
REGION_KINDS = frozenset({"city", "district", "street", "community"})

# Longest first within a kind: the first suffix that fits is the one cut.
STEM_SUFFIXES: dict[str, tuple[str, ...]] = {
    "city": ("市",),
    "district": ("自治县", "区", "县", "市", "旗"),
    "street": ("街道办事处", "街道办", "街道", "镇", "乡"),
    "community": ("社区居委会", "居委会", "村委会", "社区", "村"),
    "estate": ("小区",),
}

# Stems that are everyday words or names reused by every Chinese city: see the module docstring.
GENERIC_STEMS = frozenset(
    str.split(
        # revolutionary, patriotic and auspicious names found in nearly every city
        "人民 解放 建设 中山 中华 东方 阳光 幸福 和平 光明 胜利 新华 友谊 红旗 东风 向阳 朝阳 前进 "
        "团结 民主 复兴 振兴 繁荣 富强 文明 和谐 长安 长征 红星 新民 同心 平安 吉祥 太平 永安 兴旺 "
        "富民 希望 青年 五一 八一 劳动 先锋 曙光 春天 金色 美丽 "
        # planning and generic place words
        "中心 新区 开发 城市 城区 市区 郊区 老城 新城 新村 花园 公园 广场 工业 科技 高新 经济 发展 "
        "国际 世纪 未来 中央 商业 市场 文化 教育 体育 卫生 交通 农村 社会 政府 公安 医院 学校 "
        "东区 西区 南区 北区 东城 西城 南城 北城 城东 城西 城南 城北 中环 滨江 滨河 沿江 江边 湖边 "
        "东湖 南湖 北湖 西湖 东山 南山 北山 西山 青山 金山 白云 蓝天 绿地 生态 园林 "
        "第一 第二 第三 一号 二号 三号"
    )
)

_WEAK, _STEM, _FULL = 0, 1, 2
_MENTION_WEIGHT = (1, 1, 2)  # by strength
_ADDRESS_BONUS = 2

_HAN_RE = re.compile("[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_ASCII_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# A house number right after the name: optional phase (二期), then a number and a unit word.
_ADDRESS_RE = re.compile(
    r"\s?(?:[0-9一二三四五六七八九十]{1,3}期)?[A-Za-z]?[0-9一二三四五六七八九十百零〇两]{1,5}[A-Za-z]?"
    r"(?:[-－][0-9]{1,4}){0,3}(?:号|栋|幢|单元|弄)"
)

# Pair hashing for the vector pre-filter: h = ((a * A + b * B) mod 2**32) >> 12, a 20-bit slot.
_HASH_A = 0x9E3779B1
_HASH_B = 0x85EBCA77
_HASH_SHIFT = 12
_TABLE_SIZE = 1 << (32 - _HASH_SHIFT)
_HASH_A32, _HASH_B32, _HASH_SHIFT32 = np.uint32(_HASH_A), np.uint32(_HASH_B), np.uint32(_HASH_SHIFT)
_VECTOR_MIN = 40  # below this many characters a plain loop over pairs is faster than NumPy
_BATCH_CHARS = 1 << 20
_MAX_ROUNDS = 8


@dataclass(frozen=True)
class Place:
    """A place of the gazetteer. ``parent`` is the id of the enclosing place (or None)."""

    id: Hashable
    name: str
    kind: str
    parent: Hashable | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlaceMatch:
    """A mention: ``text == original[start:end]``. ``candidates`` lists every place the name may
    mean when the mention could not be resolved (``place_id`` is then the first of them)."""

    start: int
    end: int
    text: str
    place_id: Hashable
    kind: str
    candidates: tuple[Hashable, ...] = ()


@dataclass(frozen=True)
class Location:
    place_id: Hashable | None
    region_id: Hashable | None
    matches: tuple[PlaceMatch, ...]
    ambiguous: tuple[Hashable, ...] = ()


_NOWHERE = Location(None, None, ())


def stems(name: str, kind: str) -> list[str]:
    """The automatic aliases of a (normalised) name of this kind: at most one, see the module docstring."""
    for suffix in STEM_SUFFIXES.get(kind, ()):
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            if len(stem) >= 2 and _HAN_RE.search(stem):
                return [stem]
            return []
    return []


def _pair_hash(a: int, b: int) -> int:
    return ((a * _HASH_A + b * _HASH_B) & 0xFFFFFFFF) >> _HASH_SHIFT


@dataclass
class _Mention:
    start: int
    end: int
    cands: tuple[int, ...]
    strength: int
    address: bool


class Gazetteer:
    """Finds places in normalised text (see the module docstring for the rules).

    ``Gazetteer(places)`` raises ``ValueError`` for a repeated id or an unknown kind. A parent id
    that is not in the gazetteer is treated as no parent; a cycle of parents is cut where it
    closes.
    """

    def __init__(self, places: Iterable[Place]) -> None:
        self._places: list[Place] = []
        self._index: dict[Hashable, int] = {}
        for place in places:
            if place.kind not in KINDS:
                raise ValueError(
                    f"place {place.id!r}: unknown kind {place.kind!r} (one of {', '.join(KINDS)})"
                )
            if place.id in self._index:
                raise ValueError(f"place id {place.id!r} is repeated")
            self._index[place.id] = len(self._places)
            self._places.append(place)
        self._ids = [p.id for p in self._places]
        self._kinds = [p.kind for p in self._places]
        self._lineage = self._build_lineage()
        self._depth = [len(chain) - 1 for chain in self._lineage]
        self._ancestor_sets = [frozenset(chain) for chain in self._lineage]
        self._region = [
            next((a for a in chain if self._kinds[a] in REGION_KINDS), None) for chain in self._lineage
        ]
        self._build_keys()

    # building ------------------------------------------------------------------------

    def _build_lineage(self) -> list[tuple[int, ...]]:
        parent: list[int | None] = [
            self._index.get(p.parent) if p.parent is not None else None for p in self._places
        ]
        lineage: list[tuple[int, ...]] = []
        for i in range(len(self._places)):
            chain = [i]
            seen = {i}
            node = parent[i]
            while node is not None and node not in seen:
                chain.append(node)
                seen.add(node)
                node = parent[node]
            lineage.append(tuple(chain))
        return lineage

    def _build_keys(self) -> None:
        entries: dict[str, dict[int, int]] = {}  # key -> place index -> best strength

        def add(key: str, index: int, strength: int) -> None:
            if len(key) < 2:
                return
            by_place = entries.setdefault(key, {})
            by_place[index] = max(by_place.get(index, -1), strength)

        for i, place in enumerate(self._places):
            names = [normalize(place.name or "")]
            names += [normalize(alias or "") for alias in place.aliases]
            for name in names:
                add(name, i, _FULL)
            for name in names:
                for stem in stems(name, place.kind):
                    add(stem, i, _WEAK if stem in GENERIC_STEMS else _STEM)

        # Per key keep the places of the best strength only: a full name beats a stem.
        self._keys: dict[str, tuple[tuple[int, ...], int]] = {}
        self._names: dict[int, list[str]] = {}
        for key, by_place in entries.items():
            best = max(by_place.values())
            cands = tuple(sorted(i for i, s in by_place.items() if s == best))
            self._keys[key] = (cands, best)
            for i in cands:
                self._names.setdefault(i, []).append(key)
        lengths: dict[str, set[int]] = {}
        for key in self._keys:
            lengths.setdefault(key[:2], set()).add(len(key))
        self._lengths = {pair: tuple(sorted(ls, reverse=True)) for pair, ls in lengths.items()}
        table = np.zeros(_TABLE_SIZE, dtype=np.uint8)
        for pair in self._lengths:
            table[_pair_hash(ord(pair[0]), ord(pair[1]))] = 1
        self._table = table

    # introspection ---------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._places)

    @property
    def places(self) -> tuple[Place, ...]:
        """Every place, in the order given."""
        return tuple(self._places)

    def __contains__(self, place_id: object) -> bool:
        try:
            return place_id in self._index
        except TypeError:
            return False

    def place(self, place_id: Hashable) -> Place:
        """The place with this id (``KeyError`` if unknown)."""
        return self._places[self._index[place_id]]

    def names(self, place_id: Hashable) -> list[str]:
        """The normalised keys that find this place: its name, aliases and stems that were kept."""
        return sorted(self._names.get(self._index[place_id], []))

    def ancestors(self, place_id: Hashable) -> list[Hashable]:
        """The place's id and its ancestors' ids, up to the root (``KeyError`` if unknown)."""
        return [self._ids[i] for i in self._lineage[self._index[place_id]]]

    # finding -----------------------------------------------------------------------------

    def _pairs_vector(self, codes: np.ndarray) -> np.ndarray:
        """Positions (in ``codes``) whose pair hashes into the table of first pairs."""
        h = codes[:-1] * _HASH_A32
        h += codes[1:] * _HASH_B32
        h >>= _HASH_SHIFT32
        return np.flatnonzero(self._table[h])

    def _starts(self, text: str) -> list[int]:
        lengths = self._lengths
        if len(text) < _VECTOR_MIN:
            return [i for i in range(len(text) - 1) if text[i : i + 2] in lengths]
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        return [i for i in self._pairs_vector(codes).tolist() if text[i : i + 2] in lengths]

    def _starts_many(self, texts: Sequence[str]) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in texts]
        lengths = self._lengths
        batch: list[int] = []
        size = 0

        def flush() -> None:
            if not batch:
                return
            joined = "\x00".join(texts[k] for k in batch)
            codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype="<u4")
            hits = self._pairs_vector(codes)
            offsets = np.cumsum([0] + [len(texts[k]) + 1 for k in batch[:-1]])
            owner = np.searchsorted(offsets, hits, side="right") - 1
            local = hits - offsets[owner]
            for o, i in zip(owner.tolist(), local.tolist(), strict=True):
                text = texts[batch[o]]
                if text[i : i + 2] in lengths:
                    out[batch[o]].append(i)
            batch.clear()

        for k, text in enumerate(texts):
            if len(text) < 2:
                continue
            batch.append(k)
            size += len(text) + 1
            if size >= _BATCH_CHARS:
                flush()
                size = 0
        flush()
        return out

    def _longest(self, text: str, i: int) -> tuple[int, tuple[tuple[int, ...], int]] | None:
        keys = self._keys
        room = len(text) - i
        for length in self._lengths[text[i : i + 2]]:
            if length > room:
                continue
            entry = keys.get(text[i : i + length])
            if entry is None:
                continue
            end = i + length
            if (text[i] in _ASCII_ALNUM and i > 0 and text[i - 1] in _ASCII_ALNUM) or (
                text[end - 1] in _ASCII_ALNUM and end < len(text) and text[end] in _ASCII_ALNUM
            ):
                continue
            return end, entry
        return None

    def _scan(self, text: str, starts: list[int]) -> list[_Mention]:
        mentions: list[_Mention] = []
        taken = 0
        for n, i in enumerate(starts):
            if i < taken:
                continue
            found = self._longest(text, i)
            if found is None:
                continue
            end, (cands, strength) = found
            if strength < _FULL and self._full_overlaps(text, starts, n, end):
                continue
            address = _ADDRESS_RE.match(text, end) is not None
            if address and strength == _WEAK:
                strength = _STEM  # a house number after a generic stem (阳光5栋) is evidence enough
            mentions.append(_Mention(i, end, cands, strength, address))
            taken = end
        return mentions

    def _full_overlaps(self, text: str, starts: list[int], n: int, end: int) -> bool:
        """Does a full-name mention start inside the stem mention at starts[n] and end after it?"""
        for j in starts[n + 1 :]:
            if j >= end:
                return False
            found = self._longest(text, j)
            if found is not None and found[0] > end and found[1][1] == _FULL:
                return True
        return False

    # resolving -------------------------------------------------------------------------

    def _resolve(self, mentions: list[_Mention]) -> tuple[list[_Mention], list[tuple[int, ...]]]:
        """Narrow shared names by the other mentions; drop generic stems that nothing supports.

        Works on groups of identical mentions (same candidates and strength), so that a name
        repeated a thousand times costs one group; a group never supports itself. Returns the
        kept mentions and, for each, its remaining candidates."""
        if all(len(m.cands) == 1 and m.strength != _WEAK for m in mentions):
            return mentions, [m.cands for m in mentions]  # nothing to resolve (the common case)
        group_of: dict[tuple[tuple[int, ...], int], int] = {}
        member: list[int] = []
        for m in mentions:
            member.append(group_of.setdefault((m.cands, m.strength), len(group_of)))
        keys = list(group_of)
        cands = [key[0] for key in keys]
        weak = [key[1] == _WEAK for key in keys]
        count = [0] * len(keys)
        for g in member:
            count[g] += 1
        weight = [0 if weak[g] else _MENTION_WEIGHT[keys[g][1]] * count[g] for g in range(len(keys))]
        todo = [g for g in range(len(keys)) if len(cands[g]) > 1 or weak[g]]
        lineage = self._lineage
        for _ in range(_MAX_ROUNDS if len(keys) > 1 else 0):
            by_up: dict[int, set[int]] = {}  # place -> groups with a candidate at or below it
            by_cand: dict[int, set[int]] = {}  # place -> groups with it as a candidate
            for g in range(len(keys)):
                if weight[g]:
                    for c in cands[g]:
                        by_cand.setdefault(c, set()).add(g)
                        for a in lineage[c]:
                            by_up.setdefault(a, set()).add(g)
            changed = False
            for g in todo:
                support = []
                close = weak[g] and weight[g] == 0  # a generic stem needs its parent or a place inside it
                for c in cands[g]:
                    related = set(by_up.get(c, ()))
                    for a in lineage[c][1:2] if close else lineage[c]:
                        related.update(by_cand.get(a, ()))
                    related.discard(g)
                    support.append(sum(weight[q] for q in related))
                best = max(support)
                if best == 0:
                    continue
                narrowed = tuple(c for c, s in zip(cands[g], support, strict=True) if s == best)
                if weak[g] and weight[g] == 0:
                    weight[g] = _MENTION_WEIGHT[_WEAK] * count[g]
                    changed = True
                if narrowed != cands[g]:
                    cands[g] = narrowed
                    changed = True
            todo = [g for g in todo if len(cands[g]) > 1]
            if not changed or not todo:
                break
        kept = [k for k, g in enumerate(member) if weight[g] > 0]
        return [mentions[k] for k in kept], [cands[member[k]] for k in kept]

    def _common_ancestor(self, cands: tuple[int, ...]) -> int | None:
        common = set(self._lineage[cands[0]])
        for c in cands[1:]:
            common &= self._ancestor_sets[c]
        if not common:
            return None
        return max(common, key=lambda a: self._depth[a])

    def _location(self, text: str, mentions: list[_Mention]) -> Location:
        if not mentions:
            return _NOWHERE
        mentions, cands = self._resolve(mentions)
        if not mentions:
            return _NOWHERE
        ids, kinds = self._ids, self._kinds
        matches = []
        ambiguous: dict[Hashable, None] = {}
        items: list[tuple[int, int, int]] = []  # (place, weight, order)
        for order, (m, cs) in enumerate(zip(mentions, cands, strict=True)):
            weight = _MENTION_WEIGHT[m.strength] + (_ADDRESS_BONUS if m.address else 0)
            first = cs[0]
            if len(cs) == 1:
                matches.append(PlaceMatch(m.start, m.end, text[m.start : m.end], ids[first], kinds[first]))
                items.append((first, weight, order))
                continue
            cand_ids = tuple(ids[c] for c in cs)
            matches.append(
                PlaceMatch(m.start, m.end, text[m.start : m.end], ids[first], kinds[first], cand_ids)
            )
            for cid in cand_ids:
                ambiguous[cid] = None
            common = self._common_ancestor(cs)
            if common is not None:
                items.append((common, weight, order))
        best: int | None = None
        if len(items) == 1 or (items and all(item[0] == items[0][0] for item in items)):
            best = items[0][0]  # one place (the common case): nothing to weigh
        elif items:
            weight_at: dict[int, int] = {}
            first_order: dict[int, int] = {}
            for place, weight, order in items:
                weight_at[place] = weight_at.get(place, 0) + weight
                first_order.setdefault(place, order)
            lineage, depth = self._lineage, self._depth
            explained = {p: sum(weight_at.get(a, 0) for a in lineage[p]) for p in weight_at}
            best = max(weight_at, key=lambda p: (explained[p], depth[p], -first_order[p]))
        place_id = ids[best] if best is not None else None
        region = self._region[best] if best is not None else None
        return Location(
            place_id,
            ids[region] if region is not None else None,
            tuple(matches),
            tuple(ambiguous),
        )

    # public ------------------------------------------------------------------------------

    def find(self, text: str) -> list[PlaceMatch]:
        """Every mention of a place, in text order (as ``locate(text).matches``)."""
        return list(self.locate(text).matches)

    def locate(self, text: str) -> Location:
        """The place the text is about, its region and every mention (see the module docstring)."""
        if not isinstance(text, str) or len(text) < 2 or not self._keys:
            return _NOWHERE
        return self._location(text, self._scan(text, self._starts(text)))

    def locate_many(self, texts: Sequence[str]) -> list[Location]:
        """``locate`` for each text; the vector step runs once per batch of about a million characters."""
        clean: list[str] = [t if isinstance(t, str) else "" for t in texts]
        if not self._keys:
            return [_NOWHERE for _ in clean]
        starts = self._starts_many(clean)
        return [
            self._location(text, self._scan(text, s)) if s else _NOWHERE
            for text, s in zip(clean, starts, strict=True)
        ]

    def __repr__(self) -> str:
        return f"Gazetteer({len(self)} places, {len(self._keys)} names)"
