"""Text classifier for appeals: ``Classifier`` (scikit-learn conventions) and its model file.

Features
    Every document becomes a list of words: raw text goes through ``normalize`` and
    ``segment``; a document that is already a list of tokens (data sets that only keep
    jieba tokens) is used as given. Stop words (``stopwords()``, stored in the model) and
    tokens without a letter or digit are dropped from both, so that raw text and
    pre-segmented rows with their stop words removed look alike. The remaining words
    give word unigrams and bigrams (a bigram spans a dropped stop word) and character
    n-grams (1–2 by default) over the kept words written one after the other, so that a
    2-gram also spans two neighbouring words (``char_span="text"``; ``"word"`` keeps them
    inside words), which makes the classifier less sensitive to how the text was segmented.
    Stop words and tokens without a letter or digit are dropped vectorised over the batch
    (a token is a stop word when its 64-bit word hash is one's). Features are hashed (splitmix64 over the
    code points, our own function, so the model does not depend on Python's or
    scikit-learn's hashing) into ``2**hash_bits`` slots per block; only the slots seen in
    at least ``min_df`` training documents are kept. Weights are sublinear TF-IDF, and the
    word and character blocks are each L2-normalised.

Model
    A linear SVM (``LinearSVC``, balanced class weights). Probabilities are a softmax over
    its decision scores with one fitted scale (temperature scaling, fitted on out-of-fold
    scores), so ``predict_proba`` is calibrated and costs nothing extra.

Abstaining
    ``predict`` returns ``None`` (``ABSTAIN``) where the top probability is below
    ``threshold``, and for empty text. ``predict_with_confidence`` returns a
    ``Prediction(label, confidence, abstained, best)`` per document.

Model file
    ``save`` writes one ``.npz`` file (a zip of NumPy arrays, no pickles) with a JSON
    header that carries the format name and version, the labels, the feature settings
    and the stop words. ``load`` reads it with ``allow_pickle=False``, checks every
    array, and raises ``ModelFileError`` for anything it does not recognise.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, compress
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from minyi.text._hashing import S21, S32, mix
from minyi.text.atomic import publish
from minyi.text.dedupe import _letters_and_digits

__all__ = [
    "ABSTAIN",
    "FORMAT",
    "FORMAT_VERSION",
    "Classifier",
    "ModelFileError",
    "Prediction",
    "pretokenized",
]

FORMAT = "minyi-classifier"
FORMAT_VERSION = 2
HASH_NAME = "splitmix64-cp-v1"

#: What ``predict`` returns for a document it abstains on.
ABSTAIN = None

Document = str | Sequence[str]


class ModelFileError(ValueError):
    """A model file that is missing, corrupted, of another format or of an unknown version."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """One classified document.

    ``label`` is ``None`` when the classifier abstains; ``best`` is then the label it
    would have given (``None`` for empty text). ``confidence`` is the probability of
    ``best``.
    """

    label: str | None
    confidence: float
    abstained: bool
    best: str | None


# --- feature hashing ---------------------------------------------------------------

_U = np.uint64
_SALT_CHAR_IN_WORD = _U(0x9E3779B97F4A7C15)
_SALT_BIGRAM = _U(0xD1B54A32D192ED03)
_SALT_NGRAM = tuple(_U(x) for x in (0, 0x8CB92BA72F3D8DD7, 0xABC98388FB8FAC03, 0x7FB5D329728EA185))


_WORD_CHAR = re.compile(r"[^\W_]").search


def pretokenized(text: str) -> list[str]:
    """Tokens of a pre-segmented text (tokens separated by whitespace), each normalised.

    ``normalize`` would join CJK tokens separated by spaces, so the tokens are put on
    lines of their own first.
    """
    from minyi.text.normalize import normalize

    if not text or text.isspace():
        return []
    joined = normalize("\n".join(text.split()))
    return [t for t in joined.split("\n") if t and not t.isspace()]


class _Featurizer:
    """Turns token lists into hashed feature coordinates (document index, slot)."""

    def __init__(
        self,
        *,
        stop_words: frozenset[str],
        hash_bits: int,
        word_ngrams: int,
        char_ngrams: tuple[int, int],
        char_span: str = "word",
    ):
        self.stop_words = stop_words
        self.hash_bits = hash_bits
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.char_span = char_span
        self._verdict: dict[str, bool] = {}
        self._stops: tuple[np.ndarray, int] | None = None
        self._stops_built = False
        self._shift = _U(64 - hash_bits)
        self._char_offset = 1 << hash_bits

    @property
    def n_slots(self) -> int:
        return 2 << self.hash_bits

    def kept(self, tokens: Iterable[str]) -> list[str]:
        """The tokens that make features: not stop words, with at least one letter or digit."""
        words = tokens if type(tokens) is list else list(tokens)
        verdict = self._verdict
        flags = list(map(verdict.get, words))  # C-level loops: this runs for every token
        if None in flags:
            if len(verdict) > 1_000_000:  # bound the memo in long-running processes
                verdict.clear()
            stop = self.stop_words
            for t in set(words).difference(verdict):
                if type(t) is not str:
                    return self.kept([str(w) for w in words])
                verdict[t] = t not in stop and _WORD_CHAR(t) is not None
            flags = list(map(verdict.get, words))
        return list(compress(words, flags))

    def _stop_table(self) -> tuple[np.ndarray, int] | None:
        """An open hash table of the stop words' word hashes: (table of shape (2**bits, ways), shift);
        ``None`` without stop words."""
        if not self._stops_built:
            words = sorted({w for w in self.stop_words if w})
            hashes = _word_hashes(words) if words else np.zeros(0, dtype=np.uint64)
            # the smallest table in which no two stop words share a cell (one compare per token),
            # or, for very many stop words, the one with the fewest words in a cell
            best = None
            smallest = max(8, len(hashes).bit_length() + 4)
            for bits in range(smallest, smallest + 10):
                slot = (hashes >> _U(64 - bits)).astype(np.int64)
                ways = int(np.bincount(slot, minlength=1).max()) if len(slot) else 1
                if best is None or ways < best[0]:
                    best = (ways, bits)
                if ways == 1:
                    break
            ways, bits = best
            shift = 64 - bits
            slot = (hashes >> _U(shift)).astype(np.int64)
            table = np.zeros((1 << bits, max(1, ways)), dtype=np.uint64)  # 0: empty (no word hashes to 0)
            fill = np.zeros(1 << bits, dtype=np.int64)
            for h, s in zip(hashes.tolist(), slot.tolist(), strict=True):
                table[s, fill[s]] = h
                fill[s] += 1
            self._stops = (table, shift) if len(hashes) else None
            self._stops_built = True
        return self._stops

    def coordinates(self, docs: Sequence[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features of ``docs`` (lists of tokens): (document index, slot) of every occurrence, and
        the number of kept words of each document.

        Stop words and tokens without a letter or digit are dropped here, vectorised, as ``kept``
        drops them (a token is taken for a stop word when its 64-bit word hash is one's).
        """
        try:  # tokens joined by NUL: C-level joins give the characters and the token bounds
            joined = "\0".join(map("\0".join, docs))
        except TypeError:  # a token that is not a string: its str() is the token
            docs = [[str(t) for t in d] for d in docs]
            joined = "\0".join(map("\0".join, docs))
        n_docs = len(docs)
        # an empty document still makes one (empty) piece of the joined text
        n_tokens = np.maximum(np.fromiter(map(len, docs), dtype=np.int64, count=n_docs), 1)
        total = int(n_tokens.sum())
        if joined.count("\0") == total - 1:  # no token holds a NUL itself
            cp32 = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
            separator = cp32 == 0
            bounds = np.flatnonzero(separator)
            lengths = np.diff(bounds, prepend=-1, append=len(cp32)) - 1
            cp32 = cp32[~separator]
        else:
            n_tokens = np.fromiter(map(len, docs), dtype=np.int64, count=n_docs)
            lengths = np.fromiter(
                map(len, chain.from_iterable(docs)), dtype=np.int64, count=int(n_tokens.sum())
            )
            cp32 = np.frombuffer("".join(map("".join, docs)).encode("utf-32-le"), dtype=np.uint32)
        empty = np.zeros(0, dtype=np.int64)
        n_kept = np.zeros(n_docs, dtype=np.int64)
        if not lengths.any():
            return empty, empty, n_kept
        token_doc = np.repeat(np.arange(n_docs, dtype=np.int64), n_tokens)
        if not lengths.all():  # empty tokens make no features
            token_doc = token_doc[lengths > 0]
            lengths = lengths[lengths > 0]
        ends = np.cumsum(lengths)
        starts = ends - lengths
        word = _word_hashes_of(cp32.astype(np.uint64), lengths, starts)
        keep = np.add.reduceat(_letters_and_digits(cp32), starts) > 0
        stops = self._stop_table()
        if stops is not None:
            table, shift = stops
            cell = (word >> _U(shift)).astype(np.int64)
            if table.shape[1] == 1:
                keep &= table[cell, 0] != word
            else:
                keep &= ~(table[cell] == word[:, None]).any(axis=1)
        if not keep.any():
            return empty, empty, n_kept
        n_kept = np.bincount(token_doc[keep], minlength=n_docs)
        if not keep.all():
            char_keep = np.repeat(keep, lengths)
            cp32 = cp32[char_keep]
            token_doc, lengths, word = token_doc[keep], lengths[keep], word[keep]
            ends = np.cumsum(lengths)
            starts = ends - lengths
        cp = cp32.astype(np.uint64)
        n_chars = len(cp)
        char_token = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        char_doc = token_doc[char_token]
        shift = self._shift
        rows = [token_doc]
        cols = [(word >> shift).astype(np.int64)]
        if self.word_ngrams >= 2 and len(word) > 1:
            same = token_doc[1:] == token_doc[:-1]
            bigram = mix(word[:-1] * _U(0x100000001B3) + word[1:] + _SALT_BIGRAM)
            rows.append(token_doc[1:][same])
            cols.append((bigram >> shift).astype(np.int64)[same])
        low, high = self.char_ngrams
        offset = self._char_offset
        owner = char_doc if self.char_span == "text" else char_token  # n-grams may not cross its bounds
        for n in range(max(1, low), min(3, high) + 1):
            if n_chars < n:
                continue
            m = n_chars - n + 1
            key = cp[:m].copy()
            for j in range(1, n):
                key = (key << S21) | cp[j : m + j]
            inside = owner[:m] == owner[n - 1 :]
            rows.append(char_doc[:m][inside])
            cols.append((mix(key ^ _SALT_NGRAM[n]) >> shift).astype(np.int64)[inside] + offset)
        return np.concatenate(rows), np.concatenate(cols), n_kept


def _word_hashes_of(cp: np.ndarray, lengths: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """A word's hash: the sum of hashed (code point, position in word) pairs, mixed (non-empty words)."""
    char_token = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    pos = np.arange(len(cp), dtype=np.int64) - starts[char_token]
    return mix(np.add.reduceat(mix((cp << S32) + pos.astype(np.uint64) + _SALT_CHAR_IN_WORD), starts))


def _word_hashes(words: Sequence[str]) -> np.ndarray:
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    cp = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    ends = np.cumsum(lengths)
    return _word_hashes_of(cp, lengths, ends - lengths)


# --- the estimator -----------------------------------------------------------------


def _softmax(scores: np.ndarray) -> np.ndarray:
    z = scores - scores.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _fit_scale(scores: np.ndarray, y_index: np.ndarray) -> float:
    """The factor s that minimises the log loss of softmax(s * scores) (temperature scaling)."""
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(y_index))

    def loss(log_s: float) -> float:
        z = scores * math.exp(log_s)
        z = z - z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(log_norm - z[rows, y_index]))

    result = minimize_scalar(loss, bounds=(math.log(0.01), math.log(1000.0)), method="bounded")
    return float(math.exp(result.x))


class Classifier(ClassifierMixin, BaseEstimator):
    """Linear text classifier with calibrated probabilities and abstention.

    ``X`` is a sequence of documents; each is raw text (``str``) or a list of tokens
    (pre-segmented data; see ``pretokenized``). ``y`` are labels (strings).

    Parameters (stored as given; see the module docstring for what they do):
    ``threshold`` (abstain when the top probability is lower), ``C`` and
    ``class_weight`` (of the linear SVM), ``word_ngrams`` (1 or 2), ``char_ngrams``
    (``(min, max)`` within 1..3, or ``None``), ``char_span`` (``"text"`` or ``"word"``),
    ``min_df``, ``sublinear_tf``,
    ``hash_bits``, ``calibration_folds`` (0 or 1: no calibration, scale 1),
    ``max_iter``, ``random_state``, ``segmenter`` (a callable ``str -> list[str]``;
    ``None``: minyi's ``segment``; not saved with the model) and ``stop_words``
    (``None``: minyi's ``stopwords()``; saved with the model).
    """

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        C: float = 0.5,
        class_weight: str | dict[str, float] | None = "balanced",
        word_ngrams: int = 2,
        char_ngrams: tuple[int, int] | None = (1, 2),
        char_span: str = "text",
        min_df: int = 2,
        sublinear_tf: bool = True,
        hash_bits: int = 20,
        calibration_folds: int = 3,
        max_iter: int = 2000,
        random_state: int | None = 0,
        segmenter: Callable[[str], list[str]] | None = None,
        stop_words: Iterable[str] | None = None,
    ) -> None:
        self.threshold = threshold
        self.C = C
        self.class_weight = class_weight
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.char_span = char_span
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.hash_bits = hash_bits
        self.calibration_folds = calibration_folds
        self.max_iter = max_iter
        self.random_state = random_state
        self.segmenter = segmenter
        self.stop_words = stop_words

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.non_deterministic = False
        return tags

    # -- documents ------------------------------------------------------------------

    def _make_featurizer(self, stop_words: frozenset[str]) -> _Featurizer:
        if self.word_ngrams not in (1, 2):
            raise ValueError(f"word_ngrams must be 1 or 2, not {self.word_ngrams!r}")
        if self.char_ngrams is None:
            char = (0, -1)
        else:
            low, high = (int(v) for v in self.char_ngrams)
            if not 1 <= low <= high <= 3:
                raise ValueError(f"char_ngrams must be (min, max) within 1..3, not {self.char_ngrams!r}")
            char = (low, high)
        if self.char_span not in ("word", "text"):
            raise ValueError(f"char_span must be 'word' or 'text', not {self.char_span!r}")
        if not 8 <= int(self.hash_bits) <= 26:
            raise ValueError(f"hash_bits must be within 8..26, not {self.hash_bits!r}")
        return _Featurizer(
            stop_words=stop_words,
            hash_bits=int(self.hash_bits),
            word_ngrams=int(self.word_ngrams),
            char_ngrams=char,
            char_span=self.char_span,
        )

    def _segment_fn(self) -> Callable[[str], list[str]]:
        if self.segmenter is not None:
            return self.segmenter
        from minyi.text.segment import segment

        return segment

    def _documents(self, X: Iterable[Document], featurizer: _Featurizer) -> list[list[str]]:
        from minyi.text.normalize import normalize

        if isinstance(X, str):
            raise TypeError("X must be a sequence of documents, not a single string")
        cut = self._segment_fn()
        docs = []
        for doc in X:
            if isinstance(doc, str):
                tokens = cut(normalize(doc)) if doc and not doc.isspace() else []
            elif doc is None:
                tokens = []
            elif isinstance(doc, Sequence | np.ndarray):
                tokens = doc.tolist() if isinstance(doc, np.ndarray) else doc
            else:
                raise TypeError(f"a document must be a string or a list of tokens, not {type(doc).__name__}")
            docs.append(tokens if type(tokens) is list else list(tokens))
        return docs

    # -- fitted transform --------------------------------------------------------------

    def _matrix(self, docs: Sequence[list[str]]) -> tuple[sp.csr_matrix, np.ndarray]:
        """Sublinear TF-IDF in the fitted feature space, each block L2-normalised, and the
        number of kept words of each document."""
        rows, slots, n_kept = self._featurizer_.coordinates(docs)
        return self._tfidf(rows, slots, len(docs)), n_kept

    def _tfidf(self, rows: np.ndarray, slots: np.ndarray, n_docs: int) -> sp.csr_matrix:
        n_features = len(self.idf_)
        cols = self._slot_table_[slots] if len(slots) else slots
        ok = cols >= 0
        key = rows[ok] * n_features + cols[ok].astype(np.int64)
        key.sort()  # the distinct keys and their counts (np.unique without its overhead)
        if len(key):
            first = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
            counts = np.diff(first, append=len(key))
            key = key[first]
        else:
            counts = key
        rows = key // n_features
        cols = key - rows * n_features
        data = counts.astype(np.float64)
        if self.sublinear_tf:
            data = 1.0 + np.log(data)
        data *= self.idf_[cols]
        char_block = cols >= self.n_word_features_
        squares = data * data
        word_norm = np.sqrt(np.bincount(rows[~char_block], squares[~char_block], minlength=n_docs))
        char_norm = np.sqrt(np.bincount(rows[char_block], squares[char_block], minlength=n_docs))
        norm = np.where(char_block, char_norm[rows], word_norm[rows])
        data /= np.where(norm > 0, norm, 1.0)
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_docs), out=indptr[1:])
        return sp.csr_matrix((data, cols, indptr), shape=(n_docs, n_features))

    # -- fit ----------------------------------------------------------------------------

    def fit(self, X: Sequence[Document], y: Sequence[Any]) -> Classifier:
        """Learn from documents ``X`` and labels ``y``; returns ``self``."""
        from sklearn.svm import LinearSVC

        if self.stop_words is None:
            from minyi.text.segment import stopwords

            stop = frozenset(stopwords())
        else:
            stop = frozenset(str(w) for w in self.stop_words)
        featurizer = self._make_featurizer(stop)
        docs = self._documents(X, featurizer)
        labels = np.asarray([str(v) for v in y], dtype=object)
        if len(docs) != len(labels):
            raise ValueError(f"X has {len(docs)} documents but y has {len(labels)} labels")
        rows, slots, n_kept = featurizer.coordinates(docs)
        has_words = n_kept > 0
        if not has_words.any():
            raise ValueError("no document has any words to learn from")
        if not has_words.all():  # documents without words are left out
            rows = (np.cumsum(has_words) - 1)[rows]
        labels = labels[has_words]
        classes, y_index = np.unique(labels, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"need at least two labels to learn from, got {len(classes)}")

        # feature space: the hashed slots that occur in at least min_df documents
        pairs = np.unique(rows * featurizer.n_slots + slots)
        df = np.bincount(pairs % featurizer.n_slots, minlength=featurizer.n_slots)
        min_df = max(1, int(self.min_df))
        keep = np.flatnonzero(df >= min_df)
        if not len(keep):
            keep = np.flatnonzero(df >= 1)
        n_docs = len(labels)
        self._featurizer_ = featurizer
        self.stop_words_ = tuple(sorted(stop))
        self.feature_slots_ = keep.astype(np.int64)
        self.n_word_features_ = int(np.searchsorted(keep, 1 << featurizer.hash_bits))
        self.idf_ = (np.log((1.0 + n_docs) / (1.0 + df[keep])) + 1.0).astype(np.float64)
        self._build_slot_table()
        Xm = self._tfidf(rows, slots, n_docs)

        def svm() -> LinearSVC:
            return LinearSVC(
                C=self.C,
                class_weight=self.class_weight,
                max_iter=self.max_iter,
                random_state=self.random_state,
            )

        model = svm().fit(Xm, y_index)
        coef, intercept = self._as_multiclass(model, len(classes))
        scale = 1.0
        folds = int(self.calibration_folds or 0)
        if folds >= 2 and np.bincount(y_index).min() >= folds:
            from sklearn.model_selection import StratifiedKFold

            out_of_fold = np.zeros((n_docs, len(classes)))
            split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
            for train, test in split.split(np.zeros(n_docs), y_index):
                fold_model = svm().fit(Xm[train], y_index[train])
                fold_coef, fold_intercept = self._as_multiclass(fold_model, len(classes))
                out_of_fold[test] = Xm[test] @ fold_coef.T + fold_intercept
            scale = _fit_scale(out_of_fold, y_index)
        self.classes_ = classes
        self.coef_ = coef.astype(np.float32)
        self.intercept_ = intercept.astype(np.float32)
        self.scale_ = scale
        self.n_training_documents_ = n_docs
        self._coef_t = np.ascontiguousarray(self.coef_.T, dtype=np.float64)
        return self

    @staticmethod
    def _as_multiclass(model: Any, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
        coef = np.asarray(model.coef_, dtype=np.float64)
        intercept = np.asarray(model.intercept_, dtype=np.float64)
        if n_classes == 2 and coef.shape[0] == 1:  # binary SVM: score of class 0 is 0
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        return coef, intercept

    def _build_slot_table(self) -> None:
        # int32 (at most 2**27 slots): half the memory that the per-feature lookups walk
        table = np.full(self._featurizer_.n_slots, -1, dtype=np.int32)
        table[self.feature_slots_] = np.arange(len(self.feature_slots_), dtype=np.int32)
        self._slot_table_ = table

    # -- predict -------------------------------------------------------------------------

    def _prepared(self, X: Iterable[Document]) -> list[list[str]]:
        check_is_fitted(self, "coef_")
        return self._documents(X, self._featurizer_)

    def _scores(self, docs: Sequence[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """SVM scores and the number of kept words of each document."""
        Xm, n_kept = self._matrix(docs)
        return np.asarray(Xm @ self._coef_t) + self.intercept_, n_kept

    def decision_function(self, X: Sequence[Document]) -> np.ndarray:
        """Raw SVM scores, shape (n_documents, n_classes)."""
        return self._scores(self._prepared(X))[0]

    def _proba(self, docs: Sequence[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and, per document, whether it has any word to go on."""
        scores, n_kept = self._scores(docs)
        proba = _softmax(scores * self.scale_)
        has_words = n_kept > 0
        proba[~has_words] = 1.0 / len(self.classes_)  # nothing to go on: every label equally likely
        return proba, has_words

    def predict_proba(self, X: Sequence[Document]) -> np.ndarray:
        """Calibrated probabilities, shape (n_documents, n_classes), columns in ``classes_`` order."""
        return self._proba(self._prepared(X))[0]

    def predict_with_confidence(self, X: Sequence[Document]) -> list[Prediction]:
        """A ``Prediction`` per document: label (``None`` when abstaining), confidence, abstained, best."""
        docs = self._prepared(X)
        if not docs:
            return []
        proba, has_words = self._proba(docs)
        best = proba.argmax(axis=1)
        confidence = proba[np.arange(len(docs)), best]
        out = []
        for d, b, c in zip(has_words.tolist(), best.tolist(), confidence.tolist(), strict=True):
            if not d:
                out.append(Prediction(None, c, True, None))
                continue
            label = str(self.classes_[b])
            abstained = c < self.threshold
            out.append(Prediction(None if abstained else label, c, abstained, label))
        return out

    def predict(self, X: Sequence[Document]) -> np.ndarray:
        """Labels (object array); ``ABSTAIN`` (``None``) where the classifier is unsure or the text is empty."""
        return np.array([p.label for p in self.predict_with_confidence(X)], dtype=object)

    def top_k(self, X: Sequence[Document], k: int = 3) -> list[list[tuple[str, float]]]:
        """The ``k`` most likely labels of each document with their probabilities, best first."""
        docs = self._prepared(X)
        if not docs:
            return []
        proba, has_words = self._proba(docs)
        k = max(0, min(int(k), len(self.classes_)))
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        return [
            [(str(self.classes_[j]), float(proba[i, j])) for j in row] if has_words[i] else []
            for i, row in enumerate(order.tolist())
        ]

    # -- persistence ------------------------------------------------------------------------

    def _header(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "labels": [str(c) for c in self.classes_],
            "params": {
                "threshold": float(self.threshold),
                "C": float(self.C),
                "class_weight": self.class_weight,
                "word_ngrams": int(self.word_ngrams),
                "char_ngrams": list(self.char_ngrams) if self.char_ngrams is not None else None,
                "char_span": self.char_span,
                "min_df": int(self.min_df),
                "sublinear_tf": bool(self.sublinear_tf),
                "hash_bits": int(self.hash_bits),
                "calibration_folds": int(self.calibration_folds or 0),
                "max_iter": int(self.max_iter),
                "random_state": self.random_state,
            },
            "features": {
                "hash": HASH_NAME,
                "n_word_features": int(self.n_word_features_),
                "n_features": len(self.idf_),
                "segmenter": "minyi.text.segment" if self.segmenter is None else repr(self.segmenter),
            },
            "stop_words": list(self.stop_words_),
            "scale": float(self.scale_),
            "n_training_documents": int(self.n_training_documents_),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted model to one ``.npz`` file (atomically: a failed write leaves no partial file)."""
        check_is_fitted(self, "coef_")
        header = json.dumps(self._header(), ensure_ascii=False).encode("utf-8")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez_compressed(
                    handle,
                    header=np.frombuffer(header, dtype=np.uint8),
                    feature_slots=self.feature_slots_.astype(np.int64),
                    idf=self.idf_.astype(np.float32),
                    coef=self.coef_.astype(np.float32),
                    intercept=self.intercept_.astype(np.float32),
                )
            publish(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, segmenter: Callable[[str], list[str]] | None = None
    ) -> Classifier:
        """Read a model written by ``save``; ``ModelFileError`` if it is not one (or of another version)."""
        name = os.fspath(path)
        try:
            with open(name, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            raise ModelFileError(f"{name}: cannot read the model file ({exc.strerror or exc})") from exc
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
            raise ModelFileError(
                f"{name}: not a minyi classifier model (not a readable .npz file: {exc})"
            ) from exc
        try:
            return cls._from_arrays(arrays, segmenter=segmenter)
        except ModelFileError as exc:
            raise ModelFileError(f"{name}: {exc}") from exc

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], *, segmenter: Any) -> Classifier:
        if "header" not in arrays:
            raise ModelFileError("not a minyi classifier model (no header)")
        try:
            header = json.loads(arrays["header"].astype(np.uint8).tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"the model header is not valid JSON ({exc})") from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ModelFileError("not a minyi classifier model (wrong format name)")
        if header.get("version") != FORMAT_VERSION:
            raise ModelFileError(
                f"model file version {header.get('version')!r} is not supported (this minyi reads version {FORMAT_VERSION}); "
                "retrain with `minyi train-classifier`"
            )
        try:
            params = dict(header["params"])
            features = header["features"]
            labels = [str(v) for v in header["labels"]]
            stop_words = [str(v) for v in header["stop_words"]]
            scale = float(header["scale"])
            n_word = int(features["n_word_features"])
            if features["hash"] != HASH_NAME:
                raise ModelFileError(f"unknown feature hashing {features['hash']!r}")
            if params.get("char_ngrams") is not None:
                params["char_ngrams"] = tuple(params["char_ngrams"])
            model = cls(**params, segmenter=segmenter, stop_words=stop_words)
            featurizer = model._make_featurizer(frozenset(stop_words))
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"the model header is incomplete or invalid ({exc!r})") from exc
        for key in ("feature_slots", "idf", "coef", "intercept"):
            if key not in arrays:
                raise ModelFileError(f"the model file lacks the array {key!r}")
        slots, idf, coef, intercept = (arrays[k] for k in ("feature_slots", "idf", "coef", "intercept"))
        n_features = len(idf)
        n_classes = len(labels)
        problems = []
        if n_classes < 2 or len(set(labels)) != n_classes:
            problems.append("labels")
        slots_ok = slots.dtype.kind in "iu" and slots.ndim == 1 and len(slots) == n_features
        if slots_ok and n_features:
            ordered = np.all(np.diff(slots.astype(np.int64)) > 0)
            slots_ok = bool(ordered and slots.min() >= 0 and slots.max() < featurizer.n_slots)
        if not slots_ok:
            problems.append("feature_slots")
        if idf.dtype.kind != "f" or idf.ndim != 1 or not np.all(np.isfinite(idf)):
            problems.append("idf")
        if coef.dtype.kind != "f" or coef.shape != (n_classes, n_features) or not np.all(np.isfinite(coef)):
            problems.append("coef")
        if (
            intercept.dtype.kind != "f"
            or intercept.shape != (n_classes,)
            or not np.all(np.isfinite(intercept))
        ):
            problems.append("intercept")
        if not (0 <= n_word <= n_features) or not math.isfinite(scale) or scale <= 0:
            problems.append("header numbers")
        if problems:
            raise ModelFileError(f"the model file is inconsistent ({', '.join(problems)})")
        model._featurizer_ = featurizer
        model.stop_words_ = tuple(stop_words)
        model.feature_slots_ = slots.astype(np.int64)
        model.n_word_features_ = n_word
        model.idf_ = idf.astype(np.float64)
        model.classes_ = np.asarray(labels, dtype=object)
        model.coef_ = coef.astype(np.float32)
        model.intercept_ = intercept.astype(np.float32)
        model.scale_ = scale
        model.n_training_documents_ = int(header.get("n_training_documents", 0))
        model._coef_t = np.ascontiguousarray(model.coef_.T, dtype=np.float64)
        model._build_slot_table()
        return model
