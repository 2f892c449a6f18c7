"""LLM layer benchmark (not a test): embedded-model speed, structured-call latency, CLI start-up.

Prints one JSON object. Numbers depend on the machine and on its load: run it on an idle box.
    .venv/bin/python bench/llm_bench.py [--models qwen2.5-coder-0.5b qwen2.5-coder-1.5b] [--threads N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
]


class Person(BaseModel):
    name: str
    age: int
    city: str


def cli_help_ms(runs: int = 5) -> dict:
    exe = str(Path(sys.executable).with_name("agentmem"))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([exe, "--help"], capture_output=True, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1), "runs": runs}


async def bench_model(name: str, threads: int | None, reps: int) -> dict:
    from agentmem.llm.llamacpp import LlamaCppLLM

    llm = LlamaCppLLM(name, n_ctx=4096, n_threads=threads, max_tokens=128)
    started = time.perf_counter()
    await llm.warm_up()
    load_s = time.perf_counter() - started

    prompt_tps, gen_tps, structured = [], [], []
    for rep in range(reps):
        # A fresh ~400-token prompt each time (different first word), so llama.cpp's prefix cache can't help.
        text = " ".join(WORDS[(rep + i) % len(WORDS)] for i in range(400))
        out = await llm.chat([{"role": "user", "content": f"{rep}: {text}\nReply OK."}], max_tokens=1)
        prompt_tps.append(out.usage.prompt_tokens / out.latency_s)

        out = await llm.chat(
            [{"role": "user", "content": f"({rep}) List 40 different fruits, one per line, numbered."}],
            max_tokens=128,
        )
        prompt_part = out.usage.prompt_tokens / prompt_tps[-1]
        gen_tps.append(out.usage.completion_tokens / max(out.latency_s - prompt_part, 1e-6))

        out = await llm.chat(
            [{"role": "user", "content": f"({rep}) Invent a person: name, age and city."}], schema=Person
        )
        structured.append(
            {"latency_s": out.latency_s, "attempts": out.attempts, "tokens": out.usage.completion_tokens}
        )
    return {
        "model": name,
        "n_threads": llm.n_threads,
        "load_s": round(load_s, 2),
        "prompt_tok_per_s": round(statistics.median(prompt_tps), 1),
        "generation_tok_per_s": round(statistics.median(gen_tps), 1),
        "structured_call": {
            "median_latency_s": round(statistics.median(s["latency_s"] for s in structured), 2),
            "completion_tokens": statistics.median(s["tokens"] for s in structured),
            "max_attempts": max(s["attempts"] for s in structured),
        },
        "reps": reps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_avg": os.getloadavg()},
        "agentmem_help": cli_help_ms(),
        "models": [asyncio.run(bench_model(m, args.threads, args.reps)) for m in args.models],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
