"""Hot topics: ``mine_topics`` clusters appeals into the specific matters people raise together.

A topic is one matter (the parking spaces of one estate sold bundled with its flats, the
noise of one road's night works, one school's fees), not a category. ``mine_topics``
returns the topics of at least ``min_size`` current appeals, hottest first;
``match_topics`` pairs them with the previous run's topics so that a topic keeps its id
from one run to the next; ``heat`` and ``trend`` are the figures shown with them.

Documents → vectors (TF-IDF)
    The text is ``normalize``-d and cut with ``segment`` (or the pre-segmented ``tokens``
    are used as they are: a string is split on whitespace). Kept terms: not a stop word
    (``segment.stopwords()`` plus the letter formulas and generic complaint words of
    ``TOPIC_STOPWORDS``), at least two characters, at most ``MAX_TERM_CHARS``, with a
    letter or a Han character (so no punctuation and no bare numbers); letters are
    lower-cased (keywords show a term as first seen). A text is cut after
    ``MAX_TEXT_CHARS`` characters and ``MAX_TOKENS`` tokens. The title's words count once
    more (the title is part of the text, so they weigh double; a title that the text does
    not contain is added to it). Weight = (1 + ln tf) × idf, idf = ln((1 + N) / (1 + df))
    + 1 over the documents of the run; terms in a single document are dropped (they cannot
    be shared). Each document keeps its ``TERMS_PER_DOC`` (30) heaviest terms,
    L2-normalised.

Vectors → clusters (single pass, then merge)
    Documents are taken in time order (those without a time last, each group in input
    order). A document is compared with the clusters found through an inverted index:
    for each of its ``STRONG_TERMS`` (6) heaviest terms, the ``CANDIDATES_PER_TERM`` (12)
    clusters most recently joined under that term; of those, the ``SCORED_CANDIDATES`` (6)
    that share most of these terms are scored (ties: the order found). The score is the
    cosine between the document and the cluster's centroid (the sum of its members'
    vectors, pruned to its ``CENTROID_TERMS`` heaviest terms when it grows past twice
    that). The document joins the best cluster if the cosine reaches ``threshold``, else
    it starts a new one. An index list holds at most 24 clusters (the most recently
    joined); a cluster that no list holds can no longer be found, and its centroid is
    freed, so memory stays linear in the documents.
    Then (vectorised, SciPy) clusters of two or more whose centroids (top 30 terms,
    L2-normalised) have a cosine of at least ``merge_threshold(threshold)`` =
    (1 + threshold) / 2 are merged, and a document left alone joins its nearest cluster
    of two or more if their cosine reaches ``threshold``; candidate pairs share one of
    their 6 heaviest terms (each cluster is paired with its 24 neighbours in that term's
    list ordered by weight). Every step is deterministic: the same documents in the same
    order give the same topics.

Topics
    ``keywords``: the centroid's 5 heaviest terms; ``label`` the first three joined with
    "·"; ``title``: the title of the member nearest the centroid (the start of its text
    when it has none); ``doc_ids``: members nearest first. ``signature``: the centroid's
    30 heaviest terms, L2-normalised, for ``match_topics``.

Windows
    With ``since``, members dated before ``since`` are the previous window
    (``previous``), the others (also those without a date) the current one (``size``).
    Without ``since`` every member is current and ``previous`` is 0. ``people`` (distinct
    ``person`` keys; a member without one counts as one person), ``supports`` (sum) and
    ``regions`` (distinct ``region`` keys) count current members. ``first_at`` and
    ``last_at`` span all members. A naive datetime is compared as UTC with aware ones.

Heat
    ``heat = 10 × (1.0·ln(1+size) + 1.0·ln(1+people) + 0.5·ln(1+supports)
    + 0.8·ln(1+regions) + 1.0·clamp(growth, −1, 3))``, growth = (size − previous) /
    max(previous, 1). The weights are ``HEAT_WEIGHTS`` (keys size, people, supports,
    regions, growth); pass ``weights`` to override some of them. Without ``since``,
    previous is 0, so growth is the size itself (every member is new) and the growth term
    is the same for every topic of at least three members.

Trend
    ``trend(growth)``: "rising" when growth >= 0.5 (half as many again as the previous
    window), "fading" when growth <= -0.3 (a drop of 30% or more), else "steady".
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from array import array
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import chain, islice, repeat
from operator import add, mul
from typing import Any

import numpy as np

__all__ = [
    "HEAT_WEIGHTS",
    "TOPIC_STOPWORDS",
    "Topic",
    "TopicDoc",
    "heat",
    "match_topics",
    "merge_threshold",
    "mine_topics",
    "trend",
]

logger = logging.getLogger(__name__)

HEAT_WEIGHTS: Mapping[str, float] = {
    "size": 1.0,
    "people": 1.0,
    "supports": 0.5,
    "regions": 0.8,
    "growth": 1.0,
}

RISING = 0.5
FADING = -0.3

MAX_TEXT_CHARS = 20_000
MAX_TOKENS = 5_000
MAX_TERM_CHARS = 16
TERMS_PER_DOC = 30
STRONG_TERMS = 6
CANDIDATES_PER_TERM = 12
SCORED_CANDIDATES = 6
CENTROID_TERMS = 200
SIGNATURE_TERMS = 30
KEYWORDS = 5
TITLE_CHARS = 120
_CHUNK = 8192
_PROGRESS_EVERY = 1000
_MERGE_NEIGHBOURS = 24
_MATCH_JACCARD = 0.3  # match score = 0.3·Jaccard(members) + 0.7·cosine(signatures)

# Words of letters to the government and generic complaint vocabulary: present in every
# matter, so they would make unrelated appeals look alike. (segment.stopwords() has the
# function words, pronouns, greetings and punctuation.)
TOPIC_STOPWORDS = frozenset(
    """
    问题 反映 反应 情况 请问 咨询 投诉 举报 建议 要求 处理 解决 相关 有关 有关部门 相关部门 部门 政府
    领导 市长 书记 市民 群众 网友 留言 回复 答复 尽快 及时 严重 影响 导致 造成 进行 存在 能否 是否
    多次 一直 现在 目前 已经 今年 去年 每天 一下 这种 还是 就是 不仅 直接 通过 根据 按照 知道 不能
    为什么 怎么办 怎么 为何 无法 一些 很多 许多 所有 其他 以上 以下 之后 之前 以后 以前 然后 同时 时候
    时间 地方 这边 那边 如此 而是 还有 没有 不是 不会 不要 不到 得到 看到 出现 发现 表示 认为 觉得
    目前为止 至今 迟迟 何时 多久 什么时候 请求 恳求 呼吁 敬请 谢谢您 您好 你好 你们 我们 他们 我家 家里
    本人 大家 一个 一次 两个 几个 这样 这么 那么 非常 十分 特别 真的 实在 确实 根本 完全 一定 必须
    应该 可以 可能 需要 希望 关注 重视 帮助 帮忙 解答 回应 落实 调查 核实 查处 督促 监管 管理 工作
    工作人员 单位 有限公司 公司 有何 何年 何月 到底 究竟 居然 竟然 为啥
    """.split()  # noqa: SIM905 - a word list reads better as text
)


# --------------------------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class TopicDoc:
    """One appeal for ``mine_topics``: ``text`` is title + content (normalised inside)."""

    id: Hashable
    text: str
    title: str = ""
    tokens: Sequence[str] | None = None
    when: datetime | None = None
    person: str | None = None
    region: str | None = None
    supports: int = 0


@dataclass
class Topic:
    """A mined topic (see the module docstring for each figure)."""

    keywords: list[str]
    label: str
    title: str
    representative_id: Hashable
    doc_ids: list
    size: int
    previous: int
    people: int
    supports: int
    regions: int
    growth: float
    heat: float
    first_at: datetime | None
    last_at: datetime | None
    signature: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- heat, trend


def _weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    merged = dict(HEAT_WEIGHTS)
    if weights:
        for key, value in weights.items():
            if key not in HEAT_WEIGHTS:
                raise ValueError(f"unknown heat weight {key!r} (expected one of {sorted(HEAT_WEIGHTS)})")
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"heat weight {key!r} must be a finite number, not {value!r}")
            merged[key] = value
    return merged


def _count(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number > 0 and math.isfinite(number) else 0.0


def heat(
    *,
    size: int,
    people: int,
    supports: int,
    regions: int,
    growth: float,
    weights: Mapping[str, float] | None = None,
) -> float:
    """``10 × Σ weight × part`` (module docstring); negative or non-numeric counts count as 0."""
    w = _weights(weights)
    try:
        g = float(growth)
    except (TypeError, ValueError):
        g = 0.0
    if not math.isfinite(g):
        g = 0.0 if g != g else (3.0 if g > 0 else -1.0)
    g = min(3.0, max(-1.0, g))
    total = (
        w["size"] * math.log1p(_count(size))
        + w["people"] * math.log1p(_count(people))
        + w["supports"] * math.log1p(_count(supports))
        + w["regions"] * math.log1p(_count(regions))
        + w["growth"] * g
    )
    return 10.0 * total


def trend(growth: float) -> str:
    """Rising (growth >= 0.5), fading (growth <= -0.3) or steady; a non-number is steady."""
    try:
        g = float(growth)
    except (TypeError, ValueError):
        return "steady"
    if g >= RISING:
        return "rising"
    if g <= FADING:
        return "fading"
    return "steady"


def merge_threshold(threshold: float) -> float:
    """The centroid cosine at which two clusters are merged: (1 + threshold) / 2."""
    return (1.0 + threshold) / 2.0


# --------------------------------------------------------------------------------------------- reading


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _epoch(value: Any) -> float:
    """Seconds since the epoch (naive = UTC); NaN when ``value`` is not a date."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=UTC)
        try:
            return value.timestamp()
        except (OverflowError, OSError, ValueError):
            return math.nan
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    return math.nan


def _short(text: str) -> str:
    from minyi.text.normalize import strip_invisible

    text = " ".join(strip_invisible(text[: TITLE_CHARS * 4]).split())
    return text[:TITLE_CHARS]


class _Vocabulary:
    """Tokens → term ids in first-seen order (-1: not a term); ``terms`` holds each term as first seen."""

    def __init__(self) -> None:
        from minyi.text.segment import stopwords

        self.stop = stopwords() | TOPIC_STOPWORDS
        self.ids: dict[str, int] = {}
        self.terms: list[str] = []  # as first seen (keywords)
        self.keys: list[str] = []  # lower-cased (signatures: the same across runs)

    def resolve(self, token: Any) -> int:
        if not isinstance(token, str):
            return -1
        term = token.strip()
        if term != token or not term.isprintable():
            from minyi.text.normalize import strip_invisible

            term = "".join(strip_invisible(term).split())
        shown, term = term, term.lower()  # 110KV and 110kv are one term, shown as first seen
        if (
            len(term) < 2
            or len(term) > MAX_TERM_CHARS
            or term in self.stop
            or not any(c.isalpha() for c in term)
            or term.isdigit()
        ):
            if len(self.ids) < 4_000_000:  # cache rejections too, up to a bound (numbers are endless)
                self.ids[token] = -1
            return -1
        tid = self.ids.get(term)
        if tid is None or tid < 0:
            tid = len(self.terms)
            self.terms.append(shown)
            self.keys.append(term)
            self.ids[term] = tid
        if token != term:
            self.ids[token] = tid
        return tid


class _Corpus:
    """What ``mine_topics`` keeps per document: ids, times, keys, titles, and the raw term counts."""

    def __init__(self) -> None:
        self.vocab = _Vocabulary()
        self.ids: list[Hashable] = []
        self.whens: list[datetime | None] = []
        self.epochs = array("d")  # NaN: no date
        self.people = array("q")  # distinct people; a document without a person is one of its own (negative)
        self.regions = array("q")  # -1: no region
        self.supports = array("q")
        self.titles: list[str] = []
        self._person_keys: dict[Any, int] = {}
        self._region_keys: dict[Any, int] = {}
        # term ids of the documents not yet counted (the title's repeated), counted every _CHUNK documents
        self._raw: list[int] = []
        self._lens: list[int] = []
        self.chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, doc: Any, segment: Callable[[str], list[str]], normalize: Callable[[str], str]) -> None:
        n = len(self.ids)
        self.ids.append(getattr(doc, "id", None))
        when = getattr(doc, "when", None)
        epoch = _epoch(when)
        self.whens.append(when if epoch == epoch else None)
        self.epochs.append(epoch)
        person = getattr(doc, "person", None)
        if person is None or (isinstance(person, str) and not person.strip()):
            self.people.append(-1 - n)
        else:
            self.people.append(self._person_keys.setdefault(_key(person), len(self._person_keys)))
        region = getattr(doc, "region", None)
        if region is None or (isinstance(region, str) and not region.strip()):
            self.regions.append(-1)
        else:
            self.regions.append(self._region_keys.setdefault(_key(region), len(self._region_keys)))
        supports = _count(getattr(doc, "supports", 0))
        self.supports.append(int(min(supports, 1e12)))

        text = _text(getattr(doc, "text", ""))[:MAX_TEXT_CHARS]
        raw_title = _text(getattr(doc, "title", ""))[: TITLE_CHARS * 4]
        title = "".join(normalize(raw_title).split()) if raw_title else ""
        tokens = getattr(doc, "tokens", None)
        if tokens is None:
            body = normalize(text)
            if title and not body.startswith(title) and title not in "".join(body[: len(title) * 2].split()):
                body = title + "\n" + body
            tokens = segment(body[:MAX_TEXT_CHARS])
        elif isinstance(tokens, str):
            tokens = tokens[: MAX_TEXT_CHARS * 2].split()
        elif not isinstance(tokens, list | tuple):
            try:
                tokens = list(islice(tokens, MAX_TOKENS))
            except TypeError:
                tokens = []
        if len(tokens) > MAX_TOKENS:
            tokens = tokens[:MAX_TOKENS]
        shown = _short(raw_title) or _short(text)
        if not shown and tokens:
            shown = _short("".join(t for t in islice(tokens, TITLE_CHARS) if isinstance(t, str)))
        self.titles.append(shown)

        get = self.vocab.ids.get
        try:
            found = list(map(get, tokens))
        except TypeError:  # an unhashable token
            tokens = [t if isinstance(t, str) else "" for t in tokens]
            found = list(map(get, tokens))
        if None in found:
            resolve = self.vocab.resolve
            found = [resolve(t) if f is None else f for t, f in zip(tokens, found, strict=True)]
        self._raw.extend(found)
        size = len(found)
        if title:
            title_ids = self._title_ids(title, tokens, found, segment)
            self._raw.extend(title_ids)
            size += len(title_ids)
        self._lens.append(size)
        if len(self._lens) >= _CHUNK:
            self.flush()

    def _title_ids(
        self, title: str, tokens: Sequence[str], found: list[int], segment: Callable[[str], list[str]]
    ) -> list[int]:
        """The term ids of the title: the leading tokens when the text starts with it (the usual case), else its own."""
        total = 0
        k = 0
        target = len(title)
        for token in tokens:
            if total >= target or k >= 200:
                break
            total += len(token) if isinstance(token, str) else 0
            k += 1
        if total == target and "".join(t for t in tokens[:k] if isinstance(t, str)) == title:
            return found[:k]
        resolve = self.vocab.resolve
        get = self.vocab.ids.get
        return [resolve(t) if (f := get(t)) is None else f for t in segment(title)]

    def flush(self) -> None:
        """Count each document's term ids (NumPy) into a chunk: (term ids, counts, terms per document)."""
        if not self._lens:
            return
        raw = np.array(self._raw, dtype=np.int64)
        lens = np.array(self._lens, dtype=np.int64)
        self._raw, self._lens = [], []
        doc = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
        keep = raw >= 0
        raw, doc = raw[keep], doc[keep]
        width = max(len(self.vocab.terms), 1)
        keys, counts = np.unique(doc * width + raw, return_counts=True)
        self.chunks.append(
            (
                (keys % width).astype(np.int32),
                np.minimum(counts, 255).astype(np.uint8),
                np.bincount(keys // width, minlength=len(lens)).astype(np.int32),
            )
        )


def _key(value: Any) -> Hashable:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


# --------------------------------------------------------------------------------------------- vectors


def _vectors(corpus: _Corpus) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each document's TERMS_PER_DOC heaviest terms, L2-normalised: (indptr, terms, weights), terms heaviest first."""
    corpus.flush()
    n = len(corpus)
    n_terms = len(corpus.vocab.terms)
    df = np.zeros(n_terms, dtype=np.int64)
    for terms, _, _ in corpus.chunks:
        if len(terms):
            df += np.bincount(terms, minlength=n_terms)
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    idf[df < 2] = 0.0  # a term of one document cannot be shared
    idf = idf.astype(np.float32)
    lens_all: list[np.ndarray] = []
    term_parts: list[np.ndarray] = []
    weight_parts: list[np.ndarray] = []
    while corpus.chunks:
        terms, tfs, lens = corpus.chunks.pop(0)
        doc = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
        weight = (1.0 + np.log(tfs.astype(np.float32))) * idf[terms]
        keep = weight > 0
        terms, weight, doc = terms[keep], weight[keep], doc[keep]
        order = np.lexsort((terms, -weight, doc))
        terms, weight, doc = terms[order], weight[order], doc[order]
        counts = np.bincount(doc, minlength=len(lens))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        rank = np.arange(len(doc)) - starts[doc]
        keep = rank < TERMS_PER_DOC
        terms, weight, doc = terms[keep], weight[keep], doc[keep]
        norm = np.sqrt(np.bincount(doc, weights=weight.astype(np.float64) ** 2, minlength=len(lens)))
        weight = (weight / norm[doc]).astype(np.float32)
        lens_all.append(np.minimum(counts, TERMS_PER_DOC))
        term_parts.append(terms.astype(np.int32))
        weight_parts.append(weight)
    lens = np.concatenate(lens_all) if lens_all else np.zeros(0, dtype=np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=indptr[1:])
    terms = np.concatenate(term_parts) if term_parts else np.zeros(0, dtype=np.int32)
    weights = np.concatenate(weight_parts) if weight_parts else np.zeros(0, dtype=np.float32)
    return indptr, terms, weights


# --------------------------------------------------------------------------------------------- clustering


def _leader(
    order: np.ndarray, indptr: np.ndarray, terms_a: np.ndarray, weights_a: np.ndarray, threshold: float
) -> np.ndarray:
    """Single pass in ``order``: each document joins the nearest candidate cluster at >= threshold or starts one."""
    n = len(indptr) - 1
    labels = np.full(n, -1, dtype=np.int64)
    lead: list[int] = []  # the first document of each cluster
    # centroid sums of the clusters of two or more (None: a single document, or retired)
    sums: list[dict[int, float] | None] = []
    norms: list[float] = []
    refs: list[int] = []  # postings that hold the cluster
    postings: dict[int, list[int]] = {}  # term -> clusters indexed under it, most recently joined last
    postings_get = postings.get
    cap = CANDIDATES_PER_TERM
    scored = SCORED_CANDIDATES
    limit = 2 * cap
    zero = repeat(0.0)
    prune_at = 2 * CENTROID_TERMS
    ptr = indptr.tolist()
    for i in order.tolist():
        a, b = ptr[i], ptr[i + 1]
        if a == b:
            continue
        terms = terms_a[a:b].tolist()
        weights = weights_a[a:b].tolist()
        strong = terms[:STRONG_TERMS]
        found = [p[-cap:] for p in map(postings_get, strong) if p]
        if not found:
            candidates: Iterable[int] = ()
        elif len(found) == 1:
            candidates = found[0][-scored:]
        else:
            pool = list(chain.from_iterable(found))
            candidates = dict.fromkeys(pool)
            if len(candidates) > scored:  # the clusters that share most of the document's strong terms
                counts = Counter(pool)
                candidates = sorted(candidates, key=counts.__getitem__, reverse=True)[:scored]
        best = -1
        best_cos = -1.0
        best_dot = 0.0
        mine: dict[int, float] | None = None
        for c in candidates:
            s = sums[c]
            if s is None:
                if mine is None:
                    mine = dict(zip(terms, weights, strict=True))
                j = lead[c]
                ja, jb = ptr[j], ptr[j + 1]
                dot = sum(map(mul, weights_a[ja:jb].tolist(), map(mine.get, terms_a[ja:jb].tolist(), zero)))
                cos = dot
            else:
                dot = sum(map(mul, weights, map(s.get, terms, zero)))
                cos = dot / norms[c]
            if cos > best_cos or (cos == best_cos and c < best):
                best, best_cos, best_dot = c, cos, dot
        if best_cos < threshold:
            c = len(lead)
            lead.append(i)
            sums.append(None)
            norms.append(1.0)
            refs.append(0)
        else:
            c = best
            s = sums[c]
            if s is None:
                j = lead[c]
                ja, jb = ptr[j], ptr[j + 1]
                s = dict(zip(terms_a[ja:jb].tolist(), weights_a[ja:jb].tolist(), strict=True))
                sums[c] = s
            s.update(zip(terms, map(add, weights, map(s.get, terms, zero)), strict=True))
            if len(s) > prune_at:
                kept = heapq.nlargest(CENTROID_TERMS, s.items(), key=_second)
                s = dict(kept)
                sums[c] = s
                norms[c] = math.sqrt(sum(v * v for _, v in kept))
            else:
                norms[c] = math.sqrt(max(norms[c] ** 2 + 2.0 * best_dot + 1.0, 1e-12))
        labels[i] = c
        for t in strong:
            posting = postings_get(t)
            if posting is None:
                postings[t] = [c]
                refs[c] += 1
            elif posting[-1] == c:
                pass
            elif c in posting:
                posting.remove(c)
                posting.append(c)
            else:
                posting.append(c)
                refs[c] += 1
                if len(posting) > limit:
                    old = posting[:-cap]
                    del posting[:-cap]
                    for o in old:
                        refs[o] -= 1
                        if refs[o] == 0:
                            sums[o] = None  # unreachable now: free its centroid
    return labels


def _second(item: tuple[int, float]) -> float:
    return item[1]


def _centroids(
    labels: np.ndarray,
    groups: np.ndarray,
    indptr: np.ndarray,
    terms: np.ndarray,
    weights: np.ndarray,
    n_terms: int,
) -> Any:
    """Centroid sums (a CSR matrix, one row per group id) of the documents with ``labels`` in groups."""
    from scipy import sparse

    doc_group = np.where(labels >= 0, groups[np.maximum(labels, 0)], -1)  # -1: not in a kept group
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    docs = np.flatnonzero(doc_group >= 0)
    # (groups × documents) indicator @ (documents × terms): no COO triplets of every entry
    indicator = sparse.csr_matrix(
        (np.ones(len(docs), dtype=np.float32), (doc_group[docs], docs)), shape=(n_groups, len(labels))
    )
    vectors = sparse.csr_matrix((weights, terms, indptr), shape=(len(labels), max(n_terms, 1)))
    matrix = (indicator @ vectors).astype(np.float64)
    matrix.sort_indices()
    return matrix


def _top_rows(matrix: Any, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's k heaviest entries, heaviest first, L2-normalised: (indptr, columns, values)."""
    matrix = matrix.tocsr()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    cols, vals = matrix.indices.astype(np.int64), matrix.data
    order = np.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    counts = np.bincount(rows, minlength=matrix.shape[0])
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])) if len(counts) else counts
    rank = np.arange(len(rows)) - starts[rows]
    keep = (rank < k) & (vals > 0)
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    norm = np.sqrt(np.bincount(rows, weights=vals**2, minlength=matrix.shape[0]))
    vals = vals / np.where(norm > 0, norm, 1.0)[rows]
    indptr = np.zeros(matrix.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=matrix.shape[0]), out=indptr[1:])
    return indptr, cols, vals


def _merge(
    labels: np.ndarray,
    indptr: np.ndarray,
    terms: np.ndarray,
    weights: np.ndarray,
    n_terms: int,
    threshold: float,
    at: float,
) -> np.ndarray:
    """Merge clusters whose normalised centroids (top SIGNATURE_TERMS) have a cosine >= ``at``; new labels."""
    from scipy import sparse

    n_clusters = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    if n_clusters < 2:
        return labels
    sums = _centroids(labels, np.arange(n_clusters), indptr, terms, weights, n_terms)
    ptr, cols, vals = _top_rows(sums, SIGNATURE_TERMS)
    signatures = sparse.csr_matrix((vals, cols, ptr), shape=(n_clusters, max(n_terms, 1)))
    # candidate pairs: clusters sharing one of their STRONG_TERMS heaviest terms, each paired with its
    # _MERGE_NEIGHBOURS neighbours in that term's list ordered by the term's weight
    lens = np.diff(ptr)
    rows = np.repeat(np.arange(n_clusters), lens)
    rank = np.arange(len(rows)) - ptr[rows]
    strong = rank < STRONG_TERMS
    s_rows, s_cols, s_vals = rows[strong], cols[strong], vals[strong]
    order = np.lexsort((s_rows, -s_vals, s_cols))
    s_rows, s_cols = s_rows[order], s_cols[order]
    firsts: list[np.ndarray] = []
    seconds: list[np.ndarray] = []
    for step in range(1, _MERGE_NEIGHBOURS + 1):
        if step >= len(s_rows):
            break
        same = s_cols[step:] == s_cols[:-step]
        if not same.any():
            break
        firsts.append(s_rows[:-step][same])
        seconds.append(s_rows[step:][same])
    if not firsts:
        return labels
    first = np.concatenate(firsts)
    second = np.concatenate(seconds)
    low, high = np.minimum(first, second), np.maximum(first, second)
    pairs = np.unique(low * n_clusters + high)
    low, high = pairs // n_clusters, pairs % n_clusters
    size = np.bincount(labels[labels >= 0], minlength=n_clusters)
    cos_parts = []
    step = 1 << 16
    for start in range(0, len(low), step):
        a, b = low[start : start + step], high[start : start + step]
        cos_parts.append(np.asarray(signatures[a].multiply(signatures[b]).sum(axis=1)).ravel())
    cos = np.concatenate(cos_parts)
    # clusters of two or more: union at the merge threshold
    both = (size[low] >= 2) & (size[high] >= 2) & (cos >= at)
    parent = list(range(n_clusters))
    for x, y in zip(low[both].tolist(), high[both].tolist(), strict=True):
        rx, ry = _find(parent, x), _find(parent, y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    roots = np.array(parent, dtype=np.int64)
    while True:  # pointer jumping: every cluster to its root (the smallest id of its group)
        jumped = roots[roots]
        if np.array_equal(jumped, roots):
            break
        roots = jumped
    # a single document joins its nearest cluster of two or more at the joining threshold
    one = ((size[low] == 1) ^ (size[high] == 1)) & (cos >= threshold)
    single = np.where(size[low[one]] == 1, low[one], high[one])
    other = np.where(size[low[one]] == 1, high[one], low[one])
    pick = np.lexsort((other, -cos[one], single))
    single, other = single[pick], other[pick]
    first = np.ones(len(single), dtype=bool)
    first[1:] = single[1:] != single[:-1]
    roots[single[first]] = roots[other[first]]
    out = labels.copy()
    hit = labels >= 0
    out[hit] = roots[labels[hit]]
    return out


def _find(parent: list[int], x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


# --------------------------------------------------------------------------------------------- mining


def mine_topics(
    docs: Iterable[TopicDoc],
    *,
    since: datetime | None = None,
    min_size: int = 3,
    threshold: float = 0.3,
    weights: Mapping[str, float] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Topic]:
    """The topics of ``docs`` with at least ``min_size`` current members, hottest first (module docstring).

    ``progress(n)`` is called with the number of documents read so far, every 1,000 and
    after the last one; clustering follows.
    """
    if not 0.0 < float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], not {threshold!r}")
    if int(min_size) < 1:
        raise ValueError(f"min_size must be at least 1, not {min_size!r}")
    min_size = int(min_size)
    heat_weights = _weights(weights)
    since_epoch = math.nan
    if since is not None:
        since_epoch = _epoch(since)
        if math.isnan(since_epoch):
            raise ValueError(f"since must be a datetime or a date, not {since!r}")

    from minyi.text.normalize import normalize
    from minyi.text.segment import segment

    marks = [(time.perf_counter(), time.process_time())]
    corpus = _Corpus()
    for doc in docs:
        corpus.add(doc, segment, normalize)
        if progress is not None and len(corpus) % _PROGRESS_EVERY == 0:
            progress(len(corpus))
    if progress is not None and len(corpus) % _PROGRESS_EVERY:
        progress(len(corpus))
    n = len(corpus)
    if n == 0:
        return []
    n_terms = len(corpus.vocab.terms)
    marks.append((time.perf_counter(), time.process_time()))
    indptr, terms, vectors = _vectors(corpus)
    marks.append((time.perf_counter(), time.process_time()))
    epochs = np.frombuffer(corpus.epochs, dtype=np.float64)
    undated = np.isnan(epochs)
    order = np.lexsort((np.arange(n), np.where(undated, 0.0, epochs), undated))
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    labels = _leader(order, indptr, terms, vectors, float(threshold))
    marks.append((time.perf_counter(), time.process_time()))
    labels = _merge(
        labels, indptr, terms, vectors, n_terms, float(threshold), merge_threshold(float(threshold))
    )
    marks.append((time.perf_counter(), time.process_time()))

    current = np.ones(n, dtype=bool) if math.isnan(since_epoch) else ~(epochs < since_epoch)
    valid = labels >= 0
    n_labels = int(labels.max()) + 1 if valid.any() else 0
    if n_labels == 0:
        return []
    size_of = np.bincount(labels[valid & current], minlength=n_labels)
    kept = np.flatnonzero(size_of >= min_size)
    if not len(kept):
        return []
    groups = np.full(n_labels, -1, dtype=np.int64)
    groups[kept] = np.arange(len(kept))
    sums = _centroids(labels, groups, indptr, terms, vectors, n_terms)
    ptr, cols, vals = _top_rows(sums, max(SIGNATURE_TERMS, KEYWORDS))
    # each member's cosine to its group's normalised centroid (top SIGNATURE_TERMS)
    doc_group = np.where(valid, groups[np.maximum(labels, 0)], -1)
    members = np.flatnonzero(doc_group >= 0)
    sim = _member_similarity(members, doc_group[members], ptr, cols, vals, indptr, terms, vectors, n_terms)
    rank_order = np.lexsort((position[members], -sim, doc_group[members]))
    members, sim = members[rank_order], sim[rank_order]
    bounds = np.searchsorted(doc_group[members], np.arange(len(kept) + 1))

    shown, keys = corpus.vocab.terms, corpus.vocab.keys
    people_a = np.frombuffer(corpus.people, dtype=np.int64)
    regions_a = np.frombuffer(corpus.regions, dtype=np.int64)
    supports_a = np.frombuffer(corpus.supports, dtype=np.int64)
    topics: list[tuple[float, int, int, Topic]] = []
    for g in range(len(kept)):
        mem = members[bounds[g] : bounds[g + 1]]
        cur = mem[current[mem]]
        prev = len(mem) - len(cur)
        size = len(cur)
        people = len(np.unique(people_a[cur]))
        regions = len(np.unique(regions_a[cur][regions_a[cur] >= 0]))
        supports = int(supports_a[cur].sum())
        growth = (size - prev) / max(prev, 1)
        a, b = ptr[g], ptr[g + 1]
        top_terms = cols[a:b].tolist()
        sig_terms = [keys[t] for t in top_terms]
        sig_vals = vals[a:b].tolist()
        keywords = [shown[t] for t in top_terms[:KEYWORDS]]
        dated = mem[~undated[mem]]
        first_at = last_at = None
        if len(dated):
            first_at = corpus.whens[int(dated[np.argmin(epochs[dated])])]
            last_at = corpus.whens[int(dated[np.argmax(epochs[dated])])]
        rep = int(mem[0])
        h = heat(
            size=size, people=people, supports=supports, regions=regions, growth=growth, weights=heat_weights
        )
        topic = Topic(
            keywords=keywords,
            label="·".join(keywords[:3]),
            title=corpus.titles[rep],
            representative_id=corpus.ids[rep],
            doc_ids=[corpus.ids[i] for i in mem.tolist()],
            size=size,
            previous=prev,
            people=people,
            supports=supports,
            regions=regions,
            growth=growth,
            heat=h,
            first_at=first_at,
            last_at=last_at,
            signature={t: round(v, 6) for t, v in zip(sig_terms[:SIGNATURE_TERMS], sig_vals, strict=True)},
        )
        topics.append((-h, -size, int(position[rep]), topic))
    topics.sort(key=lambda item: item[:3])
    marks.append((time.perf_counter(), time.process_time()))
    if logger.isEnabledFor(logging.DEBUG):
        phases = ", ".join(
            f"{name} {b[0] - a[0]:.2f} s (CPU {b[1] - a[1]:.2f})"
            for name, a, b in zip(
                ("read", "vectors", "leader", "merge", "topics"), marks, marks[1:], strict=False
            )
        )
        logger.debug("mine_topics: %d documents, %d terms, %d topics; %s", n, n_terms, len(topics), phases)
    return [t for *_, t in topics]


def _member_similarity(
    members: np.ndarray,
    member_group: np.ndarray,
    ptr: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    indptr: np.ndarray,
    terms: np.ndarray,
    weights: np.ndarray,
    n_terms: int,
) -> np.ndarray:
    """The cosine of each member's vector with its group's normalised centroid."""
    if not len(members):
        return np.zeros(0)
    width = max(n_terms, 1)
    keys = np.repeat(np.arange(len(ptr) - 1, dtype=np.int64), np.diff(ptr)) * width + cols
    order = np.argsort(keys, kind="stable")
    keys, cvals = keys[order], vals[order]
    out = np.zeros(len(members))
    if not len(keys):
        return out
    step = 1 << 15  # members at a time: bounded working memory
    for start in range(0, len(members), step):
        block = members[start : start + step]
        lens = indptr[block + 1] - indptr[block]
        pos = np.repeat(indptr[block] - (np.cumsum(lens) - lens), lens) + np.arange(lens.sum())
        doc_keys = np.repeat(member_group[start : start + step], lens) * width + terms[pos]
        at = np.minimum(np.searchsorted(keys, doc_keys), len(keys) - 1)
        contrib = np.where(keys[at] == doc_keys, cvals[at], 0.0) * weights[pos]
        out[start : start + len(block)] = np.bincount(
            np.repeat(np.arange(len(block)), lens), weights=contrib, minlength=len(block)
        )
    return out


# --------------------------------------------------------------------------------------------- matching


def match_topics(
    new: Sequence[Topic],
    previous: Mapping[Hashable, tuple[Mapping[str, float], Collection[Hashable]]],
    *,
    threshold: float = 0.35,
) -> dict[int, Hashable]:
    """Pair new topics with previous ones: ``{index in new: previous id}``, one-to-one.

    Score = 0.3 × Jaccard(member ids) + 0.7 × cosine(signatures) (signatures are taken
    as given and normalised here). Pairs at or above ``threshold`` are taken best first
    (ties: lower new index, then the previous mapping's order); each topic is used once.
    """
    prev_items = list(previous.items())
    by_term: dict[str, list[tuple[int, float]]] = {}
    by_doc: dict[Hashable, list[int]] = {}
    prev_members: list[set] = []
    for p, (_, (signature, members)) in enumerate(prev_items):
        for term, weight in _unit(signature).items():
            by_term.setdefault(term, []).append((p, weight))
        member_set = _id_set(members)
        prev_members.append(member_set)
        for d in member_set:
            by_doc.setdefault(d, []).append(p)
    scored: list[tuple[float, int, int]] = []
    for k, topic in enumerate(new):
        cosine: dict[int, float] = {}
        for term, weight in _unit(getattr(topic, "signature", None) or {}).items():
            for p, w in by_term.get(term, ()):
                cosine[p] = cosine.get(p, 0.0) + weight * w
        mine = _id_set(getattr(topic, "doc_ids", None) or ())
        shared: dict[int, int] = {}
        for d in mine:
            for p in by_doc.get(d, ()):
                shared[p] = shared.get(p, 0) + 1
        for p in set(cosine) | set(shared):
            inter = shared.get(p, 0)
            union = len(mine) + len(prev_members[p]) - inter
            jaccard = inter / union if union else 0.0
            score = _MATCH_JACCARD * jaccard + (1.0 - _MATCH_JACCARD) * min(1.0, cosine.get(p, 0.0))
            if score >= threshold:
                scored.append((-score, k, p))
    scored.sort()
    out: dict[int, Hashable] = {}
    used: set[int] = set()
    for _, k, p in scored:
        if k in out or p in used:
            continue
        out[k] = prev_items[p][0]
        used.add(p)
    return dict(sorted(out.items()))


def _unit(signature: Any) -> dict[str, float]:
    try:
        items = [(str(t), float(w)) for t, w in dict(signature).items()]
    except (TypeError, ValueError):
        return {}
    items = [(t, w) for t, w in items if math.isfinite(w) and w > 0]
    norm = math.sqrt(sum(w * w for _, w in items))
    return {t: w / norm for t, w in items} if norm > 0 else {}


def _id_set(ids: Any) -> set:
    out = set()
    try:
        for d in ids:
            out.add(_key(d))
    except TypeError:
        return set()
    return out
