"""The planner–executor through the real loop, env, sandbox and memory, with a scripted model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentmem.agents.deep_research import (
    DeepResearchAgent,
    DeepResearchConfig,
    clean_answer,
    grounded,
)
from agentmem.envs.research import ResearchEnv
from agentmem.llm.scripted import ScriptedLLM
from agentmem.loop import LoopConfig, run_episode
from agentmem.types import Task

CODE = "import pandas as pd\ndf = pd.read_csv(FILES['sales.csv'])\nprint(int(df.units.sum()))"
LONG_CODE = (  # past the case text's 160-character clip of a call
    "import pandas as pd\ndf = pd.read_csv(FILES['sales.csv'])\n"
    "by_month = df.groupby('month')['units'].sum().sort_values(ascending=False)\n"
    "print(by_month.to_string())\nprint(int(df.units.sum()))"
)


def role(messages: list[dict[str, Any]]) -> str:
    system = messages[0]["content"]
    if system.startswith("You plan"):
        return "plan"
    if system.startswith("You carry out"):
        return "exec"
    if system.startswith("You decide"):
        return "review"
    return "other"


class Router:
    """A scripted model that answers by role (planner/executor/reviewer), each from its own queue."""

    def __init__(self, **queues: list[Any]):
        self.queues = {k: list(v) for k, v in queues.items()}
        self.seen: dict[str, list[str]] = {}

    def __call__(self, messages: list[dict[str, Any]]) -> Any:
        r = role(messages)
        self.seen.setdefault(r, []).append(messages[-1]["content"])
        queue = self.queues.get(r) or []
        if not queue:
            raise AssertionError(f"no scripted reply left for {r}")
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def attached(tmp_path: Path) -> Path:
    d = tmp_path / "files"
    d.mkdir()
    (d / "sales.csv").write_text("month,units\nJan,12\nFeb,30\nMar,5\n")
    return d / "sales.csv"


def _task(path: Path, tid: str = "q1", question: str = "How many units were sold in total?") -> Task:
    return Task(id=tid, env="research", goal=question, payload={"question": question, "file_path": str(path)})


def _cfg(**kw: Any) -> LoopConfig:
    base = dict(max_steps=10, memory_mode="off", coach_every=0, coach_on_signals=False, condense="fallback")
    return LoopConfig(**(base | kw))


PLAN = {
    "subtasks": [
        {"goal": "look at the table", "tool": "read_file"},
        {"goal": "sum units", "tool": "run_python"},
    ]
}


async def test_plan_execute_answer_verified(attached: Path) -> None:
    router = Router(
        plan=[PLAN],
        exec=[
            {"tool": "read_file", "args": {"path": "sales.csv"}},
            {"tool": "done", "result": "columns month, units"},
            {"tool": "run_python", "args": {"code": CODE}},
            {"tool": "done", "result": "total 47"},
        ],
        review=[{"decision": "answer", "answer": "Final answer: 47."}],
    )
    llm = ScriptedLLM(default=router)
    traj = await run_episode(_task(attached), DeepResearchAgent(), ResearchEnv(), llm=llm, config=_cfg())
    assert traj.answer == "47"
    assert traj.outcome.source == "verifier" and traj.outcome.success is True
    tools = [s.action["tool"] for s in traj.steps if s.action["kind"] == "tool"]
    assert tools == ["read_file", "run_python"]
    assert "47" in traj.steps[1].observation
    # the executor saw the earlier subtask's result and the tool output it asked for
    assert any("columns month, units" in p for p in router.seen["exec"])
    assert any("Feb,30" in p for p in router.seen["exec"])


async def test_tool_error_is_seen_and_recovered(attached: Path) -> None:
    router = Router(
        plan=[{"subtasks": [{"goal": "compute total", "tool": "run_python"}]}],
        exec=[
            {"tool": "read_file", "args": {"path": "missing.csv"}},
            {"tool": "run_python", "args": {"code": CODE}},
            {"tool": "done", "result": "47"},
        ],
        review=[{"decision": "answer", "answer": "47"}],
    )
    traj = await run_episode(
        _task(attached), DeepResearchAgent(), ResearchEnv(), llm=ScriptedLLM(default=router), config=_cfg()
    )
    assert traj.steps[0].error and "no such file" in traj.steps[0].error
    assert any("ERROR: read_file: no such file" in p for p in router.seen["exec"])
    assert traj.answer == "47" and traj.outcome.success is True


async def test_replanning_is_bounded(attached: Path) -> None:
    router = Router(
        plan=[{"subtasks": [{"goal": "look at the table", "tool": "read_file"}]}],
        exec=[
            {"tool": "read_file", "args": {"path": "sales.csv"}},
            {"tool": "done", "result": "table read"},
            {"tool": "run_python", "args": {"code": CODE}},
            {"tool": "done", "result": "47"},
        ],
        review=[
            {"decision": "replan", "subtasks": [{"goal": "sum units", "tool": "run_python"}]},
            {"decision": "replan", "subtasks": [{"goal": "again", "tool": "run_python"}]},  # over the bound
        ],
    )
    agent = DeepResearchAgent(DeepResearchConfig(max_replans=1))
    traj = await run_episode(
        _task(attached), agent, ResearchEnv(), llm=ScriptedLLM(default=router), config=_cfg()
    )
    assert len(router.seen["review"]) == 2
    # second review may not replan: its (empty) answer is taken, and not verified
    assert traj.outcome.success is False and traj.answer == ""
    plans = [s.thought for s in traj.steps if s.thought.startswith("subtask")]
    assert "subtask 1: sum units" in plans  # the replanned subtask ran


async def test_step_budget_forces_an_answer(attached: Path) -> None:
    router = Router(
        plan=[PLAN],
        exec=[{"tool": "read_file", "args": {"path": "sales.csv"}}],  # never says done
        review=[{"decision": "answer", "answer": "30"}],
    )
    agent = DeepResearchAgent(DeepResearchConfig(max_calls_per_subtask=8))
    traj = await run_episode(
        _task(attached), agent, ResearchEnv(), llm=ScriptedLLM(default=router), config=_cfg(max_steps=4)
    )
    assert len(traj.steps) == 4
    last = traj.steps[-1]
    assert last.action["kind"] == "answer" and "step budget" in last.thought
    assert traj.answer == "30" and traj.outcome.success is True  # 30 is in the table it read


async def test_model_failure_is_a_step_error_not_a_crash(attached: Path) -> None:
    llm = ScriptedLLM(default="not json at all", max_repairs=0)
    traj = await run_episode(
        _task(attached),
        DeepResearchAgent(),
        ResearchEnv(),
        llm=llm,
        config=_cfg(max_steps=3, max_consecutive_errors=2),
    )
    assert traj.steps and all(s.error and "LLMOutputError" in s.error for s in traj.steps)
    assert traj.outcome.success is False


def test_helpers() -> None:
    assert clean_answer(" Final answer: 'Maryland'. ") == "Maryland"
    assert clean_answer("Answer - 3.8") == "3.8"
    assert grounded("84.87", ["mean is 84.866666"]) and not grounded("84.8", ["84.866"])
    assert grounded("1,234", ["total 1234"]) and grounded("district of columbia", ["District of Columbia,1"])
    assert not grounded("Ohio", ["Iowa"]) and not grounded("", ["x"])


def _three_questions(attached: Path, tmp_path: Path) -> tuple[Any, Router]:
    """A GAIA-layout split of three questions and a scripted model that answers 47, Nov, Mar."""
    split = tmp_path / "gaia" / "validation"
    split.mkdir(parents=True)
    (split / "sales.csv").write_text(attached.read_text())
    rows = [
        {"task_id": "t-sum", "Question": "How many units were sold in total?", "Level": 1,
         "Final answer": "LABEL-SECRET-1", "file_name": "sales.csv"},
        {"task_id": "t-max", "Question": "Which month sold the most units?", "Level": 2,
         "Final answer": "LABEL-SECRET-2", "file_name": "sales.csv"},
        {"task_id": "t-min", "Question": "Which month sold the fewest units?", "Level": 2,
         "Final answer": "Mar", "file_name": "sales.csv"},
    ]  # fmt: skip
    (split / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    answers = iter(["47", "Nov", "Mar"])  # 47: grounded (verified); Nov: not in any output (unverified)

    def review(_: Any) -> dict[str, str]:
        return {"decision": "answer", "answer": next(answers)}

    router = Router(
        plan=[PLAN],
        exec=[
            {"tool": "read_file", "args": {"path": "sales.csv"}},
            {"tool": "done", "result": "see table"},
            {"tool": "run_python", "args": {"code": LONG_CODE}},
            {"tool": "done", "result": "computed"},
        ],
    )
    router.queues["review"] = [None]

    def dispatch(messages: list[dict[str, Any]]) -> Any:
        if role(messages) == "review":
            router.seen.setdefault("review", []).append(messages[-1]["content"])
            return review(messages)
        return router(messages)

    return dispatch, router


async def test_cases_memory_and_no_label_leak(attached: Path, tmp_path: Path) -> None:
    """Through the eval runner: labels score rows but never reach memory; the next episode's planner
    sees earlier cases labelled WORKED/FAILED."""
    from agentmem.eval.research_eval import ResearchRunConfig, run_research_eval
    from agentmem.memory_store import AsyncMemory

    dispatch, router = _three_questions(attached, tmp_path)
    db = tmp_path / "mem.db"
    cfg = ResearchRunConfig(
        benchmark="gaia", data_dir=tmp_path / "gaia", split="validation", out=tmp_path / "out",
        memory="on", memory_db=db, embedder="hash-64", cases_k=2, max_steps=10,
        case_min_overlap=0.0,  # three different kinds of question: show every case (the gate has its test)
    )  # fmt: skip
    summary = await run_research_eval(cfg, llm=ScriptedLLM(default=dispatch))
    result_rows = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    by_id = {r["task_id"]: r for r in result_rows}
    assert by_id["t-min"]["solved"] is True and by_id["t-sum"]["solved"] is False
    assert by_id["t-sum"]["details"]["tool_calls"][1]["tool"] == "run_python"
    assert summary["sessions"][0]["n"] == 3 and summary["sessions"][0]["solved"] == 1
    assert (tmp_path / "out" / "report.html").is_file() and (
        tmp_path / "out" / "learning_curve.png"
    ).is_file()

    mem = AsyncMemory(namespace="research", url=f"sqlite:///{db}", embedder="hash-64")
    try:
        dump = [await mem.get(i) for r in result_rows for i in r["recalled_ids"]]
        assert await mem.count() == 6  # an episode item + a case per question
        everything = await mem.search("units month sold", k=20)
        assert len(everything) == 6
        text = json.dumps([h.item.model_dump(mode="json") for h in everything])
        assert "LABEL-SECRET" not in text  # labels never written
        cases = {h.item.payload["task_id"]: h.item for h in everything if h.item.payload.get("case")}
        assert cases["t-sum"].payload["success"] is True  # the verifier's verdict, though the label disagrees
        assert cases["t-sum"].payload["source"] == "verifier"
        assert cases["t-max"].payload["success"] is False
    finally:
        await mem.aclose()
    assert dump  # later episodes recalled earlier cases
    # the third planner call saw the first case as WORKED and the second as FAILED
    third_plan = router.seen["plan"][2]
    assert "[WORKED] Q: How many units were sold in total?" in third_plan
    assert "[FAILED] Q: Which month sold the most units?" in third_plan
    # the executor of a later question sees the worked case's calls, quoted as data
    hinted = [e for e in router.seen["exec"] if "A similar question that WORKED made these calls" in e]
    assert hinted and "read_file(path='sales.csv')" in hinted[-1] and "UNTRUSTED_DATA" in hinted[-1]
    # ... with the question they answered, and the code whole (the case text clips it)
    assert "Q: How many units were sold in total?" in hinted[-1]
    assert "print(int(df.units.sum()))" in hinted[-1]
    assert "print(int(df.units.sum()))" not in cases["t-sum"].text
    assert all("WORKED made these calls" not in e for e in router.seen["exec"][:4])  # first question: none


async def test_a_plan_the_model_cannot_write_falls_back_to_the_question(attached: Path) -> None:
    """The planner's schema failed every repair: the executor still works, on the question itself."""
    router = Router(
        plan=[["units"]],  # not a Plan object, every time
        exec=[
            {"tool": "run_python", "args": {"code": CODE}},
            {"tool": "done", "result": "total 47"},
        ],
        review=[{"decision": "answer", "answer": "47"}],
    )
    agent = DeepResearchAgent()
    traj = await run_episode(
        _task(attached), agent, ResearchEnv(), llm=ScriptedLLM(default=router), config=_cfg()
    )
    assert len(router.seen["plan"]) == 3  # the bounded repair ran out first
    assert traj.answer == "47" and traj.outcome.success is True
    assert any("How many units were sold" in p for p in router.seen["exec"])


async def test_the_planner_sees_a_tables_header_line_as_quoted_data(attached: Path) -> None:
    from agentmem.envs.base import UNTRUSTED_OPEN

    router = Router(
        plan=[PLAN],
        exec=[{"tool": "done", "result": "nothing"}],
        review=[{"decision": "answer", "answer": "47"}],
    )
    await run_episode(
        _task(attached), DeepResearchAgent(), ResearchEnv(), llm=ScriptedLLM(default=router), config=_cfg()
    )
    prompt = router.seen["plan"][0]
    assert "Attached file: sales.csv; its first line:" in prompt
    assert prompt.index(UNTRUSTED_OPEN) < prompt.index("month,units")


async def test_a_training_run_teaches_memory_the_reference_verdicts_but_never_on_test(
    attached: Path, tmp_path: Path
) -> None:
    """learn_from=labels (a dev/training split): cases are marked by the reference, not the verifier."""
    from agentmem.errors import ConfigError
    from agentmem.eval.research_eval import ResearchRunConfig, run_research_eval
    from agentmem.memory_store import AsyncMemory

    dispatch, _router = _three_questions(attached, tmp_path)
    db = tmp_path / "mem.db"
    base = dict(benchmark="gaia", data_dir=tmp_path / "gaia", out=tmp_path / "out", memory="on",
                memory_db=db, embedder="hash-64", cases_k=2, max_steps=10, learn_from="labels")  # fmt: skip
    with pytest.raises(ConfigError, match="never on test"):
        await run_research_eval(ResearchRunConfig(split="test", **base), llm=ScriptedLLM(default=dispatch))
    with pytest.raises(ConfigError, match="memory on"):
        await run_research_eval(
            ResearchRunConfig(split="validation", **base | {"memory": "off"}),
            llm=ScriptedLLM(default=dispatch),
        )
    await run_research_eval(ResearchRunConfig(split="validation", **base), llm=ScriptedLLM(default=dispatch))
    mem = AsyncMemory(namespace="research", url=f"sqlite:///{db}", embedder="hash-64")
    try:
        items = await mem.search("units month sold", k=20)
        cases = {h.item.payload["task_id"]: h.item for h in items if h.item.payload.get("case")}
        assert cases["t-sum"].payload["success"] is False  # grounded "47", but the reference disagrees
        assert cases["t-min"].payload["success"] is True
        assert {c.payload["source"] for c in cases.values()} == {"label"}
        assert "(wrong)" in cases["t-sum"].text and "(right)" in cases["t-min"].text
        assert "LABEL-SECRET" not in json.dumps([h.item.model_dump(mode="json") for h in items])
    finally:
        await mem.aclose()


def test_a_cut_off_reply_never_passes_for_an_empty_call_finding_or_answer() -> None:
    from pydantic import ValidationError

    from agentmem.agents.deep_research import ExecStep, Review
    from agentmem.llm.structured import parse_structured

    kept = parse_structured('{"tool": "read_file", "args": {"path": "a.csv"}, "result": "long', ExecStep)
    assert kept.tool == "read_file" and kept.args == {"path": "a.csv"}
    for cut in (
        '{"tool": "run_python", "args": {"code": "import pan',
        '{"tool": "done", "result": "the mean',
    ):
        with pytest.raises(ValidationError):
            parse_structured(cut, ExecStep)
    with pytest.raises(ValidationError):
        parse_structured('{"decision": "answer", "answer": "3.1', Review)


def test_a_failed_case_or_episode_is_shown_without_its_answer() -> None:
    from agentmem.agents.deep_research import render_cases
    from agentmem.types import MemoryItem, ScoreParts, SearchHit

    def hit(task_id: str, success: bool, text: str, **payload: Any) -> SearchHit:
        payload |= {"task_id": task_id, "success": success}
        item = MemoryItem(namespace="r", kind="insight", text=text, payload=payload)
        return SearchHit(item=item, score=0.9, parts=ScoreParts(similarity=0.9, final=0.9))

    case = "Q: total of firm A in 1940-1943?\nCalls: read_file(path='g.csv')\nAnswer: 1486.7 (wrong)\n"
    case += 'Lessons: did not succeed: {"answer":"1486.7"}'
    episode = "Goal: total of firm B?\nKey steps: 2. answer -> Final answer submitted: 1486.7; value 11486.75"
    worked = "Q: which quarter peaked?\nAnswer: 2019Q4 (right)"
    hits = [
        hit("a", False, case, case=True, answer="1486.7"),
        hit("b", False, episode, actions=[{"kind": "tool"}, {"kind": "answer", "answer": "1486.7"}]),
        hit("c", True, worked, case=True, answer="2019Q4"),
    ]
    text, ids = render_cases(hits, k=2, chars=400)
    assert "1486.7" not in text and text.count("<withheld: wrong>") == 3
    assert "11486.75" not in text and "value #" in text  # a failed item's other numbers are masked too
    assert "[WORKED]" in text and "2019Q4" in text  # a worked case keeps its answer: it shows the format
    assert "read_file(path='g.csv')" in text and len(ids) == 3


def test_only_cases_of_the_same_kind_of_question_are_shown() -> None:
    from agentmem.agents.deep_research import question_overlap, render_cases
    from agentmem.types import MemoryItem, ScoreParts, SearchHit

    same = "In the attached Grunfeld data, what was the total investment of Chrysler over 1935 to 1940?"
    other = "In the attached Grunfeld data, which firm had the second highest market value in 1944?"
    now = "In the attached Grunfeld data, what was the total investment of IBM over 1940 to 1945?"
    assert question_overlap(now, same) > 0.8 > 0.55 > question_overlap(now, other)

    def hit(task_id: str, question: str) -> SearchHit:
        payload = {"task_id": task_id, "success": True, "case": True, "question": question}
        item = MemoryItem(namespace="r", kind="insight", text=f"Q: {question}\nAnswer: x", payload=payload)
        return SearchHit(item=item, score=0.9, parts=ScoreParts(similarity=0.9, final=0.9))

    hits = [hit("other", other), hit("same", same)]  # the other kind ranks first by embedding
    hits[1].item.text += "\nPlan: total of Chrysler 1935-1940"
    text, ids = render_cases(hits, k=2, chars=400, question=now, min_overlap=0.55)
    assert ids == [hits[1].item.id] and "Chrysler" in text and "second highest" not in text
    assert "Plan: total of IBM 1940-1945" in text and "Chrysler -> IBM" in text  # adapted, swaps named
    assert render_cases(hits, k=2, chars=400, question=now, min_overlap=0.0)[1] == [h.item.id for h in hits]


def test_the_worked_case_reaches_the_executor_adapted_to_this_question() -> None:
    from agentmem.agents.deep_research import DeepResearchAgent

    case = {
        "question": "What was the total investment (invest) of American Steel over the years 1942 to 1946?",
        "calls": ["run_python(code: t = df[(df.firm == 'American Steel') & df.year.between(1942, 1946)])"],
    }
    now = "What was the total investment (invest) of IBM over the years 1940 to 1945?"
    note = DeepResearchAgent()._worked_note(case, now)
    assert "df.firm == 'IBM'" in note and "between(1940, 1945)" in note  # values put in
    assert "American Steel -> IBM" in note and "UNTRUSTED_DATA" in note  # said, and quoted as data
    assert "Q: What was the total investment (invest) of American Steel" in note  # the case's own question
    joined = {**case, "calls": ["run_python(code: import pandas as pd; ; df = pd.read_csv('g.csv'))"]}
    old_bank = DeepResearchAgent()._worked_note(joined, now)  # a bank whose calls lost their lines
    assert "import pandas as pd\n\ndf = pd.read_csv('g.csv')" in old_bank and "; ;" not in old_bank
    unrelated = DeepResearchAgent()._worked_note(case, case["question"])
    assert "adapt them to this question's values" in unrelated and "American Steel'" in unrelated


def _one_question(tmp_path: Path, attached: Path, answer: str = "47") -> Path:
    split = tmp_path / "gaia" / "validation"
    split.mkdir(parents=True)
    (split / "sales.csv").write_text(attached.read_text())
    row = {"task_id": "t-sum", "Question": "How many units were sold in total?", "Level": 1,
           "Final answer": answer, "file_name": "sales.csv"}  # fmt: skip
    (split / "metadata.jsonl").write_text(json.dumps(row) + "\n")
    return tmp_path / "gaia"


def _hindsight_model(retry_code: str) -> tuple[Any, Router]:
    """First try: reads the table and answers 30 (wrong). A try that is shown the training target runs
    `retry_code` and answers 47."""
    router = Router(plan=[{"subtasks": [{"goal": "sum units", "tool": "run_python"}]}])

    def dispatch(messages: list[dict[str, Any]]) -> Any:
        r = role(messages)
        prompt = messages[-1]["content"]
        router.seen.setdefault(r, []).append(prompt)
        if r == "plan":
            return router.queues["plan"][0]
        targeted = "Training target" in prompt
        if r == "exec":
            if "Output:" in prompt:
                return {"tool": "done", "result": "total 47" if "47" in prompt else "Feb has 30"}
            if targeted:
                return {"tool": "run_python", "args": {"code": retry_code}}
            return {"tool": "read_file", "args": {"path": "sales.csv"}}
        # the reviewer is never shown the target: it answers from what the calls found
        return {"decision": "answer", "answer": "47" if "47" in prompt else "30"}

    return dispatch, router


@pytest.mark.parametrize(
    ("retry_code", "worked"),
    [(CODE, True), ("print(47)", False)],  # computed from the table / the target written in
)
async def test_a_training_run_retries_a_failed_question_towards_its_reference(
    attached: Path, tmp_path: Path, retry_code: str, worked: bool
) -> None:
    """Hindsight retry (training runs only): the failed question is tried again with the reference as
    target; its case counts as worked only if the calls computed the value. The row keeps the first try."""
    from agentmem.eval.research_eval import ResearchRunConfig, run_research_eval
    from agentmem.memory_store import AsyncMemory

    dispatch, router = _hindsight_model(retry_code)
    db = tmp_path / "mem.db"
    cfg = ResearchRunConfig(
        benchmark="gaia", data_dir=_one_question(tmp_path, attached), split="validation", out=tmp_path / "out",
        memory="on", memory_db=db, embedder="hash-64", max_steps=10, learn_from="labels", hindsight_retries=2,
    )  # fmt: skip
    summary = await run_research_eval(cfg, llm=ScriptedLLM(default=dispatch))
    row = json.loads((tmp_path / "out" / "results.jsonl").read_text().splitlines()[0])
    assert row["solved"] is False and row["details"]["answer"] == "30"  # the first try's score
    retries = row["details"]["hindsight"]
    assert [t["worked"] for t in retries] == ([True] if worked else [False, False])
    assert summary["hindsight"] == {"questions": 1, "retries": len(retries), "worked": int(worked)}
    targeted = [p for p in router.seen["plan"] if "Training target: the expected answer is '47'" in p]
    assert len(targeted) == len(retries) and "Training target" not in router.seen["plan"][0]
    assert all("Training target" not in p for p in router.seen["review"])
    if not worked:
        assert "not computed by the calls" in retries[0]["detail"]

    mem = AsyncMemory(namespace="research", url=f"sqlite:///{db}", embedder="hash-64")
    try:
        cases = [h.item for h in await mem.search("units sold in total", k=20) if h.item.payload.get("case")]
        assert len(cases) == 1 + len(retries)
        assert sum(c.payload["success"] is True for c in cases) == int(worked)
        assert all(
            "Training target" not in c.text and c.payload["question"].startswith("How many") for c in cases
        )
    finally:
        await mem.aclose()


async def test_hindsight_retries_need_a_training_run(attached: Path, tmp_path: Path) -> None:
    from agentmem.errors import ConfigError
    from agentmem.eval.research_eval import ResearchRunConfig, run_research_eval

    cfg = ResearchRunConfig(
        benchmark="gaia", data_dir=_one_question(tmp_path, attached), split="validation", out=tmp_path / "out",
        memory="on", memory_db=tmp_path / "m.db", embedder="hash-64", hindsight_retries=1,
    )  # fmt: skip
    with pytest.raises(ConfigError, match="training run only"):
        await run_research_eval(cfg, llm=ScriptedLLM(default="{}"))


def test_a_question_with_a_worked_and_a_failed_case_shows_the_worked_one() -> None:
    from agentmem.agents.deep_research import render_cases
    from agentmem.types import MemoryItem, ScoreParts, SearchHit

    def hit(item_id: str, success: bool, score: float) -> SearchHit:
        verdict = "right" if success else "wrong"
        item = MemoryItem(
            id=item_id, namespace="research", kind="insight",
            text=f"Q: How many units were sold in total?\nCalls: run_python(code: ...)\nAnswer: 7 ({verdict})",
            payload={"case": True, "task_id": "t-sum", "success": success,
                     "question": "How many units were sold in total?", "answer": "7"},
        )  # fmt: skip
        return SearchHit(item=item, score=score, parts=ScoreParts(similarity=score, final=score))

    text, ids = render_cases([hit("failed", False, 0.9), hit("worked", True, 0.8)], 2, 400, "How many units?")
    assert ids == ["worked"] and text.startswith("[WORKED]") and "[FAILED]" not in text


def test_computed_answers_come_from_tool_output_not_from_arguments() -> None:
    from agentmem.envs.research import AnswerAction, computed

    code_call = [{"tool": "run_python", "args": {"code": "print(df.units.sum())"}}]
    assert computed(AnswerAction(answer="47", verified=True), code_call)
    assert not computed(AnswerAction(answer="47", verified=False), code_call)  # not found in any output
    assert not computed(AnswerAction(answer="47", verified=True), [{"args": {"code": "print(47)"}}])
    assert computed(AnswerAction(answer="47", verified=True), [{"args": {"code": "x = 147 + 0.47"}}])
    assert not computed(AnswerAction(answer="Mar", verified=True), [{"args": {"query": "mar units"}}])
    assert not computed(AnswerAction(answer="", verified=True), code_call)
