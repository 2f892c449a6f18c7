"""Learned final steps for ARC programs: rules fitted on the train pairs, checked by leave-one-out.

Why: a colour map is the one learned step the search had; many ARC tasks are a *local rule* (each
cell's output follows from its neighbourhood: outlines, fills, lines drawn up to a wall) or an
*object recolouring* by a property (size, shape, holes). Enumerating those as primitives would need a
primitive per colour table; fitting the table from the train pairs is exact and cheap instead.

Self-verification without test outputs: a rule fitted on all train pairs but one must reproduce the
held-out pair exactly (cells whose feature was never seen keep their colour). A rule that only
memorises the pairs fails this and is not proposed. Steps serialise as `name:{json}` so that
`apply_program` (and the sandbox) replay them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agentmem.agents.arc_dsl import Grid, background, grid_key, objects

OUTSIDE = 11  # neighbour position off the grid
NONE = 11  # a ray that meets no foreground cell
_BASE = 12
_DIRS4 = ((-1, 0), (1, 0), (0, -1), (0, 1))
_DIRS8 = (*_DIRS4, (-1, -1), (-1, 1), (1, -1), (1, 1))


# --- cell features -----------------------------------------------------------------------------------
def _shift(g: np.ndarray, dr: int, dc: int, fill: int) -> np.ndarray:
    """Value of the cell at (r+dr, c+dc) for every (r, c); `fill` off the grid."""
    h, w = g.shape
    out = np.full((h, w), fill, dtype=np.int64)
    r0, r1 = max(0, -dr), min(h, h - dr)
    c0, c1 = max(0, -dc), min(w, w - dc)
    if r0 < r1 and c0 < c1:
        out[r0:r1, c0:c1] = g[r0 + dr : r1 + dr, c0 + dc : c1 + dc]
    return out


def _ray(g: np.ndarray, bg: int, dr: int, dc: int) -> np.ndarray:
    """First foreground colour met walking from each cell in direction (dr, dc); NONE if none."""
    h, w = g.shape
    out = np.full((h, w), NONE, dtype=np.int64)
    open_ = np.ones((h, w), dtype=bool)
    for k in range(1, max(h, w)):
        nb = _shift(g, dr * k, dc * k, OUTSIDE)
        hit = open_ & (nb != bg) & (nb != OUTSIDE)
        out[hit] = nb[hit]
        open_ &= ~hit & (nb != OUTSIDE)
        if not open_.any():
            break
    return out


def _encode(columns: list[np.ndarray]) -> np.ndarray:
    code = np.zeros_like(columns[0], dtype=np.int64)
    for col in columns:
        code = code * _BASE + col
    return code


def _feat_n4(g: np.ndarray, bg: int) -> np.ndarray:
    return _encode([g, *(_shift(g, dr, dc, OUTSIDE) for dr, dc in _DIRS4)])


def _feat_n8(g: np.ndarray, bg: int) -> np.ndarray:
    return _encode([g, *(_shift(g, dr, dc, OUTSIDE) for dr, dc in _DIRS8)])


def _colour_set(cols: list[np.ndarray]) -> np.ndarray:
    mask = np.zeros_like(cols[0], dtype=np.int64)
    for col in cols:
        mask |= np.left_shift(1, np.where(col == OUTSIDE, 11, col))
    return mask & ~(1 << 11)  # "off the grid" is not a colour


def _feat_n4set(g: np.ndarray, bg: int) -> np.ndarray:
    """Centre colour and the set of colours among its 4 neighbours."""
    return g.astype(np.int64) * 4096 + _colour_set([_shift(g, dr, dc, OUTSIDE) for dr, dc in _DIRS4])


def _feat_n8set(g: np.ndarray, bg: int) -> np.ndarray:
    return g.astype(np.int64) * 4096 + _colour_set([_shift(g, dr, dc, OUTSIDE) for dr, dc in _DIRS8])


def _feat_ray4set(g: np.ndarray, bg: int) -> np.ndarray:
    """Centre colour and the set of colours its 4 rays meet (between-two-things rules)."""
    return g.astype(np.int64) * 4096 + _colour_set([_ray(g, bg, dr, dc) for dr, dc in _DIRS4])


def _foreground_bits(dirs: tuple[tuple[int, int], ...]) -> Callable[[np.ndarray, int], np.ndarray]:
    """Centre colour and which neighbours (along `dirs`) are foreground; neighbour colours ignored."""

    def feature(g: np.ndarray, bg: int) -> np.ndarray:
        code = g.astype(np.int64)
        for dr, dc in dirs:
            nb = _shift(g, dr, dc, OUTSIDE)
            code = code * 2 + ((nb != bg) & (nb != OUTSIDE))
        return code

    return feature


def _feat_ray4(g: np.ndarray, bg: int) -> np.ndarray:
    return _encode([g, *(_ray(g, bg, dr, dc) for dr, dc in _DIRS4)])


def _feat_ray8(g: np.ndarray, bg: int) -> np.ndarray:
    return _encode([g, *(_ray(g, bg, dr, dc) for dr, dc in _DIRS8)])


def _feat_rowcol(g: np.ndarray, bg: int) -> np.ndarray:
    """Centre colour and whether its row / its column holds any foreground."""
    fg = g != bg
    row = np.broadcast_to(fg.any(axis=1, keepdims=True), g.shape).astype(np.int64)
    col = np.broadcast_to(fg.any(axis=0, keepdims=True), g.shape).astype(np.int64)
    return (g.astype(np.int64) * 2 + row) * 2 + col


# Fewest distinctions first: the coarser rule that passes leave-one-out generalises further.
FEATURES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "rowcol": _feat_rowcol,
    "n4set": _feat_n4set,
    "n8set": _feat_n8set,
    "ray4set": _feat_ray4set,
    "n4bin": _foreground_bits(_DIRS4),
    "n4": _feat_n4,
    "ray4": _feat_ray4,
    "n8bin": _foreground_bits(_DIRS8),
    "n8": _feat_n8,
    "ray8": _feat_ray8,
}


# --- local rules -------------------------------------------------------------------------------------
def _fit_table(feats: list[np.ndarray], targets: list[Grid]) -> dict[int, int] | None:
    """feature -> output colour over all cells, or None when one feature meets two colours."""
    keys = np.concatenate([f.ravel() for f in feats])
    vals = np.concatenate([t.ravel().astype(np.int64) for t in targets])
    order = np.argsort(keys, kind="stable")
    keys, vals = keys[order], vals[order]
    uniq, start = np.unique(keys, return_index=True)
    first = vals[start]
    if (vals != np.repeat(first, np.diff(np.append(start, keys.size)))).any():
        return None
    return dict(zip(uniq.tolist(), first.tolist(), strict=True))


def _predict(state: Grid, feats: list[np.ndarray], tables: list[dict[int, int]]) -> Grid:
    """Each cell takes the colour of the first table that knows its feature; otherwise it stays."""
    out = state.ravel().copy()
    decided = np.zeros(out.size, dtype=bool)
    for feat, table in zip(feats, tables, strict=True):
        if not table:
            continue
        keys = np.fromiter(table.keys(), dtype=np.int64)
        vals = np.fromiter(table.values(), dtype=np.int64)
        order = np.argsort(keys)
        keys, vals = keys[order], vals[order]
        flat = feat.ravel()
        pos = np.clip(np.searchsorted(keys, flat), 0, keys.size - 1)
        hit = (keys[pos] == flat) & ~decided
        out[hit] = vals[pos[hit]]
        decided |= hit
    return out.reshape(state.shape).astype(np.uint8)


@dataclass
class LocalRule:
    """Each cell's output colour looked up from its neighbourhood features; unseen features keep the cell.

    One feature: a table of the changes only. Several (a cascade, coarsest first): a cell takes the
    colour of the first feature table that has seen its feature — coarse rules decide where they
    know, finer ones fill in.
    """

    features: list[str]
    tables: list[dict[int, int]]

    PREFIX = "localrule:"
    MAX_CASCADE = 3

    @classmethod
    def fit(cls, states: list[Grid], targets: list[Grid]) -> LocalRule | None:
        if any(s.shape != t.shape for s, t in zip(states, targets, strict=True)):
            return None
        if all((s == t).all() for s, t in zip(states, targets, strict=True)):
            return None
        n = len(states)
        if n < 2:
            return None  # leave-one-out needs two pairs
        consistent: list[tuple[str, list[np.ndarray], dict[int, int]]] = []
        for name, fn in FEATURES.items():
            feats = [fn(s.astype(np.int64), background(s)) for s in states]
            table = _fit_table(feats, targets)
            if table is None:
                continue
            consistent.append((name, feats, table))
            if cls._loo([feats], states, targets):
                return cls([name], [_changes_only(table, name)])
        chain = consistent[: cls.MAX_CASCADE]
        if len(chain) >= 2 and cls._loo([f for _, f, _ in chain], states, targets):
            return cls([nm for nm, _, _ in chain], [t for _, _, t in chain])
        return None

    @staticmethod
    def _loo(feature_sets: list[list[np.ndarray]], states: list[Grid], targets: list[Grid]) -> bool:
        """Every pair reproduced by the tables fitted on the other pairs."""
        for i in range(len(states)):
            tables = []
            for feats in feature_sets:
                table = _fit_table(feats[:i] + feats[i + 1 :], targets[:i] + targets[i + 1 :])
                if table is None:
                    return False
                tables.append(table)
            pred = _predict(states[i], [f[i] for f in feature_sets], tables)
            if (pred != targets[i]).any():
                return False
        return True

    def apply(self, g: Grid) -> Grid | None:
        bg = background(g)
        feats = [FEATURES[name](g.astype(np.int64), bg) for name in self.features]
        return _predict(g, feats, self.tables)

    def name(self) -> str:
        tables = [{str(k): v for k, v in t.items()} for t in self.tables]
        return self.PREFIX + json.dumps({"f": self.features, "t": tables})

    @classmethod
    def parse(cls, step: str) -> LocalRule:
        data = json.loads(step[len(cls.PREFIX) :])
        if isinstance(data["f"], str):  # one feature, one table (the first serialised form)
            data = {"f": [data["f"]], "t": [data["t"]]}
        return cls(list(data["f"]), [{int(k): int(v) for k, v in t.items()} for t in data["t"]])


def _centre(name: str, key: int) -> int:
    """The centre colour inside a feature code (the most significant digit)."""
    if name == "rowcol":
        return key // 4
    if name == "n8bin":
        return key // 256
    if name == "n4bin":
        return key // 16
    if name.endswith("set"):
        return key // 4096
    digits = {"n4": 4, "ray4": 4, "n8": 8, "ray8": 8}[name]
    return key // _BASE**digits


def _changes_only(table: dict[int, int], name: str) -> dict[int, int]:
    """Keep only the entries that change the cell (the default keeps it): smaller, and replayable."""
    return {k: v for k, v in table.items() if _centre(name, k) != v}


# --- object recolouring ------------------------------------------------------------------------------
def _holes(mask: np.ndarray) -> int:
    from scipy import ndimage

    inside = ~mask
    labels, n = ndimage.label(inside)
    if n == 0:
        return 0
    edge = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])).tolist())
    return sum(1 for i in range(1, n + 1) if i not in edge)


def _object_props(g: Grid) -> list[tuple[np.ndarray, dict[str, str]]]:
    """Single-colour 8-connected objects with the properties a recolouring may depend on."""
    objs = objects(g, diag=True, multicolor=False)
    sizes = sorted({o.size for o in objs})
    h, w = g.shape
    out = []
    for o in objs:
        full = np.zeros(g.shape, dtype=bool)
        full[o.rows, o.cols] = o.mask
        m = o.mask.astype(np.uint8)
        rots = [np.rot90(m, k) for k in range(4)]
        rots += [r[:, ::-1] for r in rots]
        canon = min(grid_key(r) for r in rots)
        touches = o.rows.start == 0 or o.cols.start == 0 or o.rows.stop == h or o.cols.stop == w
        props = {
            "size": str(o.size),
            "rank_big": str(len(sizes) - 1 - sizes.index(o.size)),
            "rank_small": str(sizes.index(o.size)),
            "shape": grid_key(m).hex(),
            "shape_any": canon.hex(),
            "height": str(m.shape[0]),
            "width": str(m.shape[1]),
            "color": str(next(iter(o.colors))),
            "holes": str(_holes(o.mask)),
            "border": str(int(touches)),
            "rect": str(int(bool(o.mask.all()))),
        }
        out.append((full, props))
    return out


OBJECT_PROPS = ("size", "rank_big", "rank_small", "holes", "shape_any", "shape", "height", "width",
                "border", "rect", "color")  # fmt: skip


@dataclass
class ObjectRecolor:
    """Every object is repainted in one colour chosen by one of its properties; others keep theirs."""

    prop: str
    mapping: dict[str, int]

    PREFIX = "objrecolor:"

    @classmethod
    def _fit_prop(cls, prop: str, states: list[Grid], targets: list[Grid]) -> ObjectRecolor | None:
        mapping: dict[str, int] = {}
        for s, t in zip(states, targets, strict=True):
            for full, props in _object_props(s):
                vals = np.unique(t[full])
                if vals.size != 1:
                    return None
                key, colour = props[prop], int(vals[0])
                if mapping.setdefault(key, colour) != colour:
                    return None
        return cls(prop, mapping)

    @classmethod
    def fit(cls, states: list[Grid], targets: list[Grid]) -> ObjectRecolor | None:
        for s, t in zip(states, targets, strict=True):
            if s.shape != t.shape:
                return None
            bg = background(s)
            if ((s == bg) != (t == bg)).any():
                return None  # not a pure recolouring of objects
        if all((s == t).all() for s, t in zip(states, targets, strict=True)):
            return None
        for prop in OBJECT_PROPS:
            rule = cls._fit_prop(prop, states, targets)
            if rule is None:
                continue
            if _leave_one_out(lambda st, tg, p=prop: cls._fit_prop(p, st, tg), states, targets):
                return rule
        return None

    def apply(self, g: Grid) -> Grid | None:
        out = g.copy()
        for full, props in _object_props(g):
            colour = self.mapping.get(props[self.prop])
            if colour is None:
                return None  # an object this rule has no colour for: do not guess
            out[full] = colour
        return out

    def name(self) -> str:
        return self.PREFIX + json.dumps({"p": self.prop, "m": self.mapping})

    @classmethod
    def parse(cls, step: str) -> ObjectRecolor:
        data = json.loads(step[len(cls.PREFIX) :])
        return cls(data["p"], {str(k): int(v) for k, v in data["m"].items()})


# --- shared ------------------------------------------------------------------------------------------
def _leave_one_out(
    fit: Callable[[list[Grid], list[Grid]], object], states: list[Grid], targets: list[Grid]
) -> bool:
    """Each train pair must be reproduced by the rule fitted on the others (needs two pairs or more)."""
    n = len(states)
    if n < 2:
        return False
    for i in range(n):
        rule = fit(states[:i] + states[i + 1 :], targets[:i] + targets[i + 1 :])
        if rule is None:
            return False
        out = rule.apply(states[i])  # type: ignore[attr-defined]
        if out is None or out.shape != targets[i].shape or (out != targets[i]).any():
            return False
    return True


LEARNED = (LocalRule, ObjectRecolor)


def fit_learned(states: list[Grid], targets: list[Grid]) -> list[LocalRule | ObjectRecolor]:
    """Every learned step that fits these train states and passes leave-one-out, coarsest first."""
    found: list[LocalRule | ObjectRecolor] = []
    for kind in (ObjectRecolor, LocalRule):
        rule = kind.fit(states, targets)
        if rule is not None:
            found.append(rule)
    return found


def is_learned_step(step: str) -> bool:
    return step.startswith((LocalRule.PREFIX, ObjectRecolor.PREFIX))


def parse_learned(step: str) -> LocalRule | ObjectRecolor:
    if step.startswith(LocalRule.PREFIX):
        return LocalRule.parse(step)
    if step.startswith(ObjectRecolor.PREFIX):
        return ObjectRecolor.parse(step)
    raise KeyError(f"not a learned step: {step[:40]!r}")


def describe_learned(step: str) -> str:
    rule = parse_learned(step)
    if isinstance(rule, LocalRule):
        return f"recolour cells by a local rule over their {'/'.join(rule.features)} neighbourhood"
    return f"recolour each object by its {rule.prop}"
