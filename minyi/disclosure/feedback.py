"""Placeholder: being written (issue 5). See the helper brief for the interface."""

from __future__ import annotations


def invite_after_reply(*, case_id: int, now=None):
    return None
