"""The coach: failure signals, and retrieve → rank → decide against the real store."""

from __future__ import annotations

import pytest

from agentmem.coach import Coach, failure_signals, render_case
from agentmem.errors import ConfigError
from agentmem.llm.scripted import ScriptedLLM
from agentmem.policy import PolicyQuery, SimilarityPolicy
from agentmem.types import Step, Task


def _step(
    i: int, op: str = "click", obs: str = "page", error: str | None = None, reward: float = 0.0
) -> Step:
    return Step(i=i, action={"op": op}, observation=obs, error=error, reward=reward)


def test_failure_signals():
    assert failure_signals([]) == []
    healthy = [_step(0, "a", "p1"), _step(1, "b", "p2"), _step(2, "c", "p3")]
    assert failure_signals(healthy) == []
    errors = [_step(0, "a", "p1"), _step(1, "b", error="stale element"), _step(2, "c", error="stale element")]
    assert failure_signals(errors) == ["the last 2 step(s) failed: stale element"]
    repeats = [_step(i, "same", f"p{i}") for i in range(3)]
    assert failure_signals(repeats) == ["the same action was repeated 3 times"]
    stuck = [_step(i, op, "same page") for i, op in enumerate("abc")]
    assert failure_signals(stuck) == ["no progress: the observation has not changed for 3 steps"]
    rewarded = [_step(i, op, "same page", reward=1.0) for i, op in enumerate("abc")]
    assert failure_signals(rewarded) == []


def test_judge_modes_need_a_model():
    with pytest.raises(ConfigError):
        Coach(memory=None, policy=SimilarityPolicy(), llm=None, judge="llm")


@pytest.fixture
async def memory(tmp_path):
    from agentmem.memory_store import AsyncMemory

    mem = AsyncMemory(namespace="coach-test", url=f"sqlite:///{tmp_path / 'm.db'}")
    yield mem
    await mem.aclose()


async def test_recall_threshold_kinds_env_and_exclusion(memory):
    good = await memory.add(
        "Goal: rotate the grid 90 degrees\nOutcome: success",
        kind="episode",
        payload={"env": "arc", "success": True},
    )
    concept = await memory.add("Concept: rotation by 90 degrees", kind="concept", payload={"env": "arc"})
    await memory.add(
        "Goal: rotate the grid 90 degrees", kind="episode", payload={"env": "web", "success": True}
    )
    task = Task(id="t", env="arc", goal="rotate the grid by 90 degrees")

    coach = Coach(memory, SimilarityPolicy(), threshold=0.3, max_items=2)
    decision = await coach.recall(task, task.goal)
    assert decision.intervene and decision.advice is not None
    assert set(decision.advice.item_ids) == {good.id, concept.id}  # the web item is another env's
    assert "[episode, worked before]" in decision.advice.text and decision.advice.source == "recall"
    assert decision.advice.confidence == pytest.approx(decision.used[0].score)

    only_concepts = Coach(memory, SimilarityPolicy(), threshold=0.3, kinds=["concept"])
    assert (await only_concepts.recall(task, task.goal)).advice.item_ids == [concept.id]

    strict = Coach(memory, SimilarityPolicy(), threshold=0.99)
    silent = await strict.recall(task, task.goal)
    assert not silent.intervene and silent.advice is None and silent.candidates
    assert silent.reason.startswith("best score")

    review = await coach.review(
        task, task.goal, [_step(0, error="boom")], ["the last step failed: boom"], {good.id}
    )
    assert review.intervene and good.id not in review.advice.item_ids and review.advice.source == "coach"


async def test_failing_judge_means_no_intervention(memory):
    await memory.add(
        "Goal: sort numbers\nOutcome: success", kind="episode", payload={"env": "py", "success": True}
    )
    llm = ScriptedLLM(default="no idea", max_repairs=0)
    coach = Coach(memory, SimilarityPolicy(), llm, judge="both", threshold=0.0)
    decision = await coach.recall(Task(id="t", env="py", goal="sort numbers"), "sort numbers")
    assert not decision.intervene and decision.reason == "judge failed: LLMOutputError"
    prompt = llm.calls[0]["messages"][1]["content"]
    assert "Memories:\n1. [episode, worked before] Goal: sort numbers" in prompt


async def test_empty_memory_stays_silent(memory):
    decision = await Coach(memory, SimilarityPolicy()).recall(
        Task(id="t", env="x", goal="anything"), "anything"
    )
    assert not decision.intervene and decision.reason == "no memories retrieved"


def test_render_case_marks_failures():
    from agentmem.types import MemoryItem

    item = MemoryItem(namespace="n", kind="episode", text="Goal: x", payload={"success": False})
    assert render_case(item).startswith("[episode, failed before — avoid repeating it]")


async def test_scoped_recall_puts_the_agents_own_kind_of_task_first(memory):
    """Near-identical wording from other task families must not crowd out the family's own item."""
    for i, fam in enumerate(["click-dialog", "click-button-sequence", "click-link", "simon-says"]):
        await memory.add(
            f"{fam}: Click on the button number {i}.", kind="episode", payload={"env": "web", "family": fam}
        )
    own = await memory.add(
        "click-button: workflow that solved goals like: press the one labelled no",
        kind="concept",
        payload={"env": "web", "family": "click-button"},
    )
    task = Task(id="click-button#1", env="web", goal='Click on the "Previous" button.')
    coach = Coach(memory, SimilarityPolicy(), k=3, threshold=-1.0, max_items=3)
    query = 'click-button: Click on the "Previous" button.'
    unscoped = await coach.recall(task, query)
    assert own.id not in unscoped.advice.item_ids  # the semantic neighbours win without a scope
    scoped = await coach.recall(task, query, scope={"family": "click-button"})
    assert scoped.advice.item_ids[0] == own.id and len(scoped.advice.item_ids) == 3
    strict = Coach(memory, SimilarityPolicy(), k=3, threshold=0.99, max_items=3)
    kept = await strict.recall(task, query, scope={"family": "click-button"})
    assert kept.intervene and kept.advice.item_ids == [own.id]  # in scope: shown below the threshold
    # mid-run too: the review that follows a failure signal looks in the same scope first
    unscoped_review = await coach.review(task, query, [], ["step error"], exclude=set())
    assert own.id not in unscoped_review.advice.item_ids
    review = await coach.review(
        task, query, [], ["step error"], exclude=set(), scope={"family": "click-button"}
    )
    assert review.advice.item_ids[0] == own.id


async def test_several_scopes_are_searched_each_and_merged_without_repeats(memory):
    """The web navigator's family plus its goal template: a sibling family's item joins the scoped head."""
    for i, fam in enumerate(["click-dialog", "click-link", "simon-says", "click-tab"]):
        await memory.add(
            f"{fam}: Expand the section number {i} and click.",
            kind="episode",
            payload={"env": "web", "family": fam},
        )
    own = await memory.add(
        "click-collapsible-nodelay: failed, clicked Submit first",
        kind="insight",
        payload={
            "env": "web",
            "family": "click-collapsible-nodelay",
            "template": "Expand the section below.",
        },
    )
    sibling = await memory.add(
        "click-collapsible: workflow that solved goals like this one",
        kind="concept",
        payload={"env": "web", "family": "click-collapsible", "template": "Expand the section below."},
    )
    task = Task(id="click-collapsible-nodelay#1", env="web", goal="Expand the section below.")
    coach = Coach(memory, SimilarityPolicy(), k=4, threshold=0.99, max_items=4)
    query = "click-collapsible-nodelay: Expand the section below."
    family_only = await coach.recall(task, query, scope={"family": "click-collapsible-nodelay"})
    assert family_only.advice.item_ids == [own.id]
    both = await coach.recall(
        task,
        query,
        scope=[{"family": "click-collapsible-nodelay"}, {"template": "Expand the section below."}],
    )
    assert sorted(both.advice.item_ids) == sorted([own.id, sibling.id])  # own found twice, kept once


async def test_a_scope_with_many_look_alikes_does_not_crowd_out_the_familys_own_item(memory):
    """Four families share one goal template: the template scope finds their items, worded closer to
    the query than the family's own failure; scopes are taken in turns, so the own item stays."""
    template = "Select {1} as the date and hit submit."
    for fam in ["choose-date", "choose-date-medium", "choose-date-nodelay"]:
        for day in (27, 28):
            await memory.add(
                f"choose-date-easy: Select 12/{day}/2016 as the date and hit submit. ({fam})",
                kind="episode",
                payload={"env": "web", "family": fam, "template": template},
            )
    own = await memory.add(
        "failed on a goal like: pick a day in the calendar (clicked Submit first)",
        kind="insight",
        payload={"env": "web", "family": "choose-date-easy", "template": template},
    )
    task = Task(id="choose-date-easy#1", env="web", goal="Select 12/27/2016 as the date and hit submit.")
    coach = Coach(memory, SimilarityPolicy(), k=3, threshold=-1.0, max_items=3)
    query = "choose-date-easy: Select 12/27/2016 as the date and hit submit."
    ranked = await coach.retrieve(PolicyQuery(text=query, env="web"), scope={"template": template})
    assert own.id not in [r.hit.item.id for r in ranked]  # ranked as one, the look-alikes win
    scopes = [{"family": "choose-date-easy"}, {"template": template}]
    recalled = await coach.recall(task, query, scope=scopes)
    assert recalled.advice.item_ids[0] == own.id and len(recalled.advice.item_ids) == 3
