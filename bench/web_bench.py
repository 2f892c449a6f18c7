"""Browser overhead per step, model time excluded: MiniWoB episodes driven by a hand-written policy.

Measures, through the real env (Playwright + Debian Chromium): reset (page load + seeded start),
step (action + settle + reward read + observation snapshot), and a bare observation. Target: a step
costs <= 100 ms of browser time, so the model dominates an episode. Prints one JSON object.

    python bench/web_bench.py --episodes 40 --concurrency 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from typing import Any

from agentmem.envs.base import Observation
from agentmem.envs.miniwob import make_task, miniwob_suite
from agentmem.envs.web import WebAction

TASKS = [
    "click-button",
    "click-link",
    "enter-text",
    "login-user",
    "choose-list",
    "click-checkboxes",
    "focus-text",
]


def _el(obs: Observation, role: str | None = None, name: str | None = None) -> int:
    for e in obs.data["elements"]:
        if (role is None or e["role"] == role) and (name is None or e.get("name") == name):
            return e["id"]
    raise LookupError(f"{role} {name}")


def plan(task: str, obs: Observation) -> list[WebAction]:
    """The first actions of a correct solution (the bench needs realistic actions, not a solver)."""
    goal = obs.data["goal"]
    quoted = re.findall(r'"([^"]+)"', goal)
    if task == "click-button":
        return [WebAction(action="click", id=_el(obs, "button", quoted[0]))]
    if task == "click-link":
        return [WebAction(action="click", id=_el(obs, name=quoted[0]))]
    if task == "enter-text":
        return [
            WebAction(action="type", id=_el(obs, "textbox"), text=quoted[0]),
            WebAction(action="click", id=_el(obs, "button", "Submit")),
        ]
    if task == "login-user":
        return [
            WebAction(action="type", id=_el(obs, "textbox", "Username"), text=quoted[0]),
            WebAction(action="type", id=_el(obs, "textbox", "Password"), text=quoted[1]),
            WebAction(action="click", id=_el(obs, "button", "Login")),
        ]
    if task == "choose-list":
        wanted = re.match(r"Select (.+) from the list", goal).group(1)
        return [
            WebAction(action="select", id=_el(obs, "combobox"), text=wanted),
            WebAction(action="click", id=_el(obs, "button", "Submit")),
        ]
    if task == "click-checkboxes":
        names = re.match(r"Select (.*) and click Submit", goal).group(1)
        picks = (
            [] if names == "nothing" else [n.strip() for n in re.split(r",\s*|\s+and\s+", names) if n.strip()]
        )
        acts = [WebAction(action="click", id=_el(obs, "checkbox", n)) for n in picks]
        return [*acts, WebAction(action="click", id=_el(obs, "button", "Submit"))]
    if task == "focus-text":
        return [WebAction(action="click", id=_el(obs, "textbox"))]
    raise ValueError(task)


async def run(episodes: int, concurrency: int) -> dict[str, Any]:
    resets: list[float] = []
    steps: list[float] = []
    observes: list[float] = []
    solved = 0
    async with miniwob_suite() as factory:
        envs = [factory() for _ in range(concurrency)]
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(episodes):
            queue.put_nowait(i)

        async def worker(env: Any) -> None:
            nonlocal solved
            while not queue.empty():
                i = queue.get_nowait()
                task = TASKS[i % len(TASKS)]
                t0 = time.perf_counter()
                obs = await env.reset(make_task(task, 1000 + i))
                resets.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                await env.snapshot()
                observes.append(time.perf_counter() - t0)
                result = None
                for action in plan(task, obs):
                    t0 = time.perf_counter()
                    result = await env.step(action)
                    steps.append(time.perf_counter() - t0)
                    if result.done:
                        break
                solved += int(bool(result and result.done and result.reward > 0))

        started = time.perf_counter()
        await asyncio.gather(*(worker(e) for e in envs))
        wall = time.perf_counter() - started

    def ms(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        return {
            "mean": round(1000 * statistics.fmean(xs), 1),
            "p50": round(1000 * xs[len(xs) // 2], 1),
            "p95": round(1000 * xs[min(len(xs) - 1, int(0.95 * len(xs)))], 1),
            "n": len(xs),
        }

    step_ms = ms(steps)
    return {
        "bench": "web_env_overhead",
        "episodes": episodes,
        "concurrency": concurrency,
        "solved_by_scripted_policy": solved,
        "step_ms": step_ms,
        "observe_ms": ms(observes),
        "reset_ms": ms(resets),
        "wall_s": round(wall, 2),
        "target_step_ms": 100,
        "meets_target": step_ms["mean"] <= 100,
    }


async def audit() -> dict[str, Any]:
    """Start every shipped task once: does it load offline, reach WOB_TASK_READY and give a goal?"""
    from agentmem.envs.miniwob import EXCLUDED, all_tasks

    ok: list[str] = []
    failed: dict[str, str] = {}
    external: dict[str, list[str]] = {}
    async with miniwob_suite() as factory:
        env = factory()
        for name in all_tasks():
            seen: list[str] = []
            try:
                await env.reset(make_task(name, 1))
                assert env._page is not None
                # requests made after load (timers, lazy assets) show up here too
                env._page.on("request", lambda r, seen=seen: seen.append(r.url))
                await env.snapshot()
                ok.append(name)
            except Exception as exc:
                failed[name] = f"{type(exc).__name__}: {str(exc)[:160]}"
            base = env.server.base_url
            bad = [u for u in seen if not u.startswith((base, "data:", "about:", "blob:"))]
            if bad:
                external[name] = bad[:5]
    return {
        "bench": "miniwob_offline_audit",
        "shipped": len(ok) + len(failed),
        "start_offline": len(ok),
        "failed": failed,
        "external_requests": external,
        "suite": len([t for t in ok if t not in EXCLUDED]),
        "excluded_by_action_space": len(EXCLUDED),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=35)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--audit", action="store_true", help="start every shipped task once, offline")
    args = parser.parse_args()
    result = asyncio.run(audit()) if args.audit else asyncio.run(run(args.episodes, args.concurrency))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
