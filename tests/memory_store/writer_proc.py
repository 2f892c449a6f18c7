"""A writer process for the reliability tests: deterministic batches, a log line after each commit.

usage: python writer_proc.py URL SCHEMA|- NAMESPACE PREFIX N_ITEMS BATCH LOG [SEARCH_EVERY]
Batch b holds ids PREFIX-b-0 .. PREFIX-b-(size-1); its ids are logged only after the commit returned.
"""

from __future__ import annotations

import sys

from agentmem.memory_store import HashEmbedder, Memory
from agentmem.types import MemoryItem


def batch_size(b: int, batch: int) -> int:
    return batch if batch > 0 else (b % 7) + 1  # batch 0: varying sizes 1..7


def main() -> None:
    url, schema, namespace, prefix, n_items, batch, log = sys.argv[1:8]
    search_every = int(sys.argv[8]) if len(sys.argv) > 8 else 0
    mem = Memory(namespace, url=url, schema=None if schema == "-" else schema, embedder=HashEmbedder(64))
    written, b = 0, 0
    with open(log, "a", buffering=1) as out:
        while written < int(n_items):
            size = min(batch_size(b, int(batch)), int(n_items) - written)
            entries = [
                MemoryItem(
                    namespace=namespace,
                    id=f"{prefix}-{b}-{j}",
                    kind="episode",
                    text=f"{prefix} batch {b} item {j} token{b % 97} word{j}",
                    payload={"b": b, "j": j},
                )
                for j in range(size)
            ]
            if size == 1 and b % 2:
                mem.add(entries[0].text, kind="episode", payload=entries[0].payload, id=entries[0].id)
            else:
                mem.add_many(entries)
            out.write(" ".join(e.id for e in entries) + "\n")
            written += size
            b += 1
            if search_every and b % search_every == 0:
                mem.search(f"{prefix} batch {b}", k=3)
    mem.close()


if __name__ == "__main__":
    main()
