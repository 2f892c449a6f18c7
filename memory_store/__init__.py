"""agentmem.memory_store: SQL truth + FAISS speed + shipped embeddings, with namespaces and ranking.

Names are imported lazily so `import agentmem.memory_store` stays cheap (no torch/faiss/sqlalchemy).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "AsyncMemory": "agentmem.memory_store.api",
    "Memory": "agentmem.memory_store.api",
    "Embedder": "agentmem.memory_store.embedders",
    "HashEmbedder": "agentmem.memory_store.embedders",
    "SentenceTransformerEmbedder": "agentmem.memory_store.embedders",
    "default_embedder": "agentmem.memory_store.embedders",
    "get_embedder": "agentmem.memory_store.embedders",
    "Scorer": "agentmem.memory_store.scoring",
    "WeightedScorer": "agentmem.memory_store.scoring",
    "UsageEvent": "agentmem.memory_store.models",
    "MemoryStats": "agentmem.memory_store.models",
    "ConsolidationReport": "agentmem.memory_store.models",
    "TransferReport": "agentmem.memory_store.models",
    "AgentMemStore": "agentmem.memory_store.langgraph_store",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentmem.memory_store' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
