"""WebVoyager runner + judge on a local fixture site, the MiniWoB eval, resume, and the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentmem.envs.web import StaticSiteServer, chromium_path
from agentmem.errors import DataError
from agentmem.eval.miniwob import MiniWoBEvalConfig, episode_seed, practice_seed, run_miniwob_eval
from agentmem.eval.webvoyager import (
    WebVoyagerEvalConfig,
    load_webvoyager,
    parse_verdict,
    reference_answers,
    run_webvoyager_eval,
)
from agentmem.llm.scripted import ScriptedLLM
from tests.conftest import require_service

SITE = Path(__file__).parents[1] / "envs" / "fixtures" / "site"


@pytest.fixture
def chromium():
    require_service("chromium", chromium_path() is not None, "apt-get install chromium")


def test_packaged_webvoyager_data_loads_in_its_own_format(tmp_path):
    tasks = load_webvoyager()
    assert len(tasks) == 643 and len({t.id for t in tasks}) == 643
    first = tasks[0]
    assert (
        first.env == "web"
        and first.payload["url"].startswith("https://")
        and first.meta["family"] == first.payload["web_name"]
    )
    assert {t.meta["family"] for t in load_webvoyager(sites=["GitHub"])} == {"GitHub"}
    refs = reference_answers()
    assert first.id in refs and refs[first.id]["answer"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"web_name": "x", "id": "x--0"}\n', encoding="utf-8")
    with pytest.raises(DataError):
        load_webvoyager(bad)
    license_file = Path(__file__).parents[2] / "envs" / "data" / "webvoyager" / "LICENSE"
    assert "Apache License" in license_file.read_text(encoding="utf-8")


def test_parse_verdict():
    assert parse_verdict("The page shows it.\nSUCCESS") is True
    assert parse_verdict("Only half done.\nNOT SUCCESS") is False
    assert parse_verdict("success? no. NOT  SUCCESS") is False
    assert parse_verdict("I cannot tell.") is None


def _agent(messages) -> str:
    """Stands in for the navigator's model on the fixture site (reads only the prompt)."""
    text = messages[-1]["content"]
    goal = re.search(r"^Goal: (.*)$", text, re.M).group(1)
    url = re.search(r"^URL: (.*)$", text, re.M).group(1)
    if "mug" in goal.lower():
        return json.dumps({"action": "answer", "text": "$99"})  # a wrong answer, judged NOT SUCCESS
    if url.endswith("index.html"):
        box = re.search(r'\[(\d+)\] textbox "Search"', text).group(1)
        return json.dumps({"action": "type", "id": int(box), "text": "kettle", "enter": True})
    if "search.html" in url:
        return json.dumps(
            {"action": "click", "id": int(re.search(r'\[(\d+)\] link "Red Kettle"', text).group(1))}
        )
    return json.dumps({"action": "answer", "text": "$25"})


def _judge(seen: list):
    def reply(messages) -> str:
        content = messages[-1]["content"]
        images = [p for p in content if p["type"] == "image_url"]
        text = content[0]["text"]
        seen.append({"images": len(images), "text": text})
        assert all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in images)
        return (
            "The screenshots show the price.\nSUCCESS"
            if "Result Response: $25" in text
            else "Wrong.\nNOT SUCCESS"
        )

    return reply


@pytest.mark.browser
async def test_webvoyager_runner_with_judge_on_local_site_and_resume(chromium, tmp_path):
    with StaticSiteServer(SITE) as server:
        data = tmp_path / "tasks.jsonl"
        rows = [
            {
                "web_name": "TinyShop",
                "id": "TinyShop--0",
                "ques": "What is the price of the red kettle?",
                "web": f"{server.base_url}/index.html",
            },
            {
                "web_name": "TinyShop",
                "id": "TinyShop--1",
                "ques": "What does the blue mug cost?",
                "web": f"{server.base_url}/index.html",
            },
        ]
        data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        out = tmp_path / "run"
        cfg = WebVoyagerEvalConfig(
            data=data, out=out, memory="on", embedder="hash-64", condense="fallback", max_steps=5,
            judge_k=2, progress=False,
        )  # fmt: skip
        seen: list = []
        summary = await run_webvoyager_eval(
            cfg, llm=ScriptedLLM(default=_agent), judge_llm=ScriptedLLM(default=_judge(seen))
        )
        results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        by_id = {r["task_id"]: r for r in results}
        assert by_id["TinyShop--0"]["solved"] is True and by_id["TinyShop--1"]["solved"] is False
        assert by_id["TinyShop--0"]["steps"] == 3 and by_id["TinyShop--0"]["details"]["answer"] == "$25"
        assert "SUCCESS" in by_id["TinyShop--0"]["details"]["judge"]
        assert len(seen) == 2 and all(1 <= s["images"] <= 2 for s in seen) and seen[0]["images"] == 2
        assert any("TASK: What is the price of the red kettle?" in s["text"] for s in seen)
        shots = by_id["TinyShop--0"]["details"]["screenshots"]
        assert len(shots) >= 3 and all((out / p).is_file() for p in shots)  # per-step screenshots
        assert (
            summary["sessions"] == [s for s in summary["sessions"] if s["n"] == 2]
            and summary["sessions"][0]["solved"] == 1
        )
        saved = json.loads((out / "summary.json").read_text())
        assert saved["sessions"][0]["rate"] == 0.5 and saved["benchmark"] == "webvoyager"
        assert (out / "learning_curve.png").stat().st_size > 0
        assert "data:image/png;base64," in (out / "report.html").read_text()
        assert by_id["TinyShop--0"]["memory_size"] > 0

        # resume: nothing left to do -> no model call at all, no new rows
        idle = ScriptedLLM()  # raises if called
        await run_webvoyager_eval(cfg, llm=idle, judge_llm=idle)
        assert idle.calls == [] and len((out / "results.jsonl").read_text().splitlines()) == 2
        # a run killed after one row: only the missing task runs again
        lines = (out / "results.jsonl").read_text().splitlines()
        keep = [line for line in lines if json.loads(line)["task_id"] == "TinyShop--0"]
        (out / "results.jsonl").write_text("\n".join(keep) + "\n" + '{"benchmark": "webvoy', encoding="utf-8")
        again = ScriptedLLM(default=_agent)
        summary = await run_webvoyager_eval(cfg, llm=again, judge_llm=ScriptedLLM(default=_judge([])))
        assert len(again.calls) == 1  # the mug task answers at once
        from agentmem.eval.harness import ResultsLog

        assert sorted(r.task_id for r in ResultsLog(out / "results.jsonl").load()) == [
            "TinyShop--0",
            "TinyShop--1",
        ]
        assert summary["sessions"][0]["n"] == 2


def _miniwob_solver(messages) -> str:
    text = messages[-1]["content"]
    goal = re.search(r"^Goal: (.*)$", text, re.M).group(1)
    m = re.match(r'Click on the "(.+)" button', goal)
    if m:
        return json.dumps(
            {
                "action": "click",
                "id": int(re.search(rf'\[(\d+)\] button "{re.escape(m.group(1))}"', text).group(1)),
            }
        )
    name = re.match(r'Enter "(.+)" into', goal).group(1)
    if "Your last actions" not in text:
        return json.dumps(
            {"action": "type", "id": int(re.search(r"\[(\d+)\] textbox", text).group(1)), "text": name}
        )
    return json.dumps({"action": "click", "id": int(re.search(r'\[(\d+)\] button "Submit"', text).group(1))})


@pytest.mark.browser
async def test_miniwob_eval_sessions_draw_fresh_seeds_and_write_outputs(chromium, tmp_path):
    out = tmp_path / "mw"
    cfg = MiniWoBEvalConfig(
        tasks="click-button,enter-text", sessions=2, memory="on", embedder="hash-64", out=out,
        max_steps=4, concurrency=2, screenshot_episodes=1, progress=False,
    )  # fmt: skip
    summary = await run_miniwob_eval(cfg, llm=ScriptedLLM(default=_miniwob_solver))
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["solved"] for r in rows), [r["details"]["actions"] for r in rows]
    for r in rows:
        assert r["details"]["seed"] == episode_seed(0, r["session"], r["level"], 0)
    goals = {(r["session"], r["task_id"]): r["details"]["goal"] for r in rows}
    assert goals[(1, "enter-text#0")] != goals[(2, "enter-text#0")], "session 2 must see a fresh instance"
    assert [s["rate"] for s in summary["sessions"]] == [1.0, 1.0]
    assert set(summary["steps_per_success"]) == {"1", "2"}
    assert any(r["recalled_ids"] for r in rows if r["session"] == 2), (
        "session 2 should recall session 1's memory"
    )
    # why replay took no step is kept per episode (session 1 has nothing to replay yet)
    assert {r["details"]["replay_stop"] for r in rows if r["session"] == 1} == {"step 1: no exemplar"}
    assert sum(1 for r in rows if r["details"]["screenshots"]) == 2  # one episode per session
    assert json.loads((out / "summary.json").read_text())["steps_per_success"]["1"] > 0


@pytest.mark.browser
async def test_miniwob_practice_runs_failed_families_on_their_own_seeds(chromium, tmp_path):
    starts = {"enter-text": 0}

    def first_enter_text_fails(messages) -> str:
        text = messages[-1]["content"]
        enter_text = re.search(r"^Goal: (.*)$", text, re.M).group(1).startswith("Enter ")
        if enter_text and "Your last actions" not in text:
            starts["enter-text"] += 1
        if enter_text and starts["enter-text"] == 1:
            submit = re.search(r'\[(\d+)\] button "Submit"', text).group(1)
            return json.dumps({"action": "click", "id": int(submit)})  # an empty answer: reward < 0
        return _miniwob_solver(messages)

    out = tmp_path / "mw"
    cfg = MiniWoBEvalConfig(
        tasks="click-button,enter-text", sessions=2, memory="on", embedder="hash-64", out=out,
        max_steps=4, concurrency=1, screenshot_episodes=0, practice=2, progress=False,
    )  # fmt: skip
    summary = await run_miniwob_eval(cfg, llm=ScriptedLLM(default=first_enter_text_fails))
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    solved = {(r["session"], r["task_id"]): r["solved"] for r in rows}
    assert solved == {
        (1, "click-button#0"): True, (1, "enter-text#0"): False,
        (2, "click-button#0"): True, (2, "enter-text#0"): True,
    }  # fmt: skip
    practice = [json.loads(line) for line in (out / "practice.jsonl").read_text().splitlines()]
    # Only the failed family practises, once: its first practice episode succeeded.
    assert [(p["session"], p["task_id"], p["solved"]) for p in practice] == [(2, "enter-text#p0", True)]
    assert practice[0]["details"]["seed"] == practice_seed(0, 2, "enter-text", 0)
    assert practice[0]["details"]["seed"] not in {r["details"]["seed"] for r in rows}
    assert practice[0]["memory_size"] > max(r["memory_size"] for r in rows if r["session"] == 1)
    assert summary["practice"] == {"2": {"episodes": 1, "solved": 1, "families_solved": 1}}
    assert [s["n"] for s in summary["sessions"]] == [2, 2], "practice is not scored as a session"
    again = await run_miniwob_eval(cfg, llm=ScriptedLLM(default=first_enter_text_fails))
    assert again["practice"] == summary["practice"], "a rerun resumes: no practice episode twice"


def test_practice_needs_memory_on():
    with pytest.raises(ValueError, match="--practice needs --memory on"):
        MiniWoBEvalConfig(memory="off", practice=1)


def test_episode_seeds_depend_on_session_not_memory_mode():
    a = episode_seed(7, 1, "click-button", 0)
    assert a == episode_seed(7, 1, "click-button", 0)
    assert len({episode_seed(7, s, "click-button", 0) for s in range(1, 6)}) == 5
    assert a != episode_seed(8, 1, "click-button", 0) and a != episode_seed(7, 1, "click-link", 0)


def test_cli_registers_both_commands_with_their_flags():
    from agentmem.cli import app

    runner = CliRunner()
    help_mw = runner.invoke(app, ["eval", "miniwob", "--help"])
    assert help_mw.exit_code == 0
    for flag in ("--tasks", "--episodes", "--sessions", "--memory", "--concurrency", "--seed", "--out"):
        assert flag in help_mw.output
    help_wv = runner.invoke(app, ["eval", "webvoyager", "--help"])
    assert help_wv.exit_code == 0 and "--data" in help_wv.output and "--judge" in help_wv.output
    bad = runner.invoke(app, ["eval", "miniwob", "--memory", "sometimes"])
    assert bad.exit_code != 0
