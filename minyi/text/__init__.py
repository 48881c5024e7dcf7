"""The text engine: pure Python, no Django.

normalize · segment · find_pii / mask_pii · Classifier · DuplicateIndex.
Names are resolved lazily so that importing one part does not load every model
and dictionary.
"""

from __future__ import annotations

import importlib
from typing import Any

# The modules `normalize` and `segment` share their names with their main functions: import the functions
# eagerly (both are cheap; OpenCC and rjieba load lazily), so that importing the submodule elsewhere can
# never leave the package attribute pointing at the module.
from minyi.text.normalize import normalize as normalize
from minyi.text.normalize import strip_invisible as strip_invisible
from minyi.text.segment import Segmenter as Segmenter
from minyi.text.segment import segment as segment

_EXPORTS = {
    "find_pii": "minyi.text.pii",
    "mask_pii": "minyi.text.pii",
    "Span": "minyi.text.pii",
    "Classifier": "minyi.text.classify",
    "DuplicateIndex": "minyi.text.dedupe",
    "Gazetteer": "minyi.text.locate",
    "assess_risk": "minyi.text.risk",
    "assess_reply": "minyi.text.quality",
    "Quality": "minyi.text.quality",
    "detect": "minyi.text.surge",
    "detect_many": "minyi.text.surge",
    "daily_counts": "minyi.text.surge",
    "Surge": "minyi.text.surge",
    "SurgeConfig": "minyi.text.surge",
    "LevelRules": "minyi.text.surge",
    "level": "minyi.text.surge",
    "mine_topics": "minyi.text.topics",
    "TopicDoc": "minyi.text.topics",
    "Topic": "minyi.text.topics",
    "heat": "minyi.text.topics",
    "trend": "minyi.text.topics",
    "match_topics": "minyi.text.topics",
    "HEAT_WEIGHTS": "minyi.text.topics",
}

__all__ = sorted([*_EXPORTS, "normalize", "strip_invisible", "segment", "Segmenter"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'minyi.text' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
