"""Word segmentation: ``segment``, ``segment_many``, ``Segmenter`` and ``stopwords``.

The segmenter is rjieba (jieba in Rust) with minyi's domain dictionary
(``minyi/text/data/domain_dict.txt``: hotline, housing, labour, agency vocabulary) on
top of jieba's own dictionary.

rjieba cannot load a user dictionary file (its ``Jieba()`` takes no path), so user
dictionaries are read here and their words are added with ``Jieba.add_word``, which is
what jieba's ``load_userdict`` does as well. Dictionary files use jieba's format: one
``word [freq] [tag]`` per line, UTF-8; blank lines and lines starting with ``#`` are
skipped. A word without a frequency gets jieba's ``suggest_freq``, the smallest
frequency that keeps it in one piece. Words made only of ASCII digits are ignored: a
digit run is already one token, and such a word would make jieba cut it out of longer
numbers.

Deployments add their own place, agency and estate names in files listed in the
environment variable ``MINYI_TEXT_USER_DICT`` (paths separated by ``os.pathsep``, i.e.
``:`` on Linux). The default segmenter reads it when it is first used. A listed file
that is missing or unreadable is logged and skipped, so that a configuration slip never
stops intake; dictionary files passed explicitly to ``Segmenter(user_dicts=...)`` raise
``DictionaryError`` instead.

``segment`` does not normalise: pass ``normalize(text)``. Whitespace tokens are dropped;
punctuation tokens are kept (``stopwords()`` lists them, among the stop words).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "USER_DICT_ENV",
    "DictionaryError",
    "Segmenter",
    "default_segmenter",
    "segment",
    "segment_many",
    "stopwords",
]

logger = logging.getLogger(__name__)

USER_DICT_ENV = "MINYI_TEXT_USER_DICT"
DATA_DIR = Path(__file__).resolve().parent / "data"
DOMAIN_DICT = DATA_DIR / "domain_dict.txt"
STOPWORDS_FILE = DATA_DIR / "stopwords.txt"

Entry = tuple[str, int | None, str | None]


class DictionaryError(ValueError):
    """A user dictionary file that cannot be read (missing, unreadable, not UTF-8)."""


# jieba's own user-dictionary line format (jieba.re_userdict): the word, then an optional
# frequency and an optional lower-case part-of-speech tag, separated by single spaces.
_LINE_RE = re.compile(r"^(.+?)( [0-9]+)?( [a-z]+)?$")


def _parse_line(line: str) -> Entry | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    match = _LINE_RE.match(line)
    if match is None:  # pragma: no cover - the pattern matches every non-empty line
        return None
    word, freq, tag = match.groups()
    return word.strip(), int(freq) if freq else None, tag.strip() if tag else None


def read_dictionary(path: str | os.PathLike[str]) -> list[Entry]:
    """Read a jieba-format dictionary file (``DictionaryError`` naming the file if it cannot be read)."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8-sig") as handle:
            lines = handle.readlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DictionaryError(f"{source}: cannot read the dictionary ({exc})") from exc
    entries = []
    for line in lines:
        entry = _parse_line(line)
        if entry is not None:
            entries.append(entry)
    return entries


def _env_dictionaries() -> list[Entry]:
    value = os.environ.get(USER_DICT_ENV, "")
    entries: list[Entry] = []
    for raw in value.split(os.pathsep):
        path = raw.strip()
        if not path:
            continue
        try:
            entries.extend(read_dictionary(path))
        except DictionaryError as exc:
            logger.warning("%s: skipped a user dictionary: %s", USER_DICT_ENV, exc)
    return entries


def _as_entry(word: str | tuple[Any, ...]) -> Entry:
    if isinstance(word, str):
        return word.strip(), None, None
    text = str(word[0]).strip()
    freq = int(word[1]) if len(word) > 1 and word[1] is not None else None
    tag = str(word[2]) if len(word) > 2 and word[2] is not None else None
    return text, freq, tag


def _addable(word: str) -> bool:
    """Pure ASCII-digit words are not added: jieba would cut them out of longer numbers
    (``12345`` out of ``0123456``), and a digit run is one token without them."""
    return bool(word) and not (word.isascii() and word.isdigit())


class Segmenter:
    """Chinese word segmenter (rjieba + domain dictionary), usable as a scikit-learn tokenizer.

    Parameters are stored as given; the rjieba instance is built on first use (about
    0.1 s) and is not pickled: a pickled or copied ``Segmenter`` rebuilds it from its
    parameters and the words added since, in the process that unpickles it.

    - ``user_dicts``: jieba-format dictionary files added after the domain dictionary.
    - ``words``: extra words, each a string or a ``(word, freq)`` / ``(word, freq, tag)`` tuple.
    - ``domain_dict``: load minyi's domain dictionary (default True).
    - ``use_env``: also load the files listed in ``MINYI_TEXT_USER_DICT`` (default True).
    - ``hmm``: let jieba's HMM join unknown words (default True).
    """

    def __init__(
        self,
        *,
        user_dicts: Iterable[str | os.PathLike[str]] = (),
        words: Iterable[str | tuple[Any, ...]] = (),
        domain_dict: bool = True,
        use_env: bool = True,
        hmm: bool = True,
    ) -> None:
        self.user_dicts = tuple(os.fspath(p) for p in user_dicts)
        self.words = tuple(words)
        self.domain_dict = domain_dict
        self.use_env = use_env
        self.hmm = hmm
        self._added: list[Entry] = []
        self._jieba: Any = None
        self._lock = threading.Lock()

    # scikit-learn conventions -----------------------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "user_dicts": self.user_dicts,
            "words": self.words,
            "domain_dict": self.domain_dict,
            "use_env": self.use_env,
            "hmm": self.hmm,
        }

    def set_params(self, **params: Any) -> Segmenter:
        for key, value in params.items():
            if key not in self.get_params():
                raise ValueError(f"Segmenter has no parameter {key!r}")
            setattr(self, key, tuple(value) if key in ("user_dicts", "words") else value)
        self._jieba = None
        return self

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"Segmenter({shown})"

    # pickling: the rjieba object cannot be pickled; rebuild it lazily -------------------

    def __getstate__(self) -> dict[str, Any]:
        state = self.get_params()
        state["_added"] = list(self._added)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        added = state.pop("_added", [])
        self.__init__(**state)  # type: ignore[misc]
        self._added = list(added)

    # building ---------------------------------------------------------------------

    def _entries(self) -> list[Entry]:
        entries: list[Entry] = []
        if self.domain_dict:
            entries.extend(read_dictionary(DOMAIN_DICT))
        for path in self.user_dicts:
            entries.extend(read_dictionary(path))
        if self.use_env:
            entries.extend(_env_dictionaries())
        entries.extend(_as_entry(w) for w in self.words)
        entries.extend(self._added)
        return entries

    def _build(self) -> Any:
        jieba = self._jieba
        if jieba is not None:
            return jieba
        with self._lock:
            if self._jieba is None:
                import rjieba

                jieba = rjieba.Jieba()
                for word, freq, tag in self._entries():
                    if _addable(word):
                        jieba.add_word(word, freq, tag)
                self._jieba = jieba
            return self._jieba

    def add_words(self, words: Iterable[str | tuple[Any, ...]]) -> Segmenter:
        """Add words (strings or ``(word, freq[, tag])`` tuples) to this segmenter."""
        entries = [e for e in (_as_entry(w) for w in words) if _addable(e[0])]
        with self._lock:
            self._added.extend(entries)
            jieba = self._jieba
            if jieba is not None:
                for word, freq, tag in entries:
                    jieba.add_word(word, freq, tag)
        return self

    def load_dictionary(self, path: str | os.PathLike[str]) -> Segmenter:
        """Add the words of a jieba-format dictionary file (``DictionaryError`` if unreadable)."""
        return self.add_words(read_dictionary(path))

    def has_word(self, word: str) -> bool:
        return bool(self._build().has_word(word))

    # cutting ----------------------------------------------------------------------

    def cut(self, text: str) -> list[str]:
        """Segment ``text`` into words; whitespace is dropped; empty text gives ``[]``."""
        if not text or text.isspace():
            return []
        return _cut(self._build().cut, text, self.hmm)

    __call__ = cut

    def cut_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Segment several texts (rjieba has no batch call; this is a plain loop)."""
        cut = self._build().cut
        hmm = self.hmm
        return [[] if not text or text.isspace() else _cut(cut, text, hmm) for text in texts]


_SURROGATES_RE = re.compile("[\ud800-\udfff]")


def _cut(cut: Any, text: str, hmm: bool) -> list[str]:
    try:
        tokens = cut(text, hmm)
    except UnicodeEncodeError:  # lone surrogates cannot cross into Rust; they carry no words
        tokens = cut(_SURROGATES_RE.sub("", text), hmm)
    return [t for t in tokens if t and not t.isspace()]


_default_lock = threading.Lock()
_default: Segmenter | None = None


def default_segmenter() -> Segmenter:
    """The process-wide segmenter used by ``segment`` (domain dictionary + ``MINYI_TEXT_USER_DICT``)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Segmenter()
    return _default


def segment(text: str) -> list[str]:
    """Segment ``text`` with the default segmenter."""
    return default_segmenter().cut(text)


def segment_many(texts: Iterable[str]) -> list[list[str]]:
    """Segment several texts with the default segmenter."""
    return default_segmenter().cut_many(texts)


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """minyi's generic Chinese stop words (function words, greetings, punctuation)."""
    words = set()
    with open(STOPWORDS_FILE, encoding="utf-8") as handle:
        for line in handle:
            word = line.strip()
            if word and not word.startswith("#"):
                words.add(word)
    return frozenset(words)
