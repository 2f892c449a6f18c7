"""Wrap a raw JSON schema (e.g. from a file) as a pydantic model, so `chat(schema=...)` accepts it.

Why: the LLM layer speaks pydantic models; users of `agentmem chat --json-schema` have plain JSON
schemas. The wrapper reports the schema verbatim to the backend (for constrained decoding) and
validates replies with `jsonschema`, raising pydantic's ValidationError so the repair loop works.
"""

from __future__ import annotations

from typing import Any

from pydantic import RootModel, model_validator


def model_from_json_schema(schema: dict[str, Any], name: str | None = None) -> type[RootModel[Any]]:
    """A RootModel whose `model_json_schema()` is `schema` and whose validation enforces it."""
    import jsonschema

    if not isinstance(schema, dict):
        raise ValueError("a JSON schema must be an object")
    try:
        validator_cls = jsonschema.validators.validator_for(schema)
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"invalid JSON schema: {exc.message}") from exc
    validator = validator_cls(schema)
    frozen = dict(schema)

    class JSONSchemaModel(RootModel[Any]):
        @model_validator(mode="after")
        def _check(self) -> JSONSchemaModel:
            errors = sorted(validator.iter_errors(self.root), key=lambda e: list(e.path))
            if errors:
                where = "/".join(str(p) for p in errors[0].path) or "(root)"
                raise ValueError(f"{where}: {errors[0].message}")
            return self

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return dict(frozen)

    JSONSchemaModel.__name__ = name or str(schema.get("title") or "JSONSchemaModel")
    return JSONSchemaModel
