"""Guided-step text probe: what the embedded model types into a guided step's box, with the memory
notes a MiniWoB run recalled in view and without them.

Why: a guided step (the exemplar's box and Enter, the model's text) decides the episode by its text
alone, and the notes show other pages' labels and values. This takes one session's recall of one
task from a run (its results row names the recalled items and the coach's advice; the items come
from the run's memory.db), opens fresh pages of that family and asks the model for the box's text
both ways, with kind and element held by the schema as the navigator does.

    .venv/bin/python bench/guided_text_probe.py runs/web28/on --task simple-arithmetic#0 --session 2 --seeds 6

Prints one line per page (the box's label, the text with notes, the text without); the env's reward
is not read: the lines are for a person to check.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
from pathlib import Path


async def probe(run: Path, task_id: str, session: int, seeds: int, model: str) -> None:
    from agentmem.agents.base import ActContext
    from agentmem.agents.web_navigator import WebNavigator
    from agentmem.agents.web_rank import complete_choice
    from agentmem.envs.miniwob import make_task, miniwob_suite
    from agentmem.eval.miniwob import practice_seed
    from agentmem.llm import get_llm
    from agentmem.types import Advice, MemoryItem, ScoreParts, SearchHit, Task

    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines() if line]
    row = next(r for r in rows if r["session"] == session and r["task_id"] == task_id)
    db = sqlite3.connect(f"file:{run / 'memory.db'}?mode=ro", uri=True)
    hits = []
    for item_id in row["recalled_ids"]:
        found = db.execute("select kind, text, payload from memory_items where id=?", (item_id,)).fetchone()
        if found:
            kind, text, payload = found
            item = MemoryItem(namespace="probe", kind=kind, text=text, payload=json.loads(payload))
            hits.append(SearchHit(item=item, score=0.9, parts=ScoreParts(similarity=0.9, final=0.9)))
    advice = [Advice(text=a) for a in row.get("advice") or []]
    family = task_id.split("#")[0]
    llm = get_llm(model=model)
    agent = WebNavigator()
    async with miniwob_suite() as factory:
        for k in range(seeds):
            env = factory()
            seed = practice_seed(9_000, session, f"probe:{family}", k)  # no evaluated instance's seed
            obs = await env.reset(make_task(family, seed))
            task = Task(id=task_id, env="miniwob", goal=obs.data["goal"], meta={"family": family})
            ctx = ActContext(task=task, observation=obs, history=[], advice=advice, llm=llm, recalled=hits)
            box = next((e for e in obs.data["elements"] if e.get("role") == "textbox"), None)
            if box is None:
                print(f"{seed}: no text box on the page")
                await env.close()
                continue
            texts = []
            for with_notes in (True, False):
                messages = agent.build_messages(ctx, with_notes=with_notes)
                action, _ = await complete_choice(llm, messages, ("type", box["id"]), set(), max_tokens=60)
                texts.append(action.text)
            print(f"{seed}: box {box.get('name', '')!r} | with notes {texts[0]!r} | without {texts[1]!r}")
            await env.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a MiniWoB run's on-arm folder (results.jsonl, memory.db)")
    ap.add_argument("--task", required=True, help="the results row's task id, e.g. simple-arithmetic#0")
    ap.add_argument("--session", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    asyncio.run(probe(args.run, args.task, args.session, args.seeds, args.model))


if __name__ == "__main__":
    main()
