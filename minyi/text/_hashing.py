"""Vectorised 64-bit hashing shared by the classifier's feature hashing and the duplicate index."""

from __future__ import annotations

import numpy as np

U64 = np.uint64
S21, S27, S30, S31, S32 = U64(21), U64(27), U64(30), U64(31), U64(32)
_M1 = U64(0xBF58476D1CE4E5B9)
_M2 = U64(0x94D049BB133111EB)


def mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, element-wise on uint64 (wrapping arithmetic). Stable across versions: saved
    models and stored signatures depend on it."""
    z = z ^ (z >> S30)
    z *= _M1
    z ^= z >> S27
    z *= _M2
    z ^= z >> S31
    return z
