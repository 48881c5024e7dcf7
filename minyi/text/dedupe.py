"""Near-duplicate detection: ``DuplicateIndex`` (MinHash LSH) over a pluggable ``Storage``.

Text → shingles
    ``normalize`` (width, traditional → simplified, invisible characters), then every
    character that is not a letter or digit is dropped (punctuation, whitespace,
    emoji), and the rest is cut into overlapping character ``shingle``-grams (3 by
    default). Greetings and closing formulas that a repost adds change only a few
    shingles; swapped punctuation and re-wrapped lines change none.

Shingles → signature
    A MinHash signature of ``num_perm`` (128) unsigned 32-bit values, computed with
    NumPy: shingles are packed exactly from their code points, mixed with splitmix64,
    and hashed by ``num_perm`` multiply-shift functions drawn from ``seed``. The share of
    equal values between two signatures estimates the Jaccard similarity of their
    shingle sets (standard error about 0.04 at 128 values). That estimate is the
    ``similarity`` that ``query`` reports; shingles are not stored, so nothing is
    re-checked exactly (and no text is kept by the index).

Signature → buckets (LSH banding)
    The signature is cut into ``bands`` bands of ``rows`` values; each band hashes to a
    bucket key (a non-negative int below 2**63, so it fits a BIGINT). Two texts become
    candidates when any band matches: with 42 bands of 3 values, a pair at Jaccard 0.3
    is found with probability 0.68, at 0.45 with 0.98, at 0.55 with 0.9995. Candidates
    whose estimated similarity reaches ``threshold`` are returned.

Storage
    ``Storage`` is the protocol that keeps signatures and buckets: ``InMemoryStorage``
    here (for the CLI and tests); a Django app keeps them in database rows, so that all
    workers share one index. Signatures travel as bytes (``num_perm`` little-endian
    uint32). The index writes its settings into the storage (``meta``) on first use and
    refuses a storage written with other settings.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Hashable, Iterable, Sequence
from itertools import chain
from typing import Any, Protocol, runtime_checkable

import numpy as np

from minyi.text._hashing import S21, S32, mix

__all__ = [
    "DuplicateIndex",
    "InMemoryStorage",
    "SettingsMismatchError",
    "Storage",
    "shingle_text",
]

Id = Hashable

_U = np.uint64
_KEY_MASK = _U((1 << 56) - 1)
_LOW32 = _U(0xFFFFFFFF)
_EMPTY = _U(1 << 32)  # above every 32-bit value: marks an empty bin
_N_PROBES = 96
_RECENT_MIN = 1 << 20  # bucket memberships the recent run holds at least before joining the main one
_DIRECTORY_SHIFT = (
    44  # InMemoryStorage's directory: 8 bits of band and 12 of hash, ~24 keys a cell at 100,000 texts
)


_ALNUM_BMP: np.ndarray | None = None


def _letters_and_digits(cp: np.ndarray) -> np.ndarray:
    """Mask of the code points that ``str.isalnum`` accepts (what ``shingle_text`` keeps)."""
    global _ALNUM_BMP
    if _ALNUM_BMP is None:
        _ALNUM_BMP = np.fromiter((chr(c).isalnum() for c in range(0x10000)), dtype=bool, count=0x10000)
    if not len(cp) or cp.max() < 0x10000:  # the usual case: one lookup, no masking
        return _ALNUM_BMP[cp]
    mask = np.zeros(len(cp), dtype=bool)
    low = cp < 0x10000
    mask[low] = _ALNUM_BMP[cp[low]]
    if not low.all():
        high = np.flatnonzero(~low)
        mask[high] = [chr(c).isalnum() for c in cp[high].tolist()]
    return mask


def shingle_text(text: str, *, normalized: bool = False) -> str:
    """The text that is shingled: normalised, then only letters and digits."""
    if not text or text.isspace():
        return ""
    if not normalized:
        from minyi.text.normalize import normalize

        text = normalize(text)
    return "".join(c for c in text if c.isalnum())


class SettingsMismatchError(ValueError):
    """The storage holds an index built with other settings (shingle size, permutations, seed, bands)."""


@runtime_checkable
class Storage(Protocol):
    """Where a ``DuplicateIndex`` keeps its data; implement it to share one index between processes.

    Ids are whatever the caller uses (ints or strings; a database implementation will
    use its primary keys). Bucket keys are non-negative ints below 2**63.
    """

    def get_meta(self) -> dict[str, Any] | None:
        """The settings stored by ``set_meta``, or ``None`` for a new, empty storage."""

    def set_meta(self, meta: dict[str, Any]) -> None:
        """Store the index settings (a small JSON-able dict)."""

    def put(self, entries: Sequence[tuple[Id, bytes, Sequence[int]]]) -> None:
        """Add or replace entries ``(id, signature, bucket keys)``; replacing drops the id's old buckets."""

    def delete(self, ids: Sequence[Id]) -> int:
        """Remove these ids (signature and bucket memberships); returns how many existed."""

    def signatures(self, ids: Sequence[Id]) -> list[bytes | None]:
        """The signature of each id (``None`` for unknown ids), in order."""

    def candidates(self, key_lists: Sequence[Sequence[int]]) -> list[set[Id]]:
        """For each list of bucket keys, the ids that are members of any of those buckets."""

    def __len__(self) -> int:
        """The number of ids stored."""


class InMemoryStorage:
    """A ``Storage`` in this process's memory.

    Buckets live in two sorted NumPy arrays (bucket key, row) merged with a small dict of
    recent additions, so that millions of entries cost about 12 bytes per bucket
    membership. Removed ids leave tombstones that lookups skip.
    """

    def __init__(self) -> None:
        self._meta: dict[str, Any] | None = None
        self._row_of: dict[Id, int] = {}
        self._ids: list[Id | None] = []
        self._sigs: list[bytes | None] = []
        self._keys = np.zeros(0, dtype=np.int64)
        self._rows = np.zeros(0, dtype=np.int64)
        self._recent_keys = np.zeros(0, dtype=np.int64)  # a second, smaller sorted run (see _merge)
        self._recent_rows = np.zeros(0, dtype=np.int64)
        self._pending: dict[int, list[int]] = {}
        self._pending_size = 0
        self._directory: tuple[np.ndarray, int] | None = None  # see _left

    def get_meta(self) -> dict[str, Any] | None:
        return None if self._meta is None else dict(self._meta)

    def set_meta(self, meta: dict[str, Any]) -> None:
        self._meta = dict(meta)

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, id: object) -> bool:
        return id in self._row_of

    def put(self, entries: Sequence[tuple[Id, bytes, Sequence[int]]]) -> None:
        if not entries:
            return
        replaced = [e[0] for e in entries if e[0] in self._row_of]
        if replaced:
            self.delete(replaced)
        first = len(self._ids)
        new_keys = []
        new_rows = []
        for offset, (id, signature, keys) in enumerate(entries):
            row = first + offset
            if id in self._row_of:  # the same id twice in one batch: the last one wins
                old = self._row_of[id]
                self._ids[old] = None
                self._sigs[old] = None
            self._row_of[id] = row
            self._ids.append(id)
            self._sigs.append(bytes(signature))
            new_keys.append(np.asarray(keys, dtype=np.int64))
            new_rows.append(np.full(len(keys), row, dtype=np.int64))
        keys_arr = np.concatenate(new_keys)
        rows_arr = np.concatenate(new_rows)
        if len(entries) <= 16:
            pending = self._pending
            for k, r in zip(keys_arr.tolist(), rows_arr.tolist(), strict=True):
                bucket = pending.get(k)
                if bucket is None:
                    pending[k] = [r]
                else:
                    bucket.append(r)
            self._pending_size += len(keys_arr)
            if self._pending_size > max(200_000, len(self._keys) // 8):
                self._merge_pending()
        else:
            self._merge(keys_arr, rows_arr)

    def _merge_pending(self) -> None:
        if not self._pending:
            return
        keys = np.fromiter(
            (k for k, rows in self._pending.items() for _ in rows), dtype=np.int64, count=self._pending_size
        )
        rows = np.fromiter(
            (r for rows in self._pending.values() for r in rows), dtype=np.int64, count=self._pending_size
        )
        self._pending = {}
        self._pending_size = 0
        self._merge(keys, rows)

    def _merge(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Add sorted runs: into the recent run, which joins the main one when it outgrows an eighth of it.

        Inserting into one sorted array costs a copy of the whole array, so an index filled batch by batch (a
        bulk import) would cost time quadratic in its size; with the recent run in between, each key is copied
        a bounded number of times on average.
        """
        order = np.argsort(keys, kind="stable")
        keys, rows = keys[order], rows[order]
        if not len(self._keys):
            self._directory = None
            self._keys, self._rows = keys, rows
            return
        if len(self._recent_keys):
            at = np.searchsorted(self._recent_keys, keys, side="right")
            keys = np.insert(self._recent_keys, at, keys)
            rows = np.insert(self._recent_rows, at, rows)
        if len(keys) > max(_RECENT_MIN, len(self._keys) // 8):
            self._directory = None
            at = np.searchsorted(self._keys, keys, side="right")
            self._keys = np.insert(self._keys, at, keys)
            self._rows = np.insert(self._rows, at, rows)
            keys, rows = keys[:0], rows[:0]
        self._recent_keys, self._recent_rows = keys, rows

    def delete(self, ids: Sequence[Id]) -> int:
        gone = 0
        for id in ids:
            row = self._row_of.pop(id, None)
            if row is not None:
                self._ids[row] = None
                self._sigs[row] = None
                gone += 1
        return gone

    def signatures(self, ids: Sequence[Id]) -> list[bytes | None]:
        row_of = self._row_of
        sigs = self._sigs
        out: list[bytes | None] = []
        for id in ids:
            row = row_of.get(id)
            out.append(None if row is None else sigs[row])
        return out

    def _left(self, needles: np.ndarray) -> np.ndarray:
        """``np.searchsorted(self._keys, needles, side="left")``, with fewer cache misses.

        Bucket keys are hashes, so their top bits spread them evenly: a directory of where
        each value of the top bits starts (``_DIRECTORY_SHIFT``) narrows every search to a
        few dozen neighbouring keys, and a vectorised binary search finishes there. A plain
        binary search over millions of keys costs a cache miss at nearly every level.
        """
        keys = self._keys
        n_keys = len(keys)
        if not n_keys:
            return np.zeros(len(needles), dtype=np.int64)
        if self._directory is None:
            top = int(keys[-1]) >> _DIRECTORY_SHIFT if keys[-1] > 0 else 0
            bounds = np.arange(top + 2, dtype=np.int64) << np.int64(_DIRECTORY_SHIFT)
            cells = np.searchsorted(keys, bounds, side="left")
            self._directory = (cells, int(np.diff(cells).max()).bit_length())  # steps for the largest cell
        directory, steps = self._directory
        bins = np.clip(needles >> np.int64(_DIRECTORY_SHIFT), 0, len(directory) - 2)
        lo = directory[bins]
        hi = directory[bins + 1]
        last = n_keys - 1
        for _ in range(steps):
            mid = (lo + hi) >> 1
            below = keys[np.minimum(mid, last)] < needles
            searching = lo < hi
            lo = np.where(searching & below, mid + 1, lo)
            hi = np.where(searching & ~below, mid, hi)
        return lo

    def _run_lengths(self, lo: np.ndarray, needles: np.ndarray) -> np.ndarray:
        """How many stored keys equal ``needles[i]`` from ``lo[i]`` on (the left insertion points).

        Most buckets hold zero to a few rows, so the run is walked a few steps at a time;
        only long runs take a second binary search (which costs a cache miss per level).
        """
        keys = self._keys
        n_keys = len(keys)
        counts = np.zeros(len(needles), dtype=np.int64)
        active = np.arange(len(needles))
        for step in range(8):
            at = lo[active] + step
            inside = at < n_keys
            equal = np.zeros(len(active), dtype=bool)
            equal[inside] = keys[at[inside]] == needles[active[inside]]
            active = active[equal]
            if not len(active):
                return counts
            counts[active] = step + 1
        counts[active] = np.searchsorted(keys, needles[active], side="right") - lo[active]
        return counts

    def candidates(self, key_lists: Sequence[Sequence[int]]) -> list[set[Id]]:
        if not key_lists:
            return []
        lengths = [len(k) for k in key_lists]
        flat = None
        if len(set(lengths)) == 1:  # the usual case: one key per band for every text (C-level conversion)
            with contextlib.suppress(ValueError, TypeError, OverflowError):
                flat = np.asarray(key_lists, dtype=np.int64).reshape(-1)
        if flat is None:
            flat = np.fromiter((k for keys in key_lists for k in keys), dtype=np.int64, count=sum(lengths))
        owner = np.repeat(np.arange(len(key_lists)), lengths)
        lo = self._left(flat)
        counts = self._run_lengths(lo, flat)
        total = int(counts.sum())
        ids = self._ids
        out: list[set[Id]] = [set() for _ in key_lists]
        if total:
            hit = np.flatnonzero(counts)
            starts = np.repeat(lo[hit] - np.cumsum(counts[hit]) + counts[hit], counts[hit])
            positions = starts + np.arange(total)
            rows = self._rows[positions]
            owners = np.repeat(owner[hit], counts[hit])
            pairs = np.unique(owners * (len(ids) + 1) + rows)
            for q, r in zip(
                (pairs // (len(ids) + 1)).tolist(), (pairs % (len(ids) + 1)).tolist(), strict=True
            ):
                id = ids[r]
                if id is not None:
                    out[q].add(id)
        recent = self._recent_keys
        if len(recent):
            lo2 = np.searchsorted(recent, flat, side="left")
            n2 = np.searchsorted(recent, flat, side="right") - lo2
            hit = np.flatnonzero(n2)
            if len(hit):
                positions = np.repeat(lo2[hit] - np.cumsum(n2[hit]) + n2[hit], n2[hit]) + np.arange(
                    int(n2.sum())
                )
                for q, r in zip(
                    np.repeat(owner[hit], n2[hit]).tolist(),
                    self._recent_rows[positions].tolist(),
                    strict=True,
                ):
                    id = ids[r]
                    if id is not None:
                        out[q].add(id)
        if self._pending:
            pending = self._pending
            for q, keys in enumerate(key_lists):
                for k in keys:
                    rows_ = pending.get(k)
                    if rows_:
                        out[q].update(ids[r] for r in rows_ if ids[r] is not None)
        # rows of a replaced id are tombstones (None); a live id's old row is also dead
        return out


class DuplicateIndex:
    """MinHash LSH index of texts for near-duplicate (repost) detection.

    ``add(id, text)``, ``add_many(items)``, ``query(text) -> [(id, similarity)]``,
    ``query_many(texts)``, ``remove(id)``. Similarities are estimated Jaccard
    similarities of character-shingle sets, from 0 to 1; results are those at or
    above ``threshold``, best first (ties by id order of discovery). Empty or
    whitespace-only text is not indexed and matches nothing. Pass ``normalized=True``
    when the text has already been through ``normalize``.
    """

    def __init__(
        self,
        *,
        storage: Storage | None = None,
        threshold: float = 0.3,
        shingle: int = 3,
        num_perm: int = 128,
        bands: int = 42,
        seed: int = 1,
    ) -> None:
        if not 1 <= shingle <= 3:
            raise ValueError("shingle must be 1, 2 or 3 characters")
        if not 1 <= bands <= min(num_perm, 127):
            raise ValueError("bands must be between 1 and min(num_perm, 127)")
        self.storage: Storage = InMemoryStorage() if storage is None else storage
        self.threshold = float(threshold)
        self.shingle = int(shingle)
        self.num_perm = int(num_perm)
        self.bands = int(bands)
        self.rows = self.num_perm // self.bands
        self.seed = int(seed)
        rng = np.random.default_rng(self.seed)
        self._salt = rng.integers(0, 2**63, dtype=np.uint64) * _U(2) + _U(1)
        self._probes = rng.integers(0, self.num_perm, size=(self.num_perm, _N_PROBES), dtype=np.int64)
        self._band_mult = rng.integers(1, 2**63, size=self.rows, dtype=np.uint64) * _U(2) + _U(1)
        self._checked = False

    # -- settings ------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {
            "kind": "minyi-duplicate-index",
            "version": 1,
            "shingle": self.shingle,
            "num_perm": self.num_perm,
            "bands": self.bands,
            "seed": self.seed,
            "hash": "splitmix64-multiply-shift-v1",
        }

    def _check_storage(self) -> None:
        if self._checked:
            return
        meta = self.storage.get_meta()
        mine = self.settings()
        if meta is None:
            self.storage.set_meta(mine)
        elif meta != mine:
            raise SettingsMismatchError(
                f"the storage holds an index built with other settings: {json.dumps(meta, sort_keys=True)}; "
                f"this index uses {json.dumps(mine, sort_keys=True)}"
            )
        self._checked = True

    # -- signatures ------------------------------------------------------------------------

    def signatures(self, texts: Sequence[str], *, normalized: bool = False) -> np.ndarray:
        """MinHash signatures, shape (len(texts), num_perm), uint32; an all-ones row for empty text."""
        if not normalized:
            from minyi.text.normalize import normalize

            texts = [normalize(t) if t and not t.isspace() else "" for t in texts]
        n = len(texts)
        k = self.shingle
        out = np.full((n, self.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
        if not lengths.sum():
            return out
        cp = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
        char_doc = np.repeat(np.arange(n, dtype=np.int64), lengths)
        keep = _letters_and_digits(cp)
        cp = cp[keep].astype(np.uint64)
        char_doc = char_doc[keep]
        if not len(cp):
            return out
        # shingles start where the next k-1 characters belong to the same text; a text shorter
        # than k characters gets one shingle, padded with zeros
        cp_pad = np.concatenate([cp, np.zeros(k, dtype=np.uint64)])
        doc_pad = np.concatenate([char_doc, np.full(k, -1, dtype=np.int64)])
        m = len(cp)
        full = doc_pad[k - 1 : m + k - 1] == char_doc
        first = np.r_[True, char_doc[1:] != char_doc[:-1]]
        short = first & ~full & (np.bincount(char_doc, minlength=n)[char_doc] < k)
        # the shingle at every position from shifted slices (no gathers); the few of texts shorter
        # than k are redone with zeros after the text's end
        key = cp.copy()
        for j in range(1, k):
            key = (key << S21) | cp_pad[j : m + j]
        if short.any():
            at = np.flatnonzero(short)
            fixed = cp_pad[at]
            for j in range(1, k):
                following = np.where(doc_pad[at + j] == doc_pad[at], cp_pad[at + j], _U(0))
                fixed = (fixed << S21) | following
            key[at] = fixed
        chosen = full | short
        return self._minhash(key[chosen], char_doc[chosen], n)

    def _minhash(self, key: np.ndarray, doc_of: np.ndarray, n: int) -> np.ndarray:
        """One-permutation MinHash with optimal densification (Shrivastava, ICML 2017).

        Each shingle is hashed once; the high bits pick one of ``num_perm`` bins and the
        low 32 bits are its value; a bin keeps its smallest value. An empty bin borrows
        the value of the first non-empty bin along a probe sequence that depends only on
        the bin (the same for every text), which keeps Pr[equal] = Jaccard. Cost is linear
        in the number of shingles, instead of shingles x permutations.
        """
        k = self.num_perm
        h = mix(key ^ self._salt)
        bins = ((h >> S32) * _U(k)) >> S32  # fast range reduction of the high 32 bits
        flat = np.full(n * k, _EMPTY, dtype=np.uint64)
        np.minimum.at(flat, doc_of * k + bins.astype(np.int64), h & _LOW32)
        sig = flat.reshape(n, k)
        filled = sig != _EMPTY
        has_any = filled.any(axis=1)
        holes_doc, holes_bin = np.nonzero(~filled & has_any[:, None])
        if len(holes_doc):
            filled_flat = filled.ravel()
            sig_flat = flat
            hole_at = holes_doc * k + holes_bin
            row_base = holes_doc * k
            pending = np.arange(len(hole_at))
            for lo in range(0, _N_PROBES, 8):  # a few probes at a time: most holes fill on the first ones
                probes = self._probes[holes_bin[pending], lo : lo + 8] + row_base[pending, None]
                hit = filled_flat[probes]
                first = hit.argmax(axis=1)
                found = hit[np.arange(len(first)), first]
                sig_flat[hole_at[pending[found]]] = sig_flat[probes[found, first[found]]]
                pending = pending[~found]
                if not len(pending):
                    break
            for i in pending.tolist():
                # the probes missed (a text of very few shingles): take the next filled bin to the right
                d, b = int(holes_doc[i]), int(holes_bin[i])
                row = filled[d]
                step = next(j for j in range(1, k + 1) if row[(b + j) % k])
                sig[d, b] = sig[d, (b + step) % k]
        out = np.full((n, k), np.iinfo(np.uint32).max, dtype=np.uint32)
        out[has_any] = sig[has_any].astype(np.uint32)
        return out

    def _bucket_keys(self, sigs: np.ndarray) -> np.ndarray:
        """Bucket keys, shape (n, bands), int64 in [0, 2**63)."""
        used = sigs[:, : self.bands * self.rows].astype(np.uint64).reshape(len(sigs), self.bands, self.rows)
        h = (used * self._band_mult).sum(axis=2, dtype=np.uint64)
        h = mix(h + np.arange(self.bands, dtype=np.uint64)) & _KEY_MASK
        h |= np.arange(self.bands, dtype=np.uint64) << _U(56)
        return h.astype(np.int64)

    # -- writing -----------------------------------------------------------------------------

    def add(self, id: Id, text: str, *, normalized: bool = False) -> bool:
        """Index ``text`` under ``id`` (replacing what ``id`` had); ``False`` (nothing stored) for empty text."""
        return self.add_many([(id, text)], normalized=normalized) == 1

    def add_many(self, items: Iterable[tuple[Id, str]], *, normalized: bool = False) -> int:
        """Index many ``(id, text)`` pairs at once; returns how many were stored (empty texts are skipped)."""
        self._check_storage()
        items = list(items)
        if not items:
            return 0
        sigs = self.signatures([t for _, t in items], normalized=normalized)
        keys = self._bucket_keys(sigs)
        empty = self._empty_rows(sigs)
        entries = [
            (id, sigs[i].tobytes(), keys[i].tolist()) for i, (id, _) in enumerate(items) if not empty[i]
        ]
        skipped = [id for i, (id, _) in enumerate(items) if empty[i]]
        if skipped:
            self.storage.delete(skipped)  # an id re-added with empty text no longer matches anything
        self.storage.put(entries)
        return len(entries)

    def remove(self, id: Id) -> bool:
        """Forget ``id``; ``False`` if it was not indexed."""
        self._check_storage()
        return self.storage.delete([id]) > 0

    def __len__(self) -> int:
        return len(self.storage)

    # -- reading -----------------------------------------------------------------------------

    @staticmethod
    def _empty_rows(sigs: np.ndarray) -> np.ndarray:
        return np.all(sigs == np.iinfo(np.uint32).max, axis=1)

    def query(
        self, text: str, *, normalized: bool = False, exclude: Id | None = None
    ) -> list[tuple[Id, float]]:
        """Indexed texts similar to ``text``: ``[(id, similarity)]``, best first, at or above ``threshold``."""
        return self.query_many([text], normalized=normalized, exclude=[exclude])[0]

    def query_many(
        self,
        texts: Sequence[str],
        *,
        normalized: bool = False,
        exclude: Sequence[Id | None] | None = None,
    ) -> list[list[tuple[Id, float]]]:
        """``query`` for many texts at once (``exclude[i]``, if given, is left out of result ``i``)."""
        self._check_storage()
        texts = list(texts)
        if not texts:
            return []
        sigs = self.signatures(texts, normalized=normalized)
        empty = self._empty_rows(sigs)
        keys = self._bucket_keys(sigs)
        live = np.flatnonzero(~empty)
        results: list[list[tuple[Id, float]]] = [[] for _ in texts]
        if not len(live) or not len(self.storage):
            return results
        found = self.storage.candidates([keys[i].tolist() for i in live])
        if exclude is not None:
            for q, candidates in zip(live.tolist(), found, strict=True):
                if exclude[q] is not None:
                    candidates.discard(exclude[q])
        ids = list(set().union(*found))
        if not ids:
            return results
        stored = self.storage.signatures(ids)
        known = [(i, s) for i, s in zip(ids, stored, strict=True) if s is not None]
        if not known:
            return results
        row_of = {id: r for r, (id, _) in enumerate(known)}
        matrix = np.frombuffer(b"".join(s for _, s in known), dtype=np.uint32)
        if len(matrix) != len(known) * self.num_perm:
            raise SettingsMismatchError(f"stored signatures are not {self.num_perm} uint32 values each")
        matrix = matrix.reshape(len(known), self.num_perm)
        # every (query, candidate) pair at once, candidates in their set's order (ties keep it)
        pair_rows = [[row_of[c] for c in candidates if c in row_of] for candidates in found]
        counts = np.fromiter(map(len, pair_rows), dtype=np.int64, count=len(pair_rows))
        if not counts.sum():
            return results
        rows = np.fromiter(chain.from_iterable(pair_rows), dtype=np.int64, count=int(counts.sum()))
        query = np.repeat(live, counts)
        equal = np.count_nonzero(matrix[rows] == sigs[query], axis=1)
        similarity = equal / self.num_perm
        keep = np.flatnonzero(similarity >= self.threshold)
        if not len(keep):
            return results
        # best first within each query; np.lexsort is stable, so equal scores keep the set's order
        keep = keep[np.lexsort((-similarity[keep], query[keep]))]
        for q, r, sim in zip(
            query[keep].tolist(), rows[keep].tolist(), similarity[keep].tolist(), strict=True
        ):
            results[q].append((known[r][0], sim))
        return results
