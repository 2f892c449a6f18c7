"""Loop overhead per step (model time excluded) and concurrency scaling 1→32 episodes.

    python bench/loop_bench.py                 # overhead (memory off/on) + scaling vs a loopback server
    python bench/loop_bench.py --model         # also: overhead share of an episode on the embedded 0.5B model

Scaling runs real OpenAICompatLLM requests against a loopback OpenAI-compatible server (a child
process) that answers every chat completion after a fixed delay, so ideal scaling is linear.
Prints one JSON object. Targets: overhead ≤ 5% of episode time with the embedded model; scaling
efficiency at 32 episodes ≥ 0.9.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pydantic import BaseModel

from agentmem.agents.base import ActContext, LLMAgent
from agentmem.envs.base import Observation, StepResult
from agentmem.types import Outcome, Task


class CountAction(BaseModel):
    op: Literal["inc", "dec", "submit"]


class CounterEnv:
    """Reach payload['target'] from 0 with inc/dec, then submit."""

    name = "counter"

    async def reset(self, task: Task) -> Observation:
        self.counter, self.target = 0, int(task.payload["target"])
        return Observation(text=f"counter={self.counter} target={self.target}")

    async def step(self, action: BaseModel) -> StepResult:
        assert isinstance(action, CountAction)
        if action.op == "submit":
            ok = self.counter == self.target
            return StepResult(
                observation=Observation(text="submitted"),
                reward=float(ok),
                done=True,
                outcome=Outcome(success=ok, score=float(ok), source="env"),
            )
        self.counter += 1 if action.op == "inc" else -1
        return StepResult(observation=Observation(text=f"counter={self.counter} target={self.target}"))

    async def close(self) -> None:
        return None


class CounterAgent(LLMAgent):
    name = "counter-agent"
    action_schema = CountAction

    def system_prompt(self, task: Task) -> str:
        return 'Reach the target counter with inc, then submit. Reply JSON {"op": "inc"|"dec"|"submit"}.'

    def user_prompt(self, ctx: ActContext) -> str:
        return f"Goal: {ctx.task.goal}\nObservation: {ctx.observation.text}"


def play(text: str) -> str:
    m = re.search(r"counter=(-?\d+) target=(-?\d+)", text)
    if not m:
        return json.dumps({"op": "submit"})
    counter, target = int(m.group(1)), int(m.group(2))
    return json.dumps({"op": "submit" if counter == target else ("inc" if counter < target else "dec")})


def task(i: int, steps: int) -> Task:
    return Task(
        id=f"t{i}", env="counter", goal=f"Make the counter equal {steps - 1}", payload={"target": steps - 1}
    )


# --- loopback OpenAI-compatible server ----------------------------------------------------------
def serve(port: int, delay: float) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        user = [m for m in body["messages"] if m["role"] == "user"]
        await asyncio.sleep(delay)
        text = play(str(user[-1]["content"]) if user else "")
        return JSONResponse(
            {
                "id": "cmpl-bench",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "bench"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 8, "total_tokens": 58},
            }
        )

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"loopback server did not start on port {port}")


# --- measurements -------------------------------------------------------------------------------
async def overhead(episodes: int, steps: int, memory_on: bool) -> dict[str, Any]:
    from agentmem.llm.scripted import ScriptedLLM
    from agentmem.loop import LoopConfig, run_episode

    llm = ScriptedLLM(default=lambda msgs: play(str(msgs[-1]["content"])))
    memory = None
    if memory_on:
        from agentmem.memory_store import AsyncMemory

        memory = AsyncMemory(namespace="bench", url=f"sqlite:///{tempfile.mkdtemp()}/bench.db")
        await memory.search("warm up the embedder", k=1)
    cfg = LoopConfig(max_steps=steps + 1, condense="fallback", advice_threshold=0.0)
    env, agent = CounterEnv(), CounterAgent()
    await run_episode(task(-1, steps), agent, env, llm=llm, memory=memory, config=cfg)  # warm-up
    wall = model = 0.0
    n_steps = 0
    for i in range(episodes):
        t0 = time.perf_counter()
        traj = await run_episode(task(i, steps), agent, env, llm=llm, memory=memory, config=cfg)
        wall += time.perf_counter() - t0
        model += traj.usage.latency_s
        n_steps += len(traj.steps)
    if memory is not None:
        await memory.aclose()
    return {
        "memory": "on" if memory_on else "off",
        "episodes": episodes,
        "steps": n_steps,
        "overhead_ms_per_step": round(1000 * (wall - model) / n_steps, 3),
        "scripted_model_ms_per_step": round(1000 * model / n_steps, 3),
    }


async def model_share(steps: int) -> dict[str, Any]:
    from agentmem.llm import get_llm
    from agentmem.loop import LoopConfig, run_episode

    llm = get_llm(backend="llamacpp", model="qwen2.5-coder-0.5b", max_tokens=24, n_ctx=1024)
    await llm.warm_up()  # type: ignore[attr-defined]
    cfg = LoopConfig(max_steps=steps + 1, memory_mode="off")
    t0 = time.perf_counter()
    traj = await run_episode(task(0, steps), CounterAgent(), CounterEnv(), llm=llm, config=cfg)
    wall = time.perf_counter() - t0
    model = traj.usage.latency_s
    return {
        "model": "qwen2.5-coder-0.5b (llama.cpp, CPU)",
        "steps": len(traj.steps),
        "episode_s": round(wall, 3),
        "model_s": round(model, 3),
        "overhead_share": round((wall - model) / wall, 4),
        "target_share": 0.05,
    }


async def scaling(port: int, steps: int, levels: list[int], delay: float) -> dict[str, Any]:
    from agentmem.llm.openai_compat import OpenAICompatLLM
    from agentmem.loop import LoopConfig, run_episodes

    llm = OpenAICompatLLM(
        "bench", base_url=f"http://127.0.0.1:{port}/v1", structured="prompt", max_concurrency=256
    )
    cfg = LoopConfig(max_steps=steps + 1, memory_mode="off")
    await run_episodes(
        [task(0, 2)], CounterAgent(), CounterEnv, llm=llm, concurrency=1, config=cfg
    )  # warm pool
    rows = []
    base = None
    for c in levels:
        t0 = time.perf_counter()
        trajs = await run_episodes(
            [task(i, steps) for i in range(c)], CounterAgent(), CounterEnv, llm=llm, concurrency=c, config=cfg
        )
        wall = time.perf_counter() - t0
        done = sum(len(t.steps) for t in trajs)
        assert all(t.outcome.success for t in trajs), [t.error for t in trajs if not t.outcome.success]
        throughput = done / wall
        base = base or throughput
        rows.append(
            {
                "episodes": c,
                "wall_s": round(wall, 3),
                "steps_per_s": round(throughput, 2),
                "efficiency": round(throughput / (base * c), 3),
            }
        )
    await llm.aclose()
    return {
        "server_delay_s": delay,
        "steps_per_episode": steps,
        "levels": rows,
        "target_efficiency_at_32": 0.9,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--delay", type=float, default=0.2, help="loopback server answer delay (s)")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--levels", default="1,2,4,8,16,32")
    ap.add_argument(
        "--model", action="store_true", help="also measure the overhead share with the embedded model"
    )
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.delay)
        return

    out: dict[str, Any] = {"bench": "loop", "cpus": os.cpu_count()}
    if args.episodes > 0:  # --episodes 0: scaling only
        out["overhead"] = [asyncio.run(overhead(args.episodes, args.steps, m)) for m in (False, True)]
    if args.model:
        out["embedded_model"] = asyncio.run(model_share(4))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", str(port), "--delay", str(args.delay)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        levels = [int(x) for x in args.levels.split(",")]
        out["scaling"] = asyncio.run(scaling(port, args.steps, levels, args.delay))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
