"""The board's word search: the same tokens on both sides.

`index_text` turns a publication's masked title and content into `Publication.search_text`: normalised
(simplified, invisible characters removed), segmented with the domain dictionary (plus the dictionary words inside longer tokens), lower-cased, punctuation and
one-character function words dropped, each distinct token once, space-separated with a space at each end, so
that SQLite can match a whole token with LIKE '% token %'. PostgreSQL matches the same string through
to_tsvector('simple', ...) and a GIN index (migration 0002_board_search_index).

`query_tokens` cuts a search box's words the same way; every token must match (AND).
"""

from __future__ import annotations

import unicodedata

from minyi.text.normalize import normalize
from minyi.text.segment import default_segmenter, segment, stopwords

MAX_QUERY_TOKENS = 8
MAX_QUERY_CHARS = 100


def _keep(token: str) -> bool:
    return bool(token.strip()) and not all(unicodedata.category(ch)[0] in "PSZC" for ch in token)


def _tokens(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for token in segment(normalize(text)):
        token = token.strip().lower()
        if _keep(token) and token not in seen:
            seen[token] = None
    return list(seen)


def _with_parts(tokens: list[str]) -> list[str]:
    """Tokens plus the dictionary words inside the longer ones (乱收费 also holds 收费), as jieba's search mode
    does, so that a shorter query word finds the longer word."""
    segmenter = default_segmenter()
    out = dict.fromkeys(tokens)
    for token in tokens:
        if len(token) < 3:
            continue
        for size in (2, 3):
            for i in range(len(token) - size + 1):
                part = token[i : i + size]
                if part != token and part not in out and segmenter.has_word(part):
                    out[part] = None
    return list(out)


def index_text(title: str, content: str) -> str:
    tokens = _with_parts(_tokens(f"{title}\n{content}"))
    return f" {' '.join(tokens)} " if tokens else ""


def query_tokens(query: str) -> list[str]:
    """The tokens to AND together for a search box's words; [] when nothing searchable is left. Stop words are
    dropped unless they are all the query holds."""
    tokens = _tokens((query or "")[:MAX_QUERY_CHARS])
    stop = stopwords()
    kept = [t for t in tokens if t not in stop] or tokens
    # Characters that PostgreSQL's tsquery syntax gives a meaning to can never be part of a token we index.
    kept = [t for t in kept if not any(ch in t for ch in "&|!():*'\\<>")]
    return kept[:MAX_QUERY_TOKENS]
