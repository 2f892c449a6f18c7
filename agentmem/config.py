"""All configuration in one place: `AGENTMEM_*` env vars, an optional TOML file, then defaults.

Nested fields use a double underscore: `AGENTMEM_LLM__BACKEND=openai`.
The TOML file is `$AGENTMEM_CONFIG`, else `./agentmem.toml`, else `<user config dir>/agentmem.toml`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir, user_config_dir, user_data_dir
from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Backend = Literal["llamacpp", "openai", "vllm", "scripted"]


class LLMSettings(BaseModel):
    backend: Backend = "llamacpp"
    # llamacpp: an embedded model name ("qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b") or a GGUF path.
    # openai/vllm: the served model name / HF folder.
    model: str = "qwen2.5-coder-1.5b"
    base_url: str | None = None
    api_key: str | None = None
    temperature: float = 0.0
    max_tokens: int = 512
    timeout_s: float = 300.0
    max_repairs: int = 2  # extra attempts after a malformed structured reply
    max_retries: int = 3  # transient transport errors
    max_concurrency: int = 4
    n_ctx: int = 8192
    n_threads: int | None = None  # llama.cpp threads; default = physical cores
    seed: int = 0


class MemorySettings(BaseModel):
    url: str | None = None  # SQLAlchemy URL; default SQLite file under data_dir
    embedder: str = "all-MiniLM-L6-v2"
    hnsw_threshold: int = 20_000
    recency_half_life_days: float = 30.0
    dedup_threshold: float = 0.95


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGENTMEM_", env_nested_delimiter="__", extra="ignore", toml_file=None
    )

    data_dir: Path = Field(default_factory=lambda: Path(user_data_dir("agentmem")))
    cache_dir: Path = Field(default_factory=lambda: Path(user_cache_dir("agentmem")))
    llm: LLMSettings = Field(default_factory=LLMSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    torch_threads: int = 1

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml = config_file()
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @property
    def memory_url(self) -> str:
        return self.memory.url or f"sqlite:///{self.data_dir / 'memory.db'}"


def config_file() -> Path | None:
    explicit = os.environ.get("AGENTMEM_CONFIG")
    if explicit:
        return Path(explicit)
    for candidate in (Path("agentmem.toml"), Path(user_config_dir("agentmem")) / "agentmem.toml"):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
