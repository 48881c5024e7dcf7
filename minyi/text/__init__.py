"""The text engine: pure Python, no Django.

normalize · segment · find_pii / mask_pii · Classifier · DuplicateIndex.
Names are resolved lazily so that importing one part does not load every model
and dictionary.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "normalize": "minyi.text.normalize",
    "strip_invisible": "minyi.text.normalize",
    "segment": "minyi.text.segment",
    "Segmenter": "minyi.text.segment",
    "find_pii": "minyi.text.pii",
    "mask_pii": "minyi.text.pii",
    "Span": "minyi.text.pii",
    "Classifier": "minyi.text.classify",
    "DuplicateIndex": "minyi.text.dedupe",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'minyi.text' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
