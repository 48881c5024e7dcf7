"""Atomic file output: write to a temporary file beside the target, then rename it into place."""

from __future__ import annotations

import os


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(tmp: str, target: str | os.PathLike[str]) -> None:
    """Move the finished temporary file onto `target`, with the permissions a plainly created file would get.

    tempfile.mkstemp creates files readable by the owner only; a model or a classified table is an ordinary
    output and should follow the user's umask like any other.
    """
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, target)
