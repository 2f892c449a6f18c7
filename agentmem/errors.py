"""The typed error family: every failure a caller can handle has its own class."""

from __future__ import annotations


class AgentMemError(Exception):
    """Base of every error agentmem raises on purpose."""


class ConfigError(AgentMemError):
    """Configuration is missing or inconsistent."""


# --- LLM layer -------------------------------------------------------------------------------
class LLMError(AgentMemError):
    """A model call failed."""


class LLMUnavailableError(LLMError):
    """The backend cannot run here (package, GPU, weights or server missing)."""


class LLMTimeoutError(LLMError):
    """The model did not answer within the configured timeout."""


class LLMOutputError(LLMError):
    """The model's output could not be parsed/validated after the bounded repair attempts.

    `raw` keeps every reply so nothing is lost.
    """

    def __init__(self, message: str, raw: list[str] | None = None):
        super().__init__(message)
        self.raw = raw or []


class ModelIntegrityError(LLMUnavailableError):
    """Assembled model weights do not match the published size/digest."""


class LLMRequestError(LLMError):
    """The backend rejected the request itself (bad parameter, unknown model, auth); not retryable.

    `status` is the HTTP status when the backend is a server.
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class LLMContextLengthError(LLMRequestError):
    """The prompt plus the requested completion does not fit in the model's context window."""


# --- Memory store ----------------------------------------------------------------------------
class MemoryStoreError(AgentMemError):
    """A memory-store operation failed."""


class InvalidItemError(MemoryStoreError, ValueError):
    """An item to write is invalid (empty text, unknown kind, wrong vector size...)."""


class EmbedderMismatchError(MemoryStoreError):
    """Stored vectors were made by another embedder or have another dimension; run `reembed`."""


class ItemNotFoundError(MemoryStoreError, KeyError):
    """No live item with that id in that namespace."""


class InvalidStoreURLError(MemoryStoreError, ValueError):
    """The database URL cannot be used."""


# --- Envs and agents -------------------------------------------------------------------------
class EnvError(AgentMemError):
    """An environment failed (browser crash, timeout, bad task)."""


class InvalidActionError(EnvError):
    """The action cannot be applied (unknown element id, stale element, wrong type)."""


class SandboxError(AgentMemError):
    """Sandboxed code failed: timeout, memory limit, forbidden operation or exception."""


class ActionParseError(AgentMemError):
    """An agent could not turn a model reply into a valid action."""


class ToolError(AgentMemError):
    """A research tool failed (network, parse, unsupported file)."""


class DataError(AgentMemError):
    """A benchmark's data is missing or malformed."""
