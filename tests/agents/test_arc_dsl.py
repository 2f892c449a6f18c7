"""DSL primitives on hand-made grids: each one does exactly its job, or says it does not apply."""

from __future__ import annotations

import numpy as np
import pytest

from agentmem.agents.arc_dsl import (
    SENTINEL,
    ColorMap,
    apply_primitive,
    apply_program,
    as_grid,
    describe_program,
    grid_key,
    objects,
    primitive,
    program_source,
    task_primitives,
)

G = as_grid([[1, 2, 0], [0, 3, 0], [0, 0, 0]])


def apply(name: str, grid) -> list[list[int]] | None:
    out = apply_primitive(name, as_grid(grid))
    return None if out is None else out.tolist()


def test_geometry() -> None:
    assert apply("fliplr", [[1, 2], [3, 4]]) == [[2, 1], [4, 3]]
    assert apply("flipud", [[1, 2], [3, 4]]) == [[3, 4], [1, 2]]
    assert apply("rot270", [[1, 2], [3, 4]]) == [[3, 1], [4, 2]]  # clockwise
    assert apply("transpose", [[1, 2], [3, 4]]) == [[1, 3], [2, 4]]
    assert apply("antitranspose", [[1, 2], [3, 4]]) == [[4, 2], [3, 1]]


def test_crops_and_objects() -> None:
    assert apply("crop_nonbg", G) == [[1, 2], [0, 3]]
    grid = [[0, 0, 0, 0, 0], [0, 5, 5, 0, 7], [0, 5, 5, 0, 0], [0, 0, 0, 0, 0]]
    assert apply("crop_largest", grid) == [[5, 5], [5, 5]]
    assert apply("crop_smallest", grid) == [[7]]
    assert apply("crop_nonbg", [[0, 0], [0, 0]]) is None
    assert len(objects(as_grid(grid))) == 2
    assert apply("cropc:7", grid) == [[7]]
    framed = [[0, 0, 0, 0, 0], [0, 4, 4, 4, 4], [0, 4, 1, 2, 4], [0, 4, 4, 4, 4]]
    assert apply("crop_interior", framed) == [[1, 2]]


def test_split_and_logic() -> None:
    grid = [[1, 0, 5, 1, 1], [0, 1, 5, 0, 1]]  # a separator column of 5
    assert apply("left_half", grid) == [[1, 0], [0, 1]]
    assert apply("right_half", grid) == [[1, 1], [0, 1]]
    assert apply("and_lr", grid) == [[SENTINEL, 0], [0, SENTINEL]]
    assert apply("xor_lr", grid) == [[0, SENTINEL], [0, 0]]
    cells = [[1, 0, 5, 0, 0], [0, 0, 5, 0, 0]]
    assert apply("cell_most", cells) == [[1, 0], [0, 0]]


def test_scale_tile_mirror_fractal() -> None:
    assert apply("upscale2", [[1, 2]]) == [[1, 1, 2, 2], [1, 1, 2, 2]]
    assert apply("downscale2", [[1, 1, 2, 2], [1, 1, 2, 2]]) == [[1, 2]]
    assert apply("downscale2", [[1, 2, 2, 2], [1, 1, 2, 2]]) is None
    assert apply("tile1x2", [[1, 2]]) == [[1, 2, 1, 2]]
    assert apply("mirror_h", [[1, 2]]) == [[1, 2, 2, 1]]
    assert apply("fractal", [[1, 0], [0, 0]]) == [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert apply("tile4x4", np.zeros((10, 10), dtype=int)) is None  # beyond 30x30


def test_gravity_fill_outline_lines_denoise() -> None:
    assert apply("gravity_down", [[1, 0], [0, 0], [0, 2]]) == [[0, 0], [0, 0], [1, 2]]
    ring = [[0, 0, 0, 0], [0, 3, 3, 3], [0, 3, 0, 3], [0, 3, 3, 3]]
    filled = apply("fill_holes", ring)
    assert filled is not None and filled[2][2] == SENTINEL and filled[0][0] == 0
    assert apply("fill_holes", [[0, 1], [1, 0]]) is None
    assert apply("connect_h", [[2, 0, 0, 2]]) == [[2, 2, 2, 2]]
    assert apply("extend_col", [[0, 4], [0, 0]]) == [[0, 4], [0, 4]]
    assert apply("remove_singletons", [[1, 0, 0], [0, 0, 2], [0, 0, 2]]) == [[0, 0, 0], [0, 0, 2], [0, 0, 2]]
    assert apply("symmetrize_lr", [[1, 2, 0]]) == [[1, 2, 1]]
    assert apply("symfill:9", [[1, 2, 9]]) == [[1, 2, 1]]


def test_color_map_fit_apply_and_conflicts() -> None:
    states = [as_grid([[1, 2]]), as_grid([[2, 1]])]
    targets = [as_grid([[3, 4]]), as_grid([[4, 3]])]
    cmap = ColorMap.fit(states, targets)
    assert cmap is not None and cmap.mapping == {1: 3, 2: 4}
    assert cmap.apply(as_grid([[2, 2, 0]])).tolist() == [[4, 4, 0]]
    assert ColorMap.fit([as_grid([[1, 1]])], [as_grid([[3, 4]])]) is None  # one colour, two targets
    assert ColorMap.fit([as_grid([[1]])], [as_grid([[1, 1]])]) is None  # shape mismatch


def test_programs_run_render_and_describe() -> None:
    steps = ["fliplr", 'colormap:{"1": 5}']
    assert apply_program(steps, [[1, 0]]).tolist() == [[0, 5]]
    with pytest.raises(ValueError, match="does not apply"):
        apply_program(["crop_nonbg"], [[0, 0]])
    with pytest.raises(ValueError, match="sentinel"):
        apply_program(["fill_holes"], [[1, 1, 1], [1, 0, 1], [1, 1, 1]])
    source = program_source(steps)
    namespace: dict = {}
    exec(compile(source, "<test>", "exec"), namespace)
    assert namespace["transform"]([[1, 0]]) == [[0, 5]]
    assert "mirror left-right" in describe_program(steps)
    with pytest.raises(KeyError):
        primitive("no_such_primitive")


def test_task_primitives_expand_colour_families_and_keys_are_exact() -> None:
    names = {p.name for p in task_primitives({0, 3})}
    assert {"keep:3", "remove:0", "rot90"} <= names and "keep:4" not in names
    assert grid_key(as_grid([[1, 2]])) != grid_key(as_grid([[1], [2]]))
