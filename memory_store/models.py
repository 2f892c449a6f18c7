"""Typed results of the store beyond agentmem.types (usage events, stats, consolidation reports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class UsageEvent(BaseModel):
    """An item was recalled for an episode (at `rank`), and the episode then earned `reward`."""

    namespace: str
    item_id: str
    episode_id: str
    task_id: str | None = None
    rank: int
    reward: float
    created_at: datetime


class IndexStats(BaseModel):
    kind: str
    live: int
    dead: int
    watermark: int


class MemoryStats(BaseModel):
    namespace: str
    url: str
    items: int
    by_kind: dict[str, int]
    deleted: int
    usage_events: int
    embedder: str | None
    dim: int | None
    db_watermark: int
    index: IndexStats | None = None


class MergeGroup(BaseModel):
    survivor: str
    merged: list[str]
    similarity: float


class ConsolidationReport(BaseModel):
    namespace: str
    dry_run: bool = False
    threshold: float
    budget: int | None = None
    merged: int = 0
    pruned: int = 0
    groups: list[MergeGroup] = Field(default_factory=list)
    pruned_ids: list[str] = Field(default_factory=list)
    items_before: int = 0
    items_after: int = 0


class TransferReport(BaseModel):
    """What an export or import moved."""

    namespace: str
    path: str
    items: int
    reembedded: int = 0
    details: dict[str, Any] = Field(default_factory=dict)
