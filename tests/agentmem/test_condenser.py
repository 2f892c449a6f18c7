"""The condenser: schema summaries, bounded chunking of long episodes, honest fallback."""

from __future__ import annotations

import json

from agentmem.condenser import ChunkNotes, Condenser, SummaryDraft, fallback_summary
from agentmem.llm.scripted import ScriptedLLM
from agentmem.types import Outcome, Step, Task, Trajectory


def _traj(
    n_steps: int, success: bool | None = True, obs: str = "page ok", error_every: int = 0
) -> Trajectory:
    steps = [
        Step(
            i=i,
            action={"type": "click", "element": i % 3},
            observation=f"{obs} {i}",
            error=("element 7 is stale" if error_every and i % error_every == 0 else None),
        )
        for i in range(n_steps)
    ]
    outcome = Outcome(
        success=success, score=float(bool(success)), source="verifier", detail="2/2 train pairs"
    )
    return Trajectory(
        task=Task(id="t", env="web", goal="Book the cheapest flight"), steps=steps, outcome=outcome
    )


async def test_short_episode_one_schema_call_and_truthful_outcome():
    draft = SummaryDraft(
        approach="searched then sorted by price",
        key_steps=["opened search", "sorted"],
        failure_modes=[],
        lessons=["sort by price before picking"],
    )
    llm = ScriptedLLM([draft])
    summary = await Condenser(llm).condense(_traj(3, success=False))
    assert summary.fallback is False
    assert summary.lessons == ["sort by price before picking"] and summary.goal == "Book the cheapest flight"
    # the outcome line comes from the recorded Outcome, not from the model
    assert summary.outcome.startswith("failure (score 0, judged by verifier)")
    assert len(llm.calls) == 1 and llm.calls[0]["json_schema"]["title"] == "SummaryDraft"


async def test_long_episode_is_condensed_in_bounded_chunks():
    replies: list[object] = []

    def reply(messages):
        content = messages[-1]["content"]
        replies.append(len(content))
        if "part " in content:
            return ChunkNotes(key_steps=["clicked around"], problems=["stale element"])
        return SummaryDraft(approach="clicked", lessons=["re-read the page after a stale element"])

    llm = ScriptedLLM(default=reply)
    condenser = Condenser(llm, chunk_chars=800, max_chunks=4)
    summary = await condenser.condense(_traj(200, obs="x" * 150, error_every=5))
    assert not summary.fallback and summary.lessons == ["re-read the page after a stale element"]
    assert len(llm.calls) == 5  # 4 chunk calls (capped) + the final one
    assert max(replies) < 800 + 600  # every prompt bounded by the chunk size plus fixed framing
    assert condenser.usage.calls == 5


async def test_model_failure_gives_a_flagged_deterministic_summary():
    llm = ScriptedLLM(default="I refuse to answer in JSON", max_repairs=1)
    traj = _traj(8, success=False, error_every=3)
    traj.outcome = Outcome(success=False, score=0.0, source="env", detail="step budget exhausted (8 steps)")
    summary = await Condenser(llm).condense(traj)
    assert summary.fallback is True
    assert "element 7 is stale" in " ".join(summary.failure_modes)
    assert any("step budget exhausted" in f for f in summary.failure_modes)
    assert summary.lessons and summary.lessons[0].startswith("Avoid: element 7 is stale")
    assert summary.outcome.startswith("failure")
    assert len(summary.key_steps) == 6  # first three and last three steps


def test_fallback_success_records_the_working_sequence():
    summary = fallback_summary(_traj(3, success=True), "web-agent")
    assert summary.fallback and summary.approach.startswith("web-agent took 3 steps using click×3")
    assert summary.lessons[0].startswith("A sequence that worked: ")
    assert json.loads(summary.lessons[0].split(": ", 1)[1].split(" ; ")[0]) == {"element": 0, "type": "click"}


async def test_no_model_means_fallback():
    summary = await Condenser(None).condense(_traj(2))
    assert summary.fallback and summary.outcome.startswith("success")


def test_summaries_show_the_agents_label_not_the_raw_action():
    """Element ids mean something on one page only: a step's label replaces the action JSON."""
    steps = [
        Step(i=0, action={"action": "click", "id": 7}, label="click button"),
        Step(i=1, action={"action": "type", "id": 3, "text": "Bob"}, label='type textbox "Bob"'),
    ]
    traj = Trajectory(
        task=Task(id="t", env="web", goal="enter the name"),
        steps=steps,
        outcome=Outcome(success=True, score=1.0, source="env"),
    )
    summary = fallback_summary(traj, "web")
    text = json.dumps(summary.model_dump())
    assert "click button" in text and 'type textbox \\"Bob\\"' in text
    assert '"id"' not in text and "7" not in "".join(summary.key_steps)
