"""MiniWoB++ through the real browser: scripted policies solve tasks, rewards are read back."""

from __future__ import annotations

import asyncio
import re

import pytest

from agentmem.envs.base import Observation
from agentmem.envs.miniwob import (
    EXCLUDED,
    MiniWoBEnv,
    all_tasks,
    load_task_names,
    make_task,
    miniwob_suite,
    suite_tasks,
)
from agentmem.envs.web import Element, WebAction, chromium_path, element_action_error
from agentmem.errors import DataError
from tests.conftest import require_service

pytestmark = pytest.mark.browser


@pytest.fixture
def chromium():
    require_service("chromium", chromium_path() is not None, "apt-get install chromium")


def quoted(goal: str) -> list[str]:
    return re.findall(r'"([^"]+)"', goal)


def find(obs: Observation, *, role: str | None = None, name: str | None = None) -> int:
    for el in obs.data["elements"]:
        if (role is None or el["role"] == role) and (name is None or el.get("name") == name):
            return el["id"]
    raise AssertionError(f"no element role={role} name={name} in:\n{obs.text}")


def policy(task: str, obs: Observation) -> list[WebAction]:
    """A hand-written solver for three task families (what a perfect agent would do)."""
    goal = obs.data["goal"]
    if task == "click-button":
        return [WebAction(action="click", id=find(obs, role="button", name=quoted(goal)[0]))]
    if task == "click-link":
        return [WebAction(action="click", id=find(obs, name=quoted(goal)[0]))]
    if task == "enter-text":
        return [
            WebAction(action="type", id=find(obs, role="textbox"), text=quoted(goal)[0]),
            WebAction(action="click", id=find(obs, role="button", name="Submit")),
        ]
    raise AssertionError(task)


def test_suite_selection_covers_at_least_100_tasks_and_documents_the_rest():
    names = all_tasks()
    assert len(names) >= 125
    suite = suite_tasks()
    assert len(suite) >= 100
    assert set(suite).isdisjoint(EXCLUDED)
    assert set(EXCLUDED) <= set(names), "an excluded task that the package does not ship"
    assert all(reason.strip() for reason in EXCLUDED.values())
    assert load_task_names("click-button, enter-text") == ["click-button", "enter-text"]
    assert load_task_names(",".join(suite)) == suite  # longer than a file name may be
    with pytest.raises(DataError):
        load_task_names("no-such-task")


async def test_scripted_policy_solves_tasks_and_rewards_are_read_back(chromium):
    async with miniwob_suite() as factory:
        env = factory()
        for task_name in ("click-button", "click-link", "enter-text"):
            for seed in (1, 2):
                obs = await env.reset(make_task(task_name, seed))
                assert obs.data["goal"] and "appears after reset" not in obs.data["goal"]
                result = None
                for action in policy(task_name, obs):
                    result = await env.step(action)
                assert result is not None and result.done, f"{task_name} seed {seed} did not finish"
                assert result.outcome is not None and result.outcome.source == "env"
                assert result.outcome.success is True and result.reward > 0, (task_name, seed, result.info)


async def test_wrong_action_gets_negative_reward(chromium):
    async with miniwob_suite() as factory:
        env = factory()
        for seed in range(3, 20):  # an instance with at least one wrong button
            obs = await env.reset(make_task("click-button", seed))
            target = quoted(obs.data["goal"])[0]
            wrong = [e for e in obs.data["elements"] if e["role"] == "button" and e["name"] != target]
            if wrong:
                break
        wrong = wrong[0]
        result = await env.step(WebAction(action="click", id=wrong["id"]))
        assert result.done and result.outcome.success is False and result.reward < 0


async def test_seeds_make_episodes_reproducible_and_distinct(chromium):
    async with miniwob_suite() as factory:
        env = factory()
        goals = {}
        for seed in (10, 11, 12, 10):
            obs = await env.reset(make_task("enter-text", seed))
            goals.setdefault(seed, set()).add(obs.data["goal"])
        assert len(goals[10]) == 1, "same seed, different episode"
        assert len({next(iter(g)) for g in goals.values()}) >= 2, "different seeds, same episode"


async def test_select_action_and_stop(chromium):
    async with miniwob_suite() as factory:
        env = factory()
        obs = await env.reset(make_task("choose-list", 5))
        wanted = re.match(r"Select (.+) from the list", obs.data["goal"]).group(1)
        combo = find(obs, role="combobox")
        bad = await env.step(WebAction(action="select", id=combo, text="not-an-option"))
        assert not bad.done and bad.observation.error and "options" in bad.observation.error
        ok = await env.step(WebAction(action="select", id=combo, text=wanted))
        assert not ok.done
        assert any(e.get("value") == wanted for e in ok.observation.data["elements"])
        done = await env.step(
            WebAction(action="click", id=find(ok.observation, role="button", name="Submit"))
        )
        assert done.done and done.outcome.success is True
        # `answer` on MiniWoB is "stop": an unfinished task scores 0 and is not a success.
        await env.reset(make_task("click-button", 6))
        stopped = await env.step(WebAction(action="answer", text="done"))
        assert stopped.done and stopped.outcome.success is False and stopped.reward == 0


async def test_concurrent_episodes_in_separate_contexts(chromium):
    async with miniwob_suite() as factory:
        envs = [factory() for _ in range(3)]

        async def run(env: MiniWoBEnv, task: str, seed: int) -> float:
            obs = await env.reset(make_task(task, seed))
            result = None
            for action in policy(task, obs):
                result = await env.step(action)
            assert result is not None and result.done
            return result.reward

        rewards = await asyncio.gather(
            run(envs[0], "click-button", 21), run(envs[1], "enter-text", 22), run(envs[2], "click-link", 23)
        )
        assert all(r > 0 for r in rewards)
        assert len({id(e._ctx) for e in envs}) == 3


async def test_dates_and_times_typed_the_way_people_write_them_fill_native_controls(chromium):
    async with miniwob_suite() as factory:
        env = factory()
        for task_name, pattern in (
            ("enter-date", r"Enter (\S+) as the date"),
            ("enter-time", r"Enter (.+) as the time"),
        ):
            obs = await env.reset(make_task(task_name, 4))
            typed = re.match(pattern, obs.data["goal"]).group(1)  # 12/28/2016, 5:53 PM
            field = next(e["id"] for e in obs.data["elements"] if e["role"] in ("date", "time", "textbox"))
            bad = await env.step(WebAction(action="type", id=field, text="next tuesday"))
            assert not bad.done and f"a {task_name[6:]} field" in (bad.observation.error or "")
            ok = await env.step(WebAction(action="type", id=field, text=typed))
            assert not ok.done and not ok.observation.error, ok.observation.error
            done = await env.step(
                WebAction(action="click", id=find(ok.observation, role="button", name="Submit"))
            )
            assert done.done and done.outcome.success is True, (task_name, typed, done.info)


async def test_select_in_a_multi_select_list_adds_to_the_choice(chromium):
    async with miniwob_suite() as factory:
        env = factory()
        for seed in range(1, 40):  # an instance that asks for two or more items
            obs = await env.reset(make_task("click-scroll-list", seed))
            wanted = re.match(r"Select (.+) from the scroll list", obs.data["goal"]).group(1)
            items = [w.strip() for w in wanted.split(",")]
            if len(items) >= 2:
                break
        listbox = find(obs, role="listbox")
        result = None
        for item in items:
            result = await env.step(WebAction(action="select", id=listbox, text=item))
            assert not result.done and not result.observation.error, result.observation.error
        bad = await env.step(WebAction(action="select", id=listbox, text="no-such-item"))
        assert "options" in (bad.observation.error or "")
        done = await env.step(
            WebAction(action="click", id=find(bad.observation, role="button", name="Submit"))
        )
        assert done.done and done.outcome.success is True, (items, done.info)


async def test_boxes_told_apart_only_by_colour_are_named_by_it(chromium):
    async with miniwob_suite() as factory:
        env = factory()
        for seed in (1, 2, 3):
            obs = await env.reset(make_task("click-color", seed))
            colour = re.match(r"Click on the (\w+) colored box", obs.data["goal"]).group(1)
            boxes = [e for e in obs.data["elements"] if e["name"] == f".color {colour}"]
            assert len(boxes) == 1, obs.text
            result = await env.step(WebAction(action="click", id=boxes[0]["id"]))
            assert result.done and result.outcome.success is True, (colour, result.info)


async def test_a_toggled_icon_keeps_its_name_and_shows_its_state(chromium):
    """social-media-all's icons gain the class "active" when clicked: still ".like", now active (as
    ".like.active" it read as another element, which the model clicked off again)."""
    async with miniwob_suite() as factory:
        env = factory()
        obs = await env.reset(make_task("social-media-all", 3))
        kind = re.search(r'Click the "(\w+)" button', obs.data["goal"]).group(1).lower()
        icons = [e for e in obs.data["elements"] if e["name"] == f".{kind}"]
        assert len(icons) > 1 and not any("active" in e.get("state", []) for e in icons), obs.text
        result = await env.step(WebAction(action="click", id=icons[0]["id"]))
        after = [e for e in result.observation.data["elements"] if e["name"].startswith(f".{kind}")]
        assert [e["name"] for e in after] == [f".{kind}"] * len(icons), result.observation.text
        assert after[0].get("state", []) == ["active"]
        assert not any(e.get("state") for e in after[1:])
        assert f'".{kind}" 1st in' in result.observation.text and " active" in result.observation.text


async def test_a_read_only_date_box_is_listed_so_and_typing_into_it_is_refused(chromium):
    """choose-date's box is read-only (a date picker sets it): the list says so, and typing into it
    is refused by the list-only check the agent also applies before spending a step."""
    async with miniwob_suite() as factory:
        env = factory()
        obs = await env.reset(make_task("choose-date", 1))
        box = next(e for e in obs.data["elements"] if e["role"] == "textbox")
        assert "readonly" in box.get("state", []) and " readonly" in obs.text
        typed = WebAction(action="type", id=box["id"], text="04/11/2016")
        assert element_action_error(typed, [Element.model_validate(e) for e in obs.data["elements"]]) == (
            f"element [{box['id']}] is read-only: it cannot be typed into (click it: a picker may set it)"
        )
        result = await env.step(typed)
        assert not result.done and "is read-only" in (result.observation.error or "")
        result = await env.step(WebAction(action="click", id=box["id"]))
        assert result.observation.error is None
        listed = len(result.observation.data["elements"])
        for _ in range(30):  # the picker fades in (jQuery UI): the step's observation may precede it
            if listed > 2:
                break
            await asyncio.sleep(0.1)
            listed = len((await env.snapshot()).elements)
        assert listed > 2, "clicking the box opens its date picker"
