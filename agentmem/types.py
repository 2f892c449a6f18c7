"""Core data types shared by every layer (pydantic v2 models at boundaries)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

MemoryKind = Literal["episode", "concept", "insight"]
MEMORY_KINDS: tuple[str, ...] = ("episode", "concept", "insight")
OutcomeSource = Literal["env", "verifier", "judge", "label"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Task(BaseModel):
    """One thing for an agent to do in one env."""

    id: str
    env: str
    goal: str
    payload: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)


class Advice(BaseModel):
    """Guidance the coach injects into the running agent, with the items it came from."""

    text: str
    item_ids: list[str] = Field(default_factory=list)
    confidence: float = 0.0
    source: Literal["recall", "coach"] = "recall"


class Step(BaseModel):
    i: int
    thought: str = ""
    action: dict[str, Any] | None = None
    observation: str = ""
    reward: float = 0.0
    error: str | None = None
    advice_ids: list[str] = Field(default_factory=list)
    # The memory item this step was taken from without a model call (a replayed exemplar step), so a
    # failed episode can name what misled it.
    memory_id: str | None = None
    # A readable rendering of the action without per-page instance details (element ids): what
    # condensed summaries show, so memory never carries an id that meant something on one page only.
    label: str = ""


class Outcome(BaseModel):
    """How an episode ended, and who said so. `label` outcomes never write memory at test time."""

    success: bool | None = None
    score: float = 0.0
    source: OutcomeSource = "env"
    detail: str = ""


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    latency_s: float = 0.0

    def add(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            calls=self.calls + other.calls,
            latency_s=self.latency_s + other.latency_s,
        )


class Trajectory(BaseModel):
    task: Task
    steps: list[Step] = Field(default_factory=list)
    outcome: Outcome = Field(default_factory=Outcome)
    answer: Any = None
    usage: Usage = Field(default_factory=Usage)
    recalled_ids: list[str] = Field(default_factory=list)
    advice: list[Advice] = Field(default_factory=list)
    episode_id: str = Field(default_factory=new_id)
    error: str | None = None
    summary: EpisodeSummary | None = None  # the condenser's summary, when the loop wrote one
    # The agent's scratch state at the end (JSON): what it decided about its memory (why replay
    # stopped, say), kept so an evaluation can tell why memory did or did not help.
    agent_state: dict[str, Any] = Field(default_factory=dict)


class EpisodeSummary(BaseModel):
    """The condenser's structured summary of a (partial) trajectory."""

    goal: str
    approach: str = ""
    key_steps: list[str] = Field(default_factory=list)
    outcome: str = ""
    failure_modes: list[str] = Field(default_factory=list)
    lessons: list[str] = Field(default_factory=list)
    fallback: bool = False  # True when produced deterministically because the model failed

    def as_text(self) -> str:
        parts = [f"Goal: {self.goal}"]
        if self.approach:
            parts.append(f"Approach: {self.approach}")
        if self.key_steps:
            parts.append("Key steps: " + "; ".join(self.key_steps))
        if self.outcome:
            parts.append(f"Outcome: {self.outcome}")
        if self.failure_modes:
            parts.append("Failure modes: " + "; ".join(self.failure_modes))
        if self.lessons:
            parts.append("Lessons: " + "; ".join(self.lessons))
        return "\n".join(parts)


class MemoryDraft(BaseModel):
    """An item an agent wants stored (before it has an id/embedding)."""

    kind: MemoryKind
    text: str
    payload: dict[str, Any] = Field(default_factory=dict)


class MemoryItem(BaseModel):
    id: str = Field(default_factory=new_id)
    namespace: str
    kind: MemoryKind
    text: str
    payload: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    uses: int = 0
    reward_sum: float = 0.0
    reward_count: int = 0
    truncated: bool = False


class ScoreParts(BaseModel):
    """Why an item was recalled: every component of its final score."""

    similarity: float
    recency: float = 0.0
    utility: float = 0.0
    policy: float | None = None
    mmr_penalty: float = 0.0
    final: float = 0.0


class SearchHit(BaseModel):
    item: MemoryItem
    score: float
    parts: ScoreParts
