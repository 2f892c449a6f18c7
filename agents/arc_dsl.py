"""A small grid DSL for ARC: vectorised numpy primitives, each a pure `Grid -> Grid | None`.

Why this shape: the search (agents/arc_search.py) composes unary primitives and memoises every
intermediate grid by its bytes, so a primitive must be deterministic and cheap. A primitive returns
None when it does not apply (nothing to crop, not divisible, too big). Parametrised families (colour c)
are expanded per task from the colours the task shows. Colour 10 is a *sentinel* "new colour" that
only a final colour map (`ColorMap`) may turn into a real colour, so one `fill_holes` covers every
fill colour. Programs are lists of primitive names; `apply_program` runs one, and `program_source`
renders it as a `transform(grid)` Python program the sandbox can verify.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

Grid = np.ndarray
SENTINEL = 10
MAX_SIDE = 30
_STRUCT8 = np.ones((3, 3), dtype=bool)
_STRUCT4 = ndimage.generate_binary_structure(2, 1)


def as_grid(value: object) -> Grid:
    """Any list-of-lists / array of ints as a uint8 grid (the DSL's one representation)."""
    g = np.asarray(value, dtype=np.int64)
    if g.ndim != 2 or g.size == 0:
        raise ValueError("a grid is a non-empty 2-D array")
    return g.astype(np.uint8)


def grid_key(g: Grid) -> bytes:
    """Bytes identity of a grid (shape included) for memoisation and de-duplication."""
    return g.shape[0].to_bytes(1, "little") + g.shape[1].to_bytes(1, "little") + g.tobytes()


def _ok(g: Grid | None) -> Grid | None:
    if g is None or g.ndim != 2 or g.size == 0 or g.shape[0] > MAX_SIDE or g.shape[1] > MAX_SIDE:
        return None
    return np.ascontiguousarray(g, dtype=np.uint8)


def _bbox(mask: np.ndarray) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def background(g: Grid) -> int:
    """ARC's background is black (0) when present, else the most common colour."""
    if (g == 0).any():
        return 0
    return int(np.bincount(g.ravel()).argmax())


@dataclass(frozen=True)
class Obj:
    """A connected component: its bounding box, its mask inside the box, and the cropped cells."""

    rows: slice
    cols: slice
    mask: np.ndarray
    cells: np.ndarray

    @property
    def size(self) -> int:
        return int(self.mask.sum())

    @property
    def colors(self) -> set[int]:
        return {int(c) for c in np.unique(self.cells[self.mask])}


def objects(g: Grid, *, diag: bool = True, multicolor: bool = True, bg: int | None = None) -> list[Obj]:
    """Connected components of non-background cells (optionally split by colour)."""
    bg = background(g) if bg is None else bg
    struct = _STRUCT8 if diag else _STRUCT4
    found: list[Obj] = []
    layers = [g != bg] if multicolor else [g == c for c in np.unique(g) if c != bg]
    for layer in layers:
        labels, n = ndimage.label(layer, structure=struct)
        if n == 0:
            continue
        for i, sl in enumerate(ndimage.find_objects(labels), start=1):
            if sl is None:
                continue
            mask = labels[sl] == i
            found.append(Obj(sl[0], sl[1], mask, np.where(mask, g[sl], bg).astype(np.uint8)))
    return found


# --- primitive implementations ---------------------------------------------------------------------
def crop_nonbg(g: Grid) -> Grid | None:
    box = _bbox(g != background(g))
    return None if box is None else g[box]


def _crop_pick(
    key: Callable[[Obj], float], *, diag: bool = True, multicolor: bool = True, largest: bool = True
):
    def prim(g: Grid) -> Grid | None:
        objs = objects(g, diag=diag, multicolor=multicolor)
        if len(objs) < 2:
            return None
        scores = [key(o) for o in objs]
        best = max(scores) if largest else min(scores)
        chosen = [o for o, s in zip(objs, scores, strict=True) if s == best]
        if len(chosen) != 1:
            return None
        return chosen[0].cells

    return prim


def _crop_unique_color(g: Grid) -> Grid | None:
    objs = objects(g, diag=True, multicolor=True)
    if len(objs) < 2:
        return None
    sig = [tuple(sorted(o.colors)) for o in objs]
    uniq = [o for o, s in zip(objs, sig, strict=True) if sig.count(s) == 1]
    return uniq[0].cells if len(uniq) == 1 else None


def _crop_unique_shape(g: Grid) -> Grid | None:
    objs = objects(g, diag=True, multicolor=True)
    if len(objs) < 3:
        return None
    shapes = [grid_key(o.mask.astype(np.uint8)) for o in objs]
    uniq = [o for o, s in zip(objs, shapes, strict=True) if shapes.count(s) == 1]
    return uniq[0].cells if len(uniq) == 1 else None


def _crop_interior(g: Grid) -> Grid | None:
    """Inside of the largest object's bounding box (a frame's content)."""
    objs = objects(g, diag=False, multicolor=False)
    if not objs:
        return None
    big = max(objs, key=lambda o: o.size)
    inner = g[big.rows, big.cols][1:-1, 1:-1]
    return inner if inner.size else None


def _halves(g: Grid, axis: int) -> tuple[Grid, Grid] | None:
    n = g.shape[axis]
    if n < 2:
        return None
    half = n // 2
    if n % 2 == 1:
        mid = g[half] if axis == 0 else g[:, half]
        if len(np.unique(mid)) != 1:
            return None
        a, b = (g[:half], g[half + 1 :]) if axis == 0 else (g[:, :half], g[:, half + 1 :])
    else:
        a, b = (g[:half], g[half:]) if axis == 0 else (g[:, :half], g[:, half:])
    return a, b


def _cells(g: Grid) -> list[Grid] | None:
    """Split a grid by full separator rows/columns of one non-background colour."""
    bg = background(g)
    h, w = g.shape
    sep_rows = [r for r in range(h) if g[r, 0] != bg and (g[r] == g[r, 0]).all()]
    sep_cols = [c for c in range(w) if g[0, c] != bg and (g[:, c] == g[0, c]).all()]
    if not sep_rows and not sep_cols:
        return None

    def spans(seps: list[int], n: int) -> list[tuple[int, int]]:
        out, start = [], 0
        for s in [*seps, n]:
            if s > start:
                out.append((start, s))
            start = s + 1
        return out

    cells = [g[r0:r1, c0:c1] for r0, r1 in spans(sep_rows, h) for c0, c1 in spans(sep_cols, w)]
    return cells if len(cells) >= 2 else None


def _pick_cell(kind: str):
    def prim(g: Grid) -> Grid | None:
        cells = _cells(g)
        if not cells:
            return None
        bg = background(g)
        if kind == "unique":
            keys = [grid_key(c) for c in cells]
            uniq = [c for c, k in zip(cells, keys, strict=True) if keys.count(k) == 1]
            return uniq[0] if len(uniq) == 1 else None
        counts = [int((c != bg).sum()) for c in cells]
        target = max(counts) if kind == "most" else min(counts)
        chosen = [c for c, n in zip(cells, counts, strict=True) if n == target]
        return chosen[0] if len(chosen) == 1 else None

    return prim


def _overlay_cells(g: Grid) -> Grid | None:
    cells = _cells(g)
    if not cells or len({c.shape for c in cells}) != 1:
        return None
    bg = background(g)
    out = np.full(cells[0].shape, bg, dtype=np.uint8)
    for c in cells:
        out = np.where(c != bg, c, out)
    return out


def _logic(op: str, axis: int | None):
    def prim(g: Grid) -> Grid | None:
        if axis is None:
            cells = _cells(g)
            if not cells or len(cells) != 2 or cells[0].shape != cells[1].shape:
                return None
            a, b = cells
        else:
            parts = _halves(g, axis)
            if parts is None or parts[0].shape != parts[1].shape:
                return None
            a, b = parts
        ma, mb = a != background(g), b != background(g)
        res = {"and": ma & mb, "or": ma | mb, "xor": ma ^ mb, "nor": ~(ma | mb), "diff": ma & ~mb}[op]
        return np.where(res, SENTINEL, 0).astype(np.uint8)

    return prim


def _tile(rows: int, cols: int):
    return lambda g: np.tile(g, (rows, cols))


def _upscale(k: int):
    return lambda g: np.kron(g, np.ones((k, k), dtype=np.uint8))


def _downscale(k: int):
    def prim(g: Grid) -> Grid | None:
        h, w = g.shape
        if h % k or w % k or (h == k and w == k):
            return None
        small = g[::k, ::k]
        if not (np.kron(small, np.ones((k, k), dtype=np.uint8)) == g).all():
            return None
        return small

    return prim


def _mirror(kind: str):
    def prim(g: Grid) -> Grid:
        if kind == "h":
            return np.hstack([g, g[:, ::-1]])
        if kind == "v":
            return np.vstack([g, g[::-1]])
        if kind == "h_rev":
            return np.hstack([g[:, ::-1], g])
        if kind == "v_rev":
            return np.vstack([g[::-1], g])
        top = np.hstack([g, g[:, ::-1]])
        return np.vstack([top, top[::-1]])

    return prim


def _fractal(invert: bool):
    def prim(g: Grid) -> Grid | None:
        if g.shape[0] * g.shape[0] > MAX_SIDE or g.shape[1] * g.shape[1] > MAX_SIDE:
            return None
        mask = (g == background(g)) if invert else (g != background(g))
        return np.kron(mask.astype(np.uint8), np.ones_like(g)) * np.tile(g, g.shape)

    return prim


def _symmetrize(kind: str):
    """Fill background cells from their mirror image (symmetry completion)."""

    def prim(g: Grid) -> Grid | None:
        bg = background(g)
        out = g.copy()
        views = {"lr": [g[:, ::-1]], "ud": [g[::-1]], "both": [g[:, ::-1], g[::-1], g[::-1, ::-1]]}
        if kind in ("diag", "rot"):
            if g.shape[0] != g.shape[1]:
                return None
            views["diag"] = [g.T]
            views["rot"] = [np.rot90(g, 1), np.rot90(g, 2), np.rot90(g, 3), g.T, g[::-1, ::-1].T]
        for v in views[kind]:
            out = np.where(out == bg, v, out)
        return None if (out == g).all() else out

    return prim


def _gravity(direction: str):
    def prim(g: Grid) -> Grid | None:
        bg = background(g)
        t = {"down": g, "up": g[::-1], "right": g.T, "left": g.T[::-1]}[direction]
        out = np.full_like(t, bg)
        for c in range(t.shape[1]):
            col = t[:, c]
            vals = col[col != bg]
            if vals.size:
                out[t.shape[0] - vals.size :, c] = vals
        back = {"down": out, "up": out[::-1], "right": out.T, "left": out[::-1].T}[direction]
        return None if (back == g).all() else back

    return prim


def _fill_holes(g: Grid) -> Grid | None:
    bg = background(g)
    empty = g == bg
    labels, n = ndimage.label(empty, structure=_STRUCT4)
    if n == 0:
        return None
    border = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])))
    holes = np.isin(labels, [i for i in range(1, n + 1) if i not in border])
    if not holes.any():
        return None
    return np.where(holes, SENTINEL, g)


def _outline(g: Grid) -> Grid | None:
    bg = background(g)
    fg = g != bg
    if not fg.any():
        return None
    ring = ndimage.binary_dilation(fg, structure=_STRUCT8) & ~fg
    return np.where(ring, SENTINEL, g) if ring.any() else None


def _outline4(g: Grid) -> Grid | None:
    bg = background(g)
    fg = g != bg
    ring = ndimage.binary_dilation(fg, structure=_STRUCT4) & ~fg
    return np.where(ring, SENTINEL, g) if ring.any() else None


def _bbox_fill(g: Grid) -> Grid | None:
    bg = background(g)
    out = g.copy()
    for o in objects(g, diag=True, multicolor=True):
        box = out[o.rows, o.cols]
        box[box == bg] = SENTINEL
    return None if (out == g).all() else out


def _extend(kind: str):
    def prim(g: Grid) -> Grid | None:
        bg = background(g)
        out = g.copy()
        rr, cc = np.nonzero(g != bg)
        if rr.size == 0 or rr.size > 12:
            return None
        for r, c in zip(rr, cc, strict=True):
            color = g[r, c]
            if kind in ("row", "cross"):
                out[r, :] = np.where(out[r, :] == bg, color, out[r, :])
            if kind in ("col", "cross"):
                out[:, c] = np.where(out[:, c] == bg, color, out[:, c])
        return out

    return prim


def _connect(axis: str):
    def prim(g: Grid) -> Grid | None:
        bg = background(g)
        out = g.copy()
        changed = False
        views = []
        if axis in ("h", "hv"):
            views.append((g, out))
        if axis in ("v", "hv"):
            views.append((g.T, out.T))
        for src, dst in views:
            for r in range(src.shape[0]):
                row = src[r]
                for color in np.unique(row[row != bg]):
                    idx = np.flatnonzero(row == color)
                    if idx.size >= 2:
                        seg = dst[r, idx[0] : idx[-1] + 1]
                        fill = seg == bg
                        if fill.any():
                            seg[fill] = color
                            changed = True
        return out if changed else None

    return prim


def _remove_small(max_size: int):
    def prim(g: Grid) -> Grid | None:
        bg = background(g)
        out = g.copy()
        for o in objects(g, diag=False, multicolor=False):
            if o.size <= max_size:
                view = out[o.rows, o.cols]
                view[o.mask] = bg
        return None if (out == g).all() else out

    return prim


def _keep_largest(g: Grid) -> Grid | None:
    objs = objects(g, diag=True, multicolor=True)
    if len(objs) < 2:
        return None
    big = max(objs, key=lambda o: o.size)
    out = np.full_like(g, background(g))
    view = out[big.rows, big.cols]
    view[big.mask] = big.cells[big.mask]
    return out


def _compress(g: Grid) -> Grid | None:
    bg = background(g)
    rows = ~(g == bg).all(axis=1)
    cols = ~(g == bg).all(axis=0)
    if rows.all() and cols.all():
        return None
    out = g[rows][:, cols]
    return out if out.size else None


def _dedup(g: Grid) -> Grid | None:
    rows = np.ones(g.shape[0], dtype=bool)
    rows[1:] = (g[1:] != g[:-1]).any(axis=1)
    g2 = g[rows]
    cols = np.ones(g2.shape[1], dtype=bool)
    cols[1:] = (g2[:, 1:] != g2[:, :-1]).any(axis=0)
    out = g2[:, cols]
    return None if out.shape == g.shape else out


def _color_count(most: bool):
    def prim(g: Grid) -> Grid | None:
        bg = background(g)
        counts = np.bincount(g.ravel(), minlength=11)
        counts[bg] = 0
        nz = np.flatnonzero(counts)
        if nz.size == 0:
            return None
        pick = nz[np.argmax(counts[nz])] if most else nz[np.argmin(counts[nz])]
        return np.array([[pick]], dtype=np.uint8)

    return prim


def _majority_fg(g: Grid) -> Grid | None:
    bg = background(g)
    counts = np.bincount(g.ravel(), minlength=11)
    counts[bg] = 0
    if counts.sum() == 0:
        return None
    out = np.where(g != bg, int(counts.argmax()), g)
    return None if (out == g).all() else out


def _invert(g: Grid) -> Grid | None:
    bg = background(g)
    return np.where(g == bg, SENTINEL, bg).astype(np.uint8)


def _border(g: Grid) -> Grid:
    out = g.copy()
    out[0, :] = out[-1, :] = SENTINEL
    out[:, 0] = out[:, -1] = SENTINEL
    return out


def _keep_color(c: int):
    def prim(g: Grid) -> Grid | None:
        if not (g == c).any():
            return None
        return np.where(g == c, g, background(g)).astype(np.uint8)

    return prim


def _remove_color(c: int):
    def prim(g: Grid) -> Grid | None:
        if not (g == c).any():
            return None
        return np.where(g == c, background(g), g).astype(np.uint8)

    return prim


def _crop_color(c: int):
    def prim(g: Grid) -> Grid | None:
        box = _bbox(g == c)
        return None if box is None else g[box]

    return prim


def _sym_fill_color(c: int):
    """Cells of colour c are 'unknown': fill them from any mirror image that knows them."""

    def prim(g: Grid) -> Grid | None:
        holes = g == c
        if not holes.any():
            return None
        out = g.copy()
        cands = [g[:, ::-1], g[::-1], g[::-1, ::-1]]
        if g.shape[0] == g.shape[1]:
            cands += [g.T, np.rot90(g, 1), np.rot90(g, 3), g[::-1, ::-1].T]
        for v in cands:
            fill = (out == c) & (v != c)
            out[fill] = v[fill]
        return None if (out == c).any() else out

    return prim


def _shift_periods(g: Grid, known: np.ndarray, axis: int) -> list[int]:
    """Shifts along `axis` under which every pair of known cells agrees (a necessary period test)."""
    n = g.shape[axis]
    out = []
    for p in range(1, n):
        a = g[:-p] if axis == 0 else g[:, :-p]
        b = g[p:] if axis == 0 else g[:, p:]
        ka = known[:-p] if axis == 0 else known[:, :-p]
        kb = known[p:] if axis == 0 else known[:, p:]
        both = ka & kb
        if not (a[both] != b[both]).any():
            out.append(p)
    return [*out, n]


def _periodic_fill(g: Grid, unknown: np.ndarray) -> Grid | None:
    """Fill unknown cells from the smallest 2-D period (rows py, columns px) the known cells obey."""
    h, w = g.shape
    known = ~unknown
    pys, pxs = _shift_periods(g, known, 0), _shift_periods(g, known, 1)
    rr, cc = np.indices(g.shape)
    k_val = g[known].astype(np.int64)
    for _, py, px in sorted((py * px, py, px) for py in pys for px in pxs):
        if py == h and px == w:
            break
        cls = (rr % py) * px + (cc % px)
        vals = np.full(py * px, -1, dtype=np.int64)
        k_cls = cls[known]
        vals[k_cls] = k_val  # last write wins; consistency checked next
        if (vals[k_cls] != k_val).any() or (vals < 0).any():
            continue
        return vals[cls].astype(np.uint8)
    return None


def _per_fill_color(c: int, crop: bool = False):
    """Cells of colour c are 'unknown': fill them by continuing the grid's periodic pattern."""

    def prim(g: Grid) -> Grid | None:
        holes = g == c
        if not holes.any() or holes.all():
            return None
        out = _periodic_fill(g, holes)
        if out is None:
            return None
        box = _bbox(holes)
        return out[box] if crop and box is not None else out

    return prim


def _sym_fill_crop(c: int):
    fill = _sym_fill_color(c)

    def prim(g: Grid) -> Grid | None:
        out = fill(g)
        box = _bbox(g == c)
        return None if out is None or box is None else out[box]

    return prim


# --- the registry --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Primitive:
    name: str
    fn: Callable[[Grid], Grid | None]
    cost: float = 1.0
    family: str = "misc"
    description: str = ""


STATIC: dict[str, Primitive] = {}
COLOR_FAMILIES: dict[str, tuple[Callable[[int], Callable[[Grid], Grid | None]], float, str, str]] = {}


def _reg(name: str, fn: Callable[[Grid], Grid | None], cost: float, family: str, description: str) -> None:
    STATIC[name] = Primitive(name, fn, cost, family, description)


for _n, _f, _d in [
    ("rot90", lambda g: np.rot90(g, 1), "rotate 90° counter-clockwise"),
    ("rot180", lambda g: np.rot90(g, 2), "rotate 180°"),
    ("rot270", lambda g: np.rot90(g, 3), "rotate 90° clockwise"),
    ("flipud", lambda g: g[::-1], "flip upside down"),
    ("fliplr", lambda g: g[:, ::-1], "mirror left-right"),
    ("transpose", lambda g: g.T, "transpose (main diagonal)"),
    ("antitranspose", lambda g: g[::-1, ::-1].T, "transpose along the anti-diagonal"),
]:
    _reg(_n, _f, 1.0, "geometry", _d)

_reg("crop_nonbg", crop_nonbg, 1.0, "crop", "crop to the bounding box of all non-background cells")
_reg("crop_largest", _crop_pick(lambda o: o.size), 1.2, "crop", "crop the largest object")
_reg("crop_smallest", _crop_pick(lambda o: o.size, largest=False), 1.2, "crop", "crop the smallest object")
_reg(
    "crop_largest_box",
    _crop_pick(lambda o: o.cells.size),
    1.4,
    "crop",
    "crop the object with the largest box",
)
_reg(
    "crop_largest_mono",
    _crop_pick(lambda o: o.size, multicolor=False),
    1.4,
    "crop",
    "crop the largest single-colour object",
)
_reg(
    "crop_most_colors", _crop_pick(lambda o: len(o.colors)), 1.4, "crop", "crop the object with most colours"
)
_reg("crop_unique_color", _crop_unique_color, 1.4, "crop", "crop the only object with its colour set")
_reg("crop_unique_shape", _crop_unique_shape, 1.5, "crop", "crop the object whose shape is unique")
_reg("crop_interior", _crop_interior, 1.5, "crop", "take the inside of the largest frame")
_reg("top_half", lambda g: (_halves(g, 0) or (None, None))[0], 1.3, "split", "top half")
_reg("bottom_half", lambda g: (_halves(g, 0) or (None, None))[1], 1.3, "split", "bottom half")
_reg("left_half", lambda g: (_halves(g, 1) or (None, None))[0], 1.3, "split", "left half")
_reg("right_half", lambda g: (_halves(g, 1) or (None, None))[1], 1.3, "split", "right half")
_reg("cell_most", _pick_cell("most"), 1.4, "split", "grid cell (between separator lines) with most colour")
_reg("cell_least", _pick_cell("least"), 1.4, "split", "grid cell with least colour")
_reg("cell_unique", _pick_cell("unique"), 1.4, "split", "the grid cell that differs from the others")
_reg("overlay_cells", _overlay_cells, 1.4, "split", "overlay all separator cells")
for _op in ("and", "or", "xor", "nor", "diff"):
    _reg(f"{_op}_lr", _logic(_op, 1), 1.6, "logic", f"{_op} of left and right halves")
    _reg(f"{_op}_tb", _logic(_op, 0), 1.6, "logic", f"{_op} of top and bottom halves")
    _reg(f"{_op}_cells", _logic(_op, None), 1.6, "logic", f"{_op} of the two separator cells")
for _k in (2, 3, 4):
    _reg(f"upscale{_k}", _upscale(_k), 1.3, "scale", f"scale up by {_k}")
for _k in (2, 3):
    _reg(f"downscale{_k}", _downscale(_k), 1.3, "scale", f"scale down by {_k}")
for _r, _c in ((1, 2), (2, 1), (2, 2), (3, 3), (1, 3), (3, 1), (4, 4)):
    _reg(f"tile{_r}x{_c}", _tile(_r, _c), 1.4, "tile", f"tile the grid {_r}x{_c}")
for _kind in ("h", "v", "h_rev", "v_rev", "4"):
    _reg(f"mirror_{_kind}", _mirror(_kind), 1.3, "tile", f"append a mirrored copy ({_kind})")
_reg("fractal", _fractal(False), 1.5, "tile", "place a copy of the grid at every foreground cell")
_reg("fractal_inv", _fractal(True), 1.7, "tile", "place a copy of the grid at every background cell")
for _kind in ("lr", "ud", "both", "diag", "rot"):
    _reg(f"symmetrize_{_kind}", _symmetrize(_kind), 1.4, "symmetry", f"complete {_kind} symmetry")
for _dir in ("down", "up", "left", "right"):
    _reg(f"gravity_{_dir}", _gravity(_dir), 1.5, "gravity", f"let cells fall {_dir}")
_reg("fill_holes", _fill_holes, 1.2, "fill", "fill enclosed background regions with a new colour")
_reg("outline", _outline, 1.5, "fill", "colour background cells touching objects (8-neighbour)")
_reg("outline4", _outline4, 1.6, "fill", "colour background cells touching objects (4-neighbour)")
_reg("bbox_fill", _bbox_fill, 1.5, "fill", "fill each object's bounding box background")
_reg("border", _border, 1.6, "fill", "paint the outer border with a new colour")
_reg("invert", _invert, 1.5, "color", "swap foreground and background")
for _kind in ("row", "col", "cross"):
    _reg(f"extend_{_kind}", _extend(_kind), 1.6, "lines", f"extend each pixel into a full {_kind}")
for _axis in ("h", "v", "hv"):
    _reg(f"connect_{_axis}", _connect(_axis), 1.5, "lines", f"connect same-colour pixels ({_axis})")
_reg("remove_singletons", _remove_small(1), 1.5, "denoise", "remove isolated pixels")
_reg("remove_small3", _remove_small(3), 1.7, "denoise", "remove objects of size ≤ 3")
_reg("keep_largest", _keep_largest, 1.5, "denoise", "keep only the largest object")
_reg("compress", _compress, 1.4, "crop", "drop empty rows and columns")
_reg("dedup", _dedup, 1.5, "crop", "collapse repeated rows and columns")
_reg("most_color_1x1", _color_count(True), 1.8, "count", "1x1 grid of the most common colour")
_reg("least_color_1x1", _color_count(False), 1.8, "count", "1x1 grid of the least common colour")
_reg("majority_fg", _majority_fg, 1.7, "color", "paint all foreground with the majority colour")

COLOR_FAMILIES["keep"] = (_keep_color, 1.8, "color", "keep only colour {c}")
COLOR_FAMILIES["remove"] = (_remove_color, 1.7, "color", "remove colour {c}")
COLOR_FAMILIES["cropc"] = (_crop_color, 1.5, "crop", "crop to the box of colour {c}")
COLOR_FAMILIES["symfill"] = (
    _sym_fill_color,
    1.5,
    "symmetry",
    "colour {c} marks unknown cells: fill by symmetry",
)
COLOR_FAMILIES["symcrop"] = (_sym_fill_crop, 1.6, "symmetry", "what symmetry puts under the colour-{c} patch")
COLOR_FAMILIES["perfill"] = (
    _per_fill_color,
    1.5,
    "pattern",
    "colour {c} marks unknown cells: continue the pattern",
)
COLOR_FAMILIES["percrop"] = (
    lambda c: _per_fill_color(c, crop=True),
    1.6,
    "pattern",
    "what the repeating pattern puts under the colour-{c} patch",
)


def primitive(name: str) -> Primitive:
    """Look up a primitive by name; colour families are `family:c` (e.g. `keep:3`)."""
    if name in STATIC:
        return STATIC[name]
    fam, _, arg = name.partition(":")
    if fam in COLOR_FAMILIES and arg.isdigit():
        make, cost, family, desc = COLOR_FAMILIES[fam]
        c = int(arg)
        return Primitive(name, make(c), cost, family, desc.format(c=c))
    raise KeyError(f"unknown DSL primitive {name!r}")


def task_primitives(colors: set[int]) -> list[Primitive]:
    """The primitive set for one task: every static primitive plus colour families on its colours."""
    prims = list(STATIC.values())
    for fam in COLOR_FAMILIES:
        prims += [primitive(f"{fam}:{c}") for c in sorted(colors)]
    return prims


def apply_primitive(name: str, g: Grid) -> Grid | None:
    try:
        return _ok(primitive(name).fn(g))
    except (ValueError, IndexError):
        return None


# --- final steps: colour maps --------------------------------------------------------------------
@dataclass
class ColorMap:
    """A consistent cell-wise recolouring learned from train pairs; unseen colours stay put."""

    mapping: dict[int, int] = field(default_factory=dict)

    @classmethod
    def fit(cls, states: list[Grid], targets: list[Grid]) -> ColorMap | None:
        table = np.full(11, -1, dtype=np.int16)
        for s, t in zip(states, targets, strict=True):
            if s.shape != t.shape:
                return None
            src, dst = s.ravel(), t.ravel()
            known = table[src]
            if ((known >= 0) & (known != dst)).any():
                return None
            # Within one grid a source colour must map to a single target colour.
            for c in np.unique(src):
                vals = np.unique(dst[src == c])
                if vals.size != 1:
                    return None
                table[c] = vals[0]
        mapping = {int(c): int(table[c]) for c in range(11) if table[c] >= 0 and table[c] != c}
        if table[SENTINEL] < 0:
            mapping.pop(SENTINEL, None)
        return cls(mapping)

    def apply(self, g: Grid) -> Grid | None:
        lut = np.arange(11, dtype=np.uint8)
        for a, b in self.mapping.items():
            lut[a] = b
        out = lut[g]
        return None if (out >= SENTINEL).any() else out

    def name(self) -> str:
        return "colormap:" + json.dumps({str(k): v for k, v in sorted(self.mapping.items())})


def apply_program(steps: list[str], g: object) -> Grid:
    """Run a program on one grid: primitive names, optionally ending in a learned step (colour map,
    local rule, object recolouring) serialised as `kind:{json}`."""
    from agentmem.agents.arc_learned import is_learned_step, parse_learned

    grid = as_grid(g)
    for step in steps:
        if step.startswith("colormap:"):
            cmap = ColorMap({int(k): int(v) for k, v in json.loads(step[len("colormap:") :]).items()})
            out = cmap.apply(grid)
        elif is_learned_step(step):
            out = parse_learned(step).apply(grid)
        else:
            out = apply_primitive(step, grid)
        if out is None:
            raise ValueError(f"step {step!r} does not apply to a {grid.shape[0]}x{grid.shape[1]} grid")
        grid = out
    if (grid >= SENTINEL).any():
        raise ValueError("the program leaves unresolved sentinel cells")
    return grid


def program_source(steps: list[str]) -> str:
    """A self-describing `transform(grid)` program for the sandbox (DSL imported, steps as data)."""
    return (
        "from agentmem.agents.arc_dsl import apply_program\n\n"
        f"STEPS = {json.dumps(steps)}\n\n\n"
        "def transform(grid):\n"
        "    return apply_program(STEPS, grid).tolist()\n"
    )


def describe_program(steps: list[str]) -> str:
    """Readable one-line description of a program, for concept memory and prompts."""
    from agentmem.agents.arc_learned import describe_learned, is_learned_step

    parts = []
    for step in steps:
        if step.startswith("colormap:"):
            pairs = json.loads(step[len("colormap:") :])
            parts.append(
                "recolour " + ", ".join(f"{'new' if k == str(SENTINEL) else k}→{v}" for k, v in pairs.items())
            )
        elif is_learned_step(step):
            parts.append(describe_learned(step))
        else:
            try:
                parts.append(primitive(step).description or step)
            except KeyError:
                parts.append(step)
    return "; then ".join(parts) if parts else "identity"
