"""Placeholder: being written (issue 5). See the helper brief for the interface."""

from __future__ import annotations


def refresh(*, case_id: int, now=None):
    return None
