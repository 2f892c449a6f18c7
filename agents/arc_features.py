"""Observable task features ("cues") of an ARC task, from its train pairs and test inputs only.

Cues are what concept memory is keyed on: a concept stores the cues of the tasks it solved, and a
new task's cues are the retrieval query, so similar-looking tasks recall the programs that worked.
"""

from __future__ import annotations

import numpy as np

from agentmem.agents.arc_dsl import as_grid, background, objects


def task_cues(train: list[tuple[object, object]], test_inputs: list[object] | None = None) -> list[str]:
    """Short phrases describing what every train pair has in common (plus input-only facts)."""
    pairs = [(as_grid(a), as_grid(b)) for a, b in train]
    cues: list[str] = []
    shapes = [(a.shape, b.shape) for a, b in pairs]
    if all(sa == sb for sa, sb in shapes):
        cues.append("output has the same size as the input")
    elif all(sb == (1, 1) for _, sb in shapes):
        cues.append("output is a single cell")
    elif all(sb[0] <= sa[0] and sb[1] <= sa[1] for sa, sb in shapes):
        cues.append("output is smaller than the input")
        if all(_is_subgrid(b, a) for a, b in pairs):
            cues.append("output is a piece cut out of the input")
    elif all(sb[0] >= sa[0] and sb[1] >= sa[1] for sa, sb in shapes):
        ratios = {(sb[0] / sa[0], sb[1] / sa[1]) for sa, sb in shapes}
        if len(ratios) == 1:
            ry, rx = next(iter(ratios))
            cues.append(f"output is larger: {ry:g}x taller and {rx:g}x wider")
        else:
            cues.append("output is larger than the input")
    if len({sb for _, sb in shapes}) == 1 and len({sa for sa, _ in shapes}) > 1:
        cues.append(f"output size is fixed at {shapes[0][1][0]}x{shapes[0][1][1]}")
    cin = [set(np.unique(a).tolist()) for a, _ in pairs]
    cout = [set(np.unique(b).tolist()) for _, b in pairs]
    if all(o == i for i, o in zip(cin, cout, strict=True)):
        cues.append("same colours in input and output")
    elif all(o < i for i, o in zip(cin, cout, strict=True)):
        cues.append("some colours disappear")
    elif all(o - i for i, o in zip(cin, cout, strict=True)):
        cues.append("new colours appear in the output")
    same = [(a, b) for a, b in pairs if a.shape == b.shape]
    if same and len(same) == len(pairs):
        bg_only = all(((a != b) <= (a == background(a))).all() for a, b in pairs)
        if bg_only:
            cues.append("only background cells change (things are added)")
        elif all(((a != b) <= (b == background(a))).all() for a, b in pairs):
            cues.append("cells are only erased")
        frac = float(np.mean([(a != b).mean() for a, b in pairs]))
        cues.append("few cells change" if frac < 0.1 else "many cells change")
    if all(_symmetric(b) for _, b in pairs):
        cues.append("output is symmetric")
    n_objs = [len(objects(a)) for a, _ in pairs]
    if all(n == 1 for n in n_objs):
        cues.append("input has one object")
    elif all(n >= 5 for n in n_objs):
        cues.append("input has many objects")
    elif all(n >= 2 for n in n_objs):
        cues.append("input has a few objects")
    if all(_has_separators(a) for a, _ in pairs):
        cues.append("input is divided by separator lines")
    if all(len(np.unique(a)) == 2 for a, _ in pairs):
        cues.append("input has two colours")
    if all(max(a.shape) >= 15 for a, _ in pairs):
        cues.append("large input grids")
    return cues


def cue_text(cues: list[str]) -> str:
    return "ARC task. " + "; ".join(cues) + "." if cues else "ARC task."


def _is_subgrid(small: np.ndarray, big: np.ndarray) -> bool:
    h, w = small.shape
    H, W = big.shape
    if h > H or w > W or h * w == 0:
        return False
    if (H - h + 1) * (W - w + 1) > 900:
        return False
    windows = np.lib.stride_tricks.sliding_window_view(big, (h, w))
    return bool((windows == small).all(axis=(2, 3)).any())


def _symmetric(g: np.ndarray) -> bool:
    return bool((g == g[:, ::-1]).all() or (g == g[::-1]).all())


def _has_separators(g: np.ndarray) -> bool:
    bg = background(g)
    rows = [(r != bg).all() and (r == r[0]).all() for r in g]
    cols = [(c != bg).all() and (c == c[0]).all() for c in g.T]
    return any(rows[1:-1]) or any(cols[1:-1])
