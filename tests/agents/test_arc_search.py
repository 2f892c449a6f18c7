"""The search solves simple tasks, prunes/dedups, and memory priors (seeds, macros) steer it."""

from __future__ import annotations

import numpy as np

from agentmem.agents.arc_dsl import apply_program
from agentmem.agents.arc_search import (
    Macro,
    Priors,
    ProgramSearch,
    SearchConfig,
    learn_macros,
    priors_from_programs,
    search,
)

RNG = np.random.default_rng(0)


def _grids(n: int, shape=(4, 5), colors=(0, 1, 2, 3)) -> list[np.ndarray]:
    return [RNG.choice(colors, size=shape) for _ in range(n)]


def _task(program: list[str], inputs: list[np.ndarray]) -> tuple[list, list, list]:
    outs = [apply_program(program, g) for g in inputs]
    return list(zip(inputs[:-1], outs[:-1], strict=True)), [inputs[-1]], [outs[-1]]


def _check(result, truth) -> bool:
    return any(
        all(o.shape == t.shape and (o == t).all() for o, t in zip(s.test_outputs, truth, strict=True))
        for s in result.solutions
    )


def test_solves_flip_colour_swap_and_crop() -> None:
    cases = {
        "flip": (["fliplr"], _grids(4)),
        "colour swap": (['colormap:{"1": 2, "2": 1}'], _grids(4)),
        "rotate+recolour": (["rot90", 'colormap:{"3": 7}'], _grids(4)),
    }
    crop_inputs = []
    for _ in range(4):
        g = np.zeros((8, 8), dtype=int)
        r, c = RNG.integers(0, 5, size=2)
        g[r : r + 3, c : c + 2] = RNG.choice([4, 5], size=(3, 2))
        crop_inputs.append(g)
    cases["crop"] = (["crop_nonbg"], crop_inputs)
    for name, (program, inputs) in cases.items():
        train, tests, truth = _task(program, inputs)
        result = search(train, tests, config=SearchConfig(budget_s=30, max_depth=2, after_first_s=0.0))
        assert result.solved, name
        assert _check(result, truth), name


def test_two_step_program_is_found_and_test_outputs_are_only_inputs_transformed() -> None:
    program = ["flipud", "tile1x2"]
    train, tests, truth = _task(program, _grids(4, shape=(3, 3)))
    result = search(train, tests, config=SearchConfig(budget_s=60, max_depth=2, after_first_s=0.0))
    assert _check(result, truth)
    assert len(result.solutions[0].steps) <= 2


def test_inconsistent_states_are_pruned() -> None:
    # Two different outputs for two inputs that become identical after crop: no program can exist there.
    a = np.array([[0, 0], [0, 1]])
    b = np.array([[1, 0], [0, 0]])
    s = ProgramSearch([(a, np.array([[1]])), (b, np.array([[2]]))], [a], config=SearchConfig(budget_s=5))
    cropped = (np.array([[1]], dtype=np.uint8), np.array([[1]], dtype=np.uint8))
    assert s._inconsistent(cropped)
    assert not s._inconsistent((np.array([[1]], dtype=np.uint8), np.array([[2]], dtype=np.uint8)))


def test_macro_makes_a_deeper_program_reachable() -> None:
    program = ["rot90", "crop_nonbg", "upscale2"]
    inputs = []
    for _ in range(4):
        g = np.zeros((7, 7), dtype=int)
        g[1:4, 2:4] = RNG.choice([1, 2], size=(3, 2))
        inputs.append(g)
    train, tests, truth = _task(program, inputs)
    shallow = SearchConfig(budget_s=30, max_depth=1, after_first_s=0.0)
    assert not search(train, tests, config=shallow).solved
    macro = Macro("macro:rot90+crop_nonbg", ("rot90", "crop_nonbg"))
    with_macro = search(
        train, tests, Priors(macros=[macro]), config=SearchConfig(budget_s=30, max_depth=2, after_first_s=0.0)
    )
    assert _check(with_macro, truth)
    assert "macro:rot90+crop_nonbg" in with_macro.solutions[0].via_macro


def test_seed_programs_from_memory_are_tried_first() -> None:
    program = ["transpose", "mirror_h", "gravity_down"]
    train, tests, truth = _task(program, _grids(3, shape=(3, 3), colors=(0, 0, 1)))
    priors = Priors(seeds=[program])
    result = search(train, tests, priors, SearchConfig(budget_s=10, max_depth=1, after_first_s=0.0))
    assert _check(result, truth)
    assert result.solutions[0].from_seed
    assert result.expanded <= 1


def test_library_learning_and_priors() -> None:
    programs = [
        ["rot90", "crop_nonbg", "upscale2"],
        ["rot90", "crop_nonbg"],
        ["fliplr"],
        ["rot90", "crop_nonbg", 'colormap:{"1": 2}'],
    ]
    macros = learn_macros(programs)
    assert macros[0].steps == ("rot90", "crop_nonbg")
    assert all(len(m.steps) >= 2 for m in macros)
    assert not learn_macros([["a", "b"]])  # one occurrence is not a recurring sub-program
    priors = priors_from_programs([(["keep:3", "fliplr"], 0.8)], programs)
    assert priors.weights["keep:3"] < 1 and priors.weights["keep"] < 1 and priors.weights["fliplr"] < 1
    assert ["keep:3", "fliplr"] in priors.seeds
    assert {m.name for m in priors.macros} >= {"macro:keep:3+fliplr", "macro:rot90+crop_nonbg"}
    assert Priors().empty and not priors.empty


def test_solves_simple_real_training_tasks() -> None:
    from agentmem.envs.arc import load_arc_tasks

    ids = ["3c9b0459", "0d3d703e", "1cf80156", "68b16354", "74dd1130", "a416b8f3", "c8f0f002", "6150a2bd"]
    for task in load_arc_tasks(version="arcagi1", split="training", ids=ids):
        result = search(
            task.train, task.test_inputs, config=SearchConfig(budget_s=30, max_depth=2, after_first_s=0.0)
        )
        truth = [np.asarray(o) for o in task.test_outputs]
        assert _check(result, truth), task.id


def test_candidate_budget_is_deterministic_and_bounds_the_work() -> None:
    program = ["transpose", "mirror_h", "gravity_down"]  # depth 3: not found within a small budget
    train, tests, _ = _task(program, _grids(3, shape=(3, 3), colors=(0, 0, 1)))
    cfg = SearchConfig(budget_s=600, max_depth=3, max_candidates=300, after_first_s=0.0)
    a, b = search(train, tests, config=cfg), search(train, tests, config=cfg)
    assert a.candidates == b.candidates and a.expanded == b.expanded
    assert 300 <= a.candidates <= 300 + 1  # checked before every candidate
    assert [s.steps for s in a.solutions] == [s.steps for s in b.solutions]


def test_recalled_programs_are_re_instantiated_on_the_task_colours() -> None:
    # memory solved "keep colour 3, then flip"; this task needs the same sketch with colour 5
    inputs = _grids(4, shape=(4, 4), colors=(0, 5, 6))
    train, tests, truth = _task(["keep:5", "fliplr"], inputs)
    priors = priors_from_programs([(["keep:3", "fliplr"], 0.9)])
    result = search(train, tests, priors, SearchConfig(budget_s=30, max_depth=1, after_first_s=0.0))
    assert _check(result, truth) and result.solutions[0].from_seed
    assert result.solutions[0].steps[:2] == ["keep:5", "fliplr"]


def test_focus_phase_reaches_deeper_programs_made_of_recalled_primitives() -> None:
    program = ["gravity_right", "tile2x1", "gravity_down", "mirror_h"]  # depth 4: beyond max_depth 3
    rng = np.random.default_rng(1)
    inputs = [rng.choice((0, 0, 1, 2), size=(3, 4)) for _ in range(4)]
    train, tests, truth = _task(program, inputs)
    cfg = SearchConfig(budget_s=300, max_depth=3, max_candidates=60_000, after_first_s=0.0)
    assert not _check(search(train, tests, config=cfg), truth)  # memory off: out of reach
    priors = priors_from_programs([(["gravity_right", "tile2x1"], 0.9), (["gravity_down", "mirror_h"], 0.8)])
    assert set(priors.focus) == set(program)
    # the focused phase (same candidate budget) searches the recalled primitives two levels deeper
    result = search(train, tests, Priors(focus=priors.focus), cfg)
    assert _check(result, truth) and len(result.solutions[0].steps) == 4


def test_a_misleading_recall_costs_at_most_the_memory_share_of_the_budget() -> None:
    program = ["rot90", "mirror_h", "gravity_left"]
    rng = np.random.default_rng(2)
    inputs = [rng.choice((0, 0, 1, 2), size=(3, 4)) for _ in range(4)]
    train, tests, truth = _task(program, inputs)
    cfg = SearchConfig(budget_s=300, max_candidates=60_000, after_first_s=0.0, max_solutions=1)
    plain = search(train, tests, config=cfg)
    assert _check(plain, truth)
    needed = plain.solutions[0].candidates
    # memory recalled programs of a different kind: their primitives made nearly free, deeper search
    unrelated = ["crop_largest", "tile2x2", "upscale2", "outline", "fill_holes", "xor_lr", "fractal"]
    misleading = Priors(weights={p: 0.05 for p in unrelated}, focus=unrelated, seeds=[unrelated[:2]])
    steered = search(train, tests, misleading, cfg)
    assert _check(steered, truth)
    one_expansion = 300  # the scheduler switches streams between whole expansions
    assert steered.solutions[0].candidates <= needed / (1 - cfg.memory_share) + one_expansion
