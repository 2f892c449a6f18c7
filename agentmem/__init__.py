"""agentmem: memory-augmented LLM agents that get better at test time without weight updates.

Public names are imported lazily so `import agentmem` (and `agentmem --help`) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Task": "agentmem.types",
    "Step": "agentmem.types",
    "Outcome": "agentmem.types",
    "Trajectory": "agentmem.types",
    "MemoryItem": "agentmem.types",
    "Advice": "agentmem.types",
    "get_settings": "agentmem.config",
    "Settings": "agentmem.config",
    "get_llm": "agentmem.llm",
    "Completion": "agentmem.llm.base",
    "Memory": "agentmem.memory_store",
    "AsyncMemory": "agentmem.memory_store",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentmem' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
