"""Placeholder: being written (issue 5)."""

from ninja import Router

router = Router(tags=["board"])
