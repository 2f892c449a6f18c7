"""Exploration for the web navigator: how a new episode's path is compared with a remembered
failure's, where it departs from that failure, and the narrowed action schema a redraw uses.

Why a module of its own: the navigator decides when to explore; these are the pure parts (step
comparison, the departure point, the schema) that its tests and the replay code share.
"""

from __future__ import annotations

import math
import random
import re
from typing import Any, get_args

from pydantic import model_validator

from agentmem.envs.base import Observation
from agentmem.envs.web import NEEDS_ID, NEEDS_TEXT, ActionName, WebAction

# Exploration's defaults, one place for the agent, the eval config and the CLI (each measured: README, MiniWoB):
EXPLORE = True  # resample a step that retraces a remembered failure of a family nothing solved yet
EXPLORE_STEER = False  # tell the resample that the greedy step failed before (no gain measured)
EXPLORE_DRAWS = 4  # redraws, each leaving out what retraced a failure, while the draw still retraces one
EXPLORE_RANK = True  # redraw by the model's probability of each whole choice, not by grammar decoding

TEXTLESS = ("click", "back")  # actions whose `text` the page ignores (the 1.5B writes one on clicks)


def typed_from_goal(step: dict[str, Any], goal: str) -> bool:
    """Whether a step's typed text is in the goal (in any case), not read off a page or worked out."""
    return str(step.get("text", "")).casefold() in goal.casefold()


def comparable_step(step: dict[str, Any]) -> tuple[Any, ...]:
    """A step as compared with a remembered one: kind, element, text, enter (falsy values alike; the
    text a click carries is none: the page ignores it)."""
    text = None if step.get("action") in TEXTLESS else step.get("text") or None
    return (step.get("action"), step.get("target") or None, text, bool(step.get("enter")))


def _kept(steps: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The steps that worked, as compared (a failed step changed nothing on the page)."""
    return [comparable_step(s) for s in steps if not s.get("error")]


def walks_prefix(done: list[dict[str, Any]], steps: list[dict[str, Any]]) -> bool:
    """Whether `steps` begin with `done`: compared step by step, or else with the steps that failed
    left out on both sides (an error changes nothing on the page, so a failure that began with
    one, or a path that did, is the same walk)."""
    if [comparable_step(s) for s in steps][: len(done)] == [comparable_step(s) for s in done]:
        return True
    kept = _kept(done)
    return _kept(steps)[: len(kept)] == kept


def divergence(steps: list[dict[str, Any]], goal: str) -> int:
    """Where a later episode departs from a failure's path, as a place among its steps that worked.

    A walk that loops went wrong inside the loop: at the loop's first step (the inbox's 1.5B opened
    the search, closed it, opened it again: a dead end in a four-step budget), unless that step typed
    what the goal says, which was right; then where the walk came back (enter-password's typed the
    password into the first box, pressed Enter, then typed it into the first box again: redrawn at
    step one, the right first step was given up too). With no loop, nothing says which step was
    wrong: the first. `goal` is the one the steps were adapted to."""
    kept = [s for s in steps if not s.get("error")]
    first: dict[tuple[Any, ...], int] = {}
    for place, step in enumerate(kept):
        key = comparable_step(step)
        if key in first:
            start = kept[first[key]]
            return place if start.get("action") == "type" and typed_from_goal(start, goal) else first[key]
        first[key] = place
    return 0


def departures(paths: list[list[dict[str, Any]]], goal: str) -> list[tuple[list[dict[str, Any]], int]]:
    """Each failure (oldest first) with the place a later episode departs from it: its own
    (`divergence`), or past the steps it shared with an older failure it departed from at or after
    that one's place (enter-password: redrawn at step three, the walk failed again; its first two
    steps stay trusted, so the next episode does not give them up, it departs at step three again)."""
    kept = [_kept(steps) for steps in paths]
    places: list[int] = []
    for n, steps in enumerate(paths):
        depart = divergence(steps, goal)
        for theirs, older_depart in zip(kept[:n], places, strict=True):
            shared = next((i for i, (a, b) in enumerate(zip(kept[n], theirs, strict=False)) if a != b), None)
            if shared is not None and shared >= older_depart:
                depart = max(depart, shared)
        places.append(depart)
    return list(zip(paths, places, strict=True))


Choice = tuple[str, int | None]  # an action kind and its element (None for kinds without one)


def listed_ids(obs: Observation) -> list[int]:
    """The element numbers the page lists, in order."""
    return sorted({int(e["id"]) for e in obs.data.get("elements", []) if "id" in e})


def elsewhere_schema(obs: Observation, banned: set[Choice]) -> type[WebAction] | None:
    """The action schema without the choices a redraw must leave out (those that retraced a failure
    at this step: an action kind on an element, or a kind with none): grammar-constrained decoding
    then gives the model's next choice instead of the same one again, while another action on that
    element stays open (a date field typed into three times may still be clicked). None when nothing
    is left to choose."""
    ids = listed_ids(obs)
    variants = []
    for kind in get_args(ActionName):
        if kind in NEEDS_ID:
            left = [i for i in ids if (kind, i) not in banned]
            if left:
                variants.append(_variant(kind, {"enum": left}))
        elif (kind, None) not in banned:
            variants.append(_variant(kind, None))
    if not variants:
        return None
    return schema_model({"title": "WebAction", "anyOf": variants}, banned)


def schema_model(schema: dict[str, Any], banned: set[Choice]) -> type[WebAction]:
    """WebAction as the model sees it through `schema` (its grammar), refusing the left-out choices
    should a model not held to the schema write one anyway."""

    class Elsewhere(WebAction):
        @model_validator(mode="after")
        def _not_left_out(self) -> Elsewhere:
            if choice_of(self) in banned:
                raise ValueError(f"{self.short()} is left out here: choose another action or element")
            return self

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return schema

    return Elsewhere


def choice_of(action: WebAction) -> Choice:
    return (action.action, action.id if action.action in NEEDS_ID else None)


def json_style(written: str) -> tuple[str, str]:
    """The colon and comma spacing of a JSON reply the model wrote (`{"action":"click"}` or with
    spaces): candidates are scored as the model would write them."""
    colon = ": " if re.search(r'":\s', written) else ":"
    comma = ", " if re.search(r',\s"', written) else ","
    return colon, comma


def kind_opening(kind: str, written: str) -> str:
    """A reply's start up to its action kind: `{"action":"click`."""
    return f'{{"action"{json_style(written)[0]}"{kind}'


def id_openings(kind: str, ids: list[int], written: str) -> dict[int, list[str]]:
    """Per element, the ways a reply choosing `kind` on it begins, up to its number. Qwen writes a
    number digit by digit: where the number begins another listed one (1 and 17), the token after it
    (`}` or `,`) is part of the choice, else "1" would take 17's probability too."""
    colon, comma = json_style(written)
    head = f'{kind_opening(kind, written)}"{comma}"id"{colon}'
    digits = [str(i) for i in ids]
    out: dict[int, list[str]] = {}
    for i, d in zip(ids, digits, strict=True):
        prefix = any(o != d and o.startswith(d) for o in digits)
        out[i] = [head + d + "}", head + d + ","] if prefix else [head + d]
    return out


def draw_from(weights: dict[Any, float], temperature: float, seed: int) -> Any:
    """The key with the highest log-weight at temperature 0, else one sampled from the weights
    sharpened or flattened by `temperature` (seeded: a run is repeatable)."""
    ranked = sorted(weights.items(), key=lambda kv: -kv[1])
    if temperature <= 0 or len(ranked) == 1:
        return ranked[0][0]
    top = ranked[0][1]
    scaled = [math.exp((lp - top) / temperature) for _, lp in ranked]
    return random.Random(seed).choices([k for k, _ in ranked], weights=scaled)[0]


def choice_schema(choice: Choice) -> dict[str, Any]:
    """The action schema with the kind and element fixed: the model writes only the rest (text)."""
    kind, element = choice
    return {"title": "WebAction", **_variant(kind, None if element is None else {"const": element})}


def _variant(kind: str, id_schema: dict[str, Any] | None) -> dict[str, Any]:
    """One action kind's object schema (`id_schema`: what its element may be; None: no element)."""
    props: dict[str, Any] = {"action": {"const": kind}}
    if id_schema is not None:
        props["id"] = id_schema
    props |= {"text": {"type": "string"}, "enter": {"type": "boolean"}}
    required = [k for k in ("action", "id") if k in props]
    required += ["text"] if kind in NEEDS_TEXT or kind == "type" else []
    return {"type": "object", "properties": props, "required": required}


def logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


__all__ = [
    "TEXTLESS",
    "Choice",
    "choice_of",
    "choice_schema",
    "comparable_step",
    "departures",
    "divergence",
    "draw_from",
    "elsewhere_schema",
    "id_openings",
    "json_style",
    "kind_opening",
    "listed_ids",
    "logsumexp",
    "schema_model",
    "typed_from_goal",
    "walks_prefix",
]
