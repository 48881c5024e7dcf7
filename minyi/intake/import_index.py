"""The duplicate index of a bulk import: the shared database index, mirrored in the importing process's memory.

Looking a text up in the database index costs one index probe per LSH band (42), which is fine for one appeal
on arrival (well under a millisecond) but dominates an import of a million rows, 42 million probes. So an
import loads the signatures already stored (with their bucket keys, stored beside them) into an
``InMemoryStorage`` when it starts, writes every new row to both, and asks only memory. What it finds is the
same as what the database index would find, except cases submitted by other processes while the import runs.
The database gets the signatures with each batch and the bucket rows at the end, all at once in key order
(``DatabaseStorage.build_deferred``), so that other processes find the imported cases once the import is done.

Memory: about 1.2 KB an indexed case (the 512-byte signature, 42 bucket keys and their rows); a million cases
take about 1.2 GB. Loading them streams the table in chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from minyi.intake.dedupe_storage import DatabaseStorage
from minyi.intake.models import DuplicateSignature
from minyi.text.dedupe import InMemoryStorage

LOAD_CHUNK = 20_000


class MirroredStorage:
    """A ``minyi.text.dedupe.Storage`` that writes to the database and to memory, and reads from memory."""

    def __init__(self, database: DatabaseStorage | None = None) -> None:
        self.database = database or DatabaseStorage()
        self.memory = InMemoryStorage()
        self.loaded = 0

    def load(self) -> int:
        """Copy every stored signature into memory (once, when the import starts). Returns how many."""
        batch: list[tuple[int, bytes, Sequence[int]]] = []
        rows = DuplicateSignature.objects.values_list("case_id", "signature", "keys").order_by("case_id")
        for case_id, signature, keys in rows.iterator(chunk_size=LOAD_CHUNK):
            batch.append((case_id, bytes(signature), np.frombuffer(bytes(keys), dtype="<i8").tolist()))
            if len(batch) >= LOAD_CHUNK:
                self.memory.put(batch)
                batch = []
        if batch:
            self.memory.put(batch)
        self.loaded = len(self.memory)
        return self.loaded

    # -- the Storage protocol

    def get_meta(self) -> dict[str, Any] | None:
        return self.database.get_meta()

    def set_meta(self, meta: dict[str, Any]) -> None:
        self.database.set_meta(meta)
        self.memory.set_meta(meta)

    def put(self, entries: Sequence[tuple[int, bytes, Sequence[int]]]) -> None:
        # the database's bucket rows wait for build_deferred() at the end of the import, written in key order
        self.database.put(entries, defer_buckets=True)
        self.memory.put(entries)

    def delete(self, ids: Sequence[int]) -> int:
        self.memory.delete(ids)
        return self.database.delete(ids)

    def signatures(self, ids: Sequence[int]) -> list[bytes | None]:
        return self.memory.signatures(ids)

    def candidates(self, key_lists: Sequence[Sequence[int]]) -> list[set[int]]:
        return self.memory.candidates(key_lists)

    def __len__(self) -> int:
        return len(self.memory)

    def forget(self, ids: Sequence[int]) -> None:
        """Drop ids from memory only: a batch whose transaction rolled back never reached the database."""
        self.memory.delete(ids)
