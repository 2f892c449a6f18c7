"""Learned final steps: fitted on train pairs, accepted only when leave-one-out reproduces each pair."""

from __future__ import annotations

import numpy as np

from agentmem.agents.arc_dsl import apply_program, describe_program, primitive
from agentmem.agents.arc_learned import LocalRule, ObjectRecolor, fit_learned, is_learned_step
from agentmem.agents.arc_search import SearchConfig, base_steps, search


def _outline_pair(
    seed: int,
    size: int = 8,
    dirs: tuple[tuple[int, int], ...] = ((1, 0), (-1, 0), (0, 1), (0, -1)),
    pixels: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Background cells adjacent (along `dirs`) to a green (3) pixel turn azure (8)."""
    rng = np.random.default_rng(seed)
    g = np.zeros((size, size), dtype=np.uint8)
    for r, c in rng.integers(1, size - 1, (pixels, 2)):
        g[r, c] = 3
    t = g.copy()
    for r in range(size):
        for c in range(size):
            near = any(
                0 <= r + dr < size and 0 <= c + dc < size and g[r + dr, c + dc] == 3 for dr, dc in dirs
            )
            if g[r, c] == 0 and near:
                t[r, c] = 8
    return g, t


def _bars_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey bars recoloured by their length (1 → blue, 2 → red, 3 → green)."""
    rng = np.random.default_rng(seed)
    g = np.zeros((10, 10), dtype=np.uint8)
    t = g.copy()
    for r, c in ((1, 1), (1, 6), (6, 1), (6, 6)):
        n = int(rng.integers(1, 4))
        g[r : r + n, c] = 5
        t[r : r + n, c] = n
    return g, t


def test_local_rule_fits_an_outline_and_generalises_to_a_new_grid():
    pairs = [_outline_pair(i) for i in range(3)]
    rule = LocalRule.fit([p[0] for p in pairs], [p[1] for p in pairs])
    assert rule is not None
    g, t = _outline_pair(42)
    assert (rule.apply(g) == t).all()
    # serialised as a program step, replayed by apply_program (what the sandbox runs)
    assert (apply_program([rule.name()], g) == t).all()
    assert is_learned_step(rule.name()) and "local rule" in describe_program([rule.name()])


def test_object_recolour_learns_the_property_that_decides_the_colour():
    pairs = [_bars_pair(i) for i in range(4)]
    rule = ObjectRecolor.fit([p[0] for p in pairs], [p[1] for p in pairs])
    assert rule is not None and rule.prop in ("size", "height")
    g, t = _bars_pair(99)
    assert (apply_program([rule.name()], g) == t).all()


def test_memorised_tables_fail_leave_one_out():
    """Random targets: a table fits all pairs but never predicts a held-out one."""
    rng = np.random.default_rng(0)
    states = [rng.integers(0, 3, (5, 5)).astype(np.uint8) for _ in range(3)]
    targets = [rng.integers(0, 9, (5, 5)).astype(np.uint8) for _ in range(3)]
    assert fit_learned(states, targets) == []
    # one train pair cannot be checked by leave-one-out: nothing is proposed
    g, t = _outline_pair(1)
    assert fit_learned([g], [t]) == []


def test_periodic_fill_continues_the_pattern_under_a_mask():
    base = np.tile(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8), (4, 3))
    masked = base.copy()
    masked[2:5, 3:6] = 0
    assert (primitive("perfill:0").fn(masked) == base).all()
    assert primitive("percrop:0").fn(masked).tolist() == base[2:5, 3:6].tolist()
    assert primitive("perfill:7").fn(masked) is None  # no colour-7 cells to fill


def test_search_finds_a_learned_step_and_keeps_it_out_of_transferable_programs():
    diagonal = ((1, 1), (1, -1), (-1, 1), (-1, -1))  # an X around each pixel
    pairs = [_outline_pair(i, dirs=diagonal, pixels=1) for i in range(4)]
    g, t = _outline_pair(7, dirs=diagonal, pixels=1)
    res = search(pairs, [g], config=SearchConfig(max_candidates=2000, budget_s=30))
    assert res.solved
    assert any((s.test_outputs[0] == t).all() for s in res.solutions)
    learned = next(s for s in res.solutions if any(is_learned_step(x) for x in s.steps))
    assert (learned.test_outputs[0] == t).all()
    assert base_steps(learned.steps) == [s for s in learned.steps if not is_learned_step(s)]
    off = search(pairs, [g], config=SearchConfig(max_candidates=2000, budget_s=30, learned_depth=-1))
    assert not any(is_learned_step(x) for s in off.solutions for x in s.steps)


def _tiled_x_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Tile a 3x3 grid 2x2, rotate it, then draw a diagonal X around every pixel (a depth-3 program)."""
    rng = np.random.default_rng(seed)
    g = np.zeros((3, 3), dtype=np.uint8)
    g[tuple(rng.integers(0, 3, 2))] = 3
    state = np.rot90(np.tile(g, (2, 2)))
    t = state.copy()
    for r, c in zip(*np.nonzero(state == 3), strict=True):
        for dr, dc in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            if 0 <= r + dr < 6 and 0 <= c + dc < 6 and state[r + dr, c + dc] == 0:
                t[r + dr, c + dc] = 8
    return g, t


def test_a_recalled_sketch_is_completed_by_a_learned_step_fitted_on_the_new_task():
    """Memory-only capability: learned steps beyond depth 1 come from recalled programs' sketches."""
    from agentmem.agents.arc_search import priors_from_programs

    pairs = [_tiled_x_pair(i) for i in range(5)]
    g, t = _tiled_x_pair(11)
    cfg = SearchConfig(max_candidates=3000, budget_s=30)
    off = search(pairs[:4], [g], config=cfg)
    assert not any((s.test_outputs[0] == t).all() for s in off.solutions)
    # a concept from another task: same sketch, a different (recolouring) learned step
    recalled = [(["tile2x2", "rot90", 'objrecolor:{"p": "size", "m": {"1": 2}}'], 0.8)]
    priors = priors_from_programs(recalled)
    assert priors.learned and priors.seeds
    on = search(pairs[:4], [g], priors=priors, config=cfg)
    hit = next(s for s in on.solutions if (s.test_outputs[0] == t).all())
    assert hit.from_seed and hit.steps[:2] == ["tile2x2", "rot90"] and is_learned_step(hit.steps[-1])


def test_local_rule_serialisation_round_trips_cascades_and_reads_the_first_form():
    cascade = LocalRule(["n4set", "n4"], [{4096 * 0 + 8: 8}, {123: 4}])
    again = LocalRule.parse(cascade.name())
    assert again == cascade
    old = LocalRule.parse('localrule:{"f": "n4set", "t": {"9": 8}}')
    assert old.features == ["n4set"] and old.tables == [{9: 8}]
