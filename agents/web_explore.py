"""Exploration for the web navigator: how a new episode's path is compared with a remembered
failure's, where it departs from that failure, and the narrowed action schema a redraw uses.

Why a module of its own: the navigator decides when to explore; these are the pure parts (step
comparison, the departure point, the schema) that its tests and the replay code share.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import model_validator

from agentmem.envs.base import Observation
from agentmem.envs.web import NEEDS_ID, NEEDS_TEXT, ActionName, WebAction

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


def elsewhere_schema(obs: Observation, banned: set[Choice]) -> type[WebAction] | None:
    """The action schema without the choices a redraw must leave out (those that retraced a failure
    at this step: an action kind on an element, or a kind with none): grammar-constrained decoding
    then gives the model's next choice instead of the same one again, while another action on that
    element stays open (a date field typed into three times may still be clicked). None when nothing
    is left to choose."""
    ids = sorted({int(e["id"]) for e in obs.data.get("elements", []) if "id" in e})
    variants = []
    for kind in get_args(ActionName):
        props: dict[str, Any] = {"action": {"const": kind}}
        if kind in NEEDS_ID:
            left = [i for i in ids if (kind, i) not in banned]
            if not left:
                continue
            props["id"] = {"enum": left}
        elif (kind, None) in banned:
            continue
        props |= {"text": {"type": "string"}, "enter": {"type": "boolean"}}
        required = [k for k in ("action", "id") if k in props]
        required += ["text"] if kind in NEEDS_TEXT or kind == "type" else []
        variants.append({"type": "object", "properties": props, "required": required})
    if not variants:
        return None
    schema = {"title": "WebAction", "anyOf": variants}

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


__all__ = [
    "TEXTLESS",
    "Choice",
    "choice_of",
    "comparable_step",
    "departures",
    "divergence",
    "elsewhere_schema",
    "typed_from_goal",
    "walks_prefix",
]
