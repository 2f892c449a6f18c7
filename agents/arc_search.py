"""Enumerative program search over the ARC grid DSL, steered by priors from concept memory.

Best-first over programs (sequences of DSL primitives) applied to all train inputs and test inputs at
once. What keeps it fast on a CPU:
- every (primitive, grid) result is memoised by the grid's bytes, so shared sub-states cost nothing;
- states equal on every grid are explored once (de-duplication of equivalent intermediate results);
- train-pair consistency pruning: a state that maps two train inputs to the same grid while their
  outputs differ can never be completed by a deterministic program, so it is dropped;
- a final step may be a colour map fitted on the train pairs (so one program covers every recolouring);
- a candidate budget (programs evaluated: deterministic, so memory on/off comparisons do not depend
  on machine load), a wall-clock cap and a depth bound.
What memory changes (`Priors`): whole programs of retrieved concepts are tried before anything else,
re-instantiated on this task's colours (a concept is a sketch: `keep:3` transfers as `keep:c`); then
memory-steered searches run beside the plain one and share the candidates with it (a portfolio, so
an irrelevant recall costs at most `memory_share` of the budget): one over the full set with cost
multipliers for the primitives retrieved concepts used and macros — sub-programs that recur in
verified solutions become single named steps (library learning), so a depth-3 solution becomes
reachable at depth 2 —, and one over the *focus* set (the primitives of retrieved concepts), narrower
and deeper than the full primitive set can afford.
Only train outputs are ever compared; test inputs are only transformed.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from agentmem.agents.arc_dsl import (
    COLOR_FAMILIES,
    SENTINEL,
    ColorMap,
    Grid,
    Primitive,
    apply_primitive,
    as_grid,
    grid_key,
    primitive,
    task_primitives,
)
from agentmem.agents.arc_learned import fit_learned, is_learned_step


@dataclass(frozen=True)
class Macro:
    """A learned composite primitive: a recurring verified sub-program used as one step."""

    name: str
    steps: tuple[str, ...]
    cost: float = 1.0


@dataclass
class Priors:
    """How memory steers the search. Empty priors = the memory-off baseline."""

    weights: dict[str, float] = field(default_factory=dict)  # primitive or family -> cost multiplier
    seeds: list[list[str]] = field(default_factory=list)  # whole programs to try first
    macros: list[Macro] = field(default_factory=list)
    focus: list[str] = field(default_factory=list)  # primitives/families for the deep focused search
    # recalled programs that ended in a learned step: their sketches are completed by one again,
    # and the focused search fits learned steps one level deeper than the plain search does
    learned: bool = False

    def multiplier(self, prim: Primitive) -> float:
        if prim.name in self.weights:
            return self.weights[prim.name]
        fam = prim.name.split(":")[0]
        return self.weights.get(fam, 1.0)

    @property
    def empty(self) -> bool:
        return not (self.weights or self.seeds or self.macros or self.focus or self.learned)


@dataclass
class SearchConfig:
    budget_s: float = 20.0
    max_depth: int = 3
    max_solutions: int = 2  # pass@2: two attempts per test input
    after_first_s: float = 2.0  # extra time spent looking for a second, different solution
    heuristic_weight: float = 1.0
    memo_limit: int = 300_000
    max_candidates: int | None = None  # programs evaluated; None = wall clock only
    memory_share: float = 0.3  # of the candidates, for the memory-steered searches (with priors)
    focus_extra_depth: int = 2
    max_seed_variants: int = 24
    learned_depth: int = 1  # states up to this depth also try learned final steps (-1: never)


@dataclass
class Solution:
    steps: list[str]
    test_outputs: list[Grid]
    found_at_s: float
    via_macro: list[str] = field(default_factory=list)
    from_seed: bool = False
    candidates: int = 0  # programs evaluated when it was found (how much budget it needed)


@dataclass
class SearchResult:
    solutions: list[Solution]
    expanded: int
    generated: int
    elapsed_s: float
    best_partial: list[str] = field(default_factory=list)  # closest program when nothing verified
    best_partial_score: float = 0.0
    best_partial_outputs: list[Grid] = field(default_factory=list)
    candidates: int = 0  # programs evaluated (the deterministic budget unit)

    @property
    def solved(self) -> bool:
        return bool(self.solutions)


@dataclass(frozen=True)
class _Step:
    name: str
    expands_to: tuple[str, ...]
    cost: float
    macro: bool = False


class ProgramSearch:
    """One search over one task. Create, then call `run()`."""

    def __init__(
        self,
        train: list[tuple[object, object]],
        test_inputs: list[object],
        priors: Priors | None = None,
        config: SearchConfig | None = None,
    ) -> None:
        self.train_in = [as_grid(i) for i, _ in train]
        self.train_out = [as_grid(o) for _, o in train]
        self.test_in = [as_grid(t) for t in test_inputs]
        self.priors = priors or Priors()
        self.config = config or SearchConfig()
        self.n_train = len(self.train_in)
        self._memo: dict[tuple[str, bytes], Grid | None] = {}
        self._plain_steps = self._build_steps(Priors())
        self._steps = self._build_steps(self.priors) if not self.priors.empty else self._plain_steps
        self.candidates = 0

    # --- set-up ------------------------------------------------------------------------------------
    def _task_colors(self) -> set[int]:
        colors: set[int] = set()
        for g in [*self.train_in, *self.train_out, *self.test_in]:
            colors.update(int(c) for c in np.unique(g))
        return colors

    def _build_steps(self, priors: Priors) -> list[_Step]:
        steps = []
        for prim in task_primitives(self._task_colors()):
            steps.append(_Step(prim.name, (prim.name,), prim.cost * priors.multiplier(prim)))
        known = {s.name for s in steps}
        for macro in priors.macros:
            if all(_valid_step(s) for s in macro.steps) and macro.name not in known:
                steps.append(_Step(macro.name, tuple(macro.steps), macro.cost, macro=True))
                known.add(macro.name)
        steps.sort(key=lambda s: s.cost)
        return steps

    # --- state operations --------------------------------------------------------------------------
    def _apply(self, name: str, g: Grid) -> Grid | None:
        key = (name, grid_key(g))
        if key in self._memo:
            return self._memo[key]
        out = apply_primitive(name, g)
        if len(self._memo) >= self.config.memo_limit:
            self._memo.clear()
        self._memo[key] = out
        return out

    def _apply_state(self, step: _Step, state: tuple[Grid, ...]) -> tuple[Grid, ...] | None:
        self.candidates += 1
        out = []
        for g in state:  # train grids come first: a failure there stops the work early
            cur: Grid | None = g
            for name in step.expands_to:
                cur = self._apply(name, cur)
                if cur is None:
                    return None
            out.append(cur)
        return tuple(out)

    def _inconsistent(self, state: tuple[Grid, ...]) -> bool:
        """Two train inputs now identical but with different outputs: no program can recover."""
        keys = [grid_key(g) for g in state[: self.n_train]]
        seen: dict[bytes, bytes] = {}
        for k, target in zip(keys, self.train_out, strict=True):
            tk = grid_key(target)
            if seen.setdefault(k, tk) != tk:
                return True
        return False

    def _goal(self, state: tuple[Grid, ...]) -> tuple[list[str], list[Grid]] | None:
        train, test = list(state[: self.n_train]), list(state[self.n_train :])
        if all(a.shape == b.shape and (a == b).all() for a, b in zip(train, self.train_out, strict=True)):
            if any((t >= SENTINEL).any() for t in test):
                return None
            return [], test
        cmap = ColorMap.fit(train, self.train_out)
        if cmap is None or not cmap.mapping:
            return None
        outs = [cmap.apply(t) for t in test]
        if any(o is None for o in outs):
            return None
        return [cmap.name()], outs  # type: ignore[list-item]

    def _distance(self, state: tuple[Grid, ...]) -> float:
        total = 0.0
        for a, b in zip(state[: self.n_train], self.train_out, strict=True):
            if a.shape != b.shape:
                total += 1.0
            else:
                total += 0.6 * float((a != b).mean())
        return total / max(1, self.n_train)

    # --- search ------------------------------------------------------------------------------------
    def run(self) -> SearchResult:
        cfg = self.config
        self._start = time.monotonic()
        self._deadline = self._start + cfg.budget_s
        self._cand_limit = cfg.max_candidates
        self._solutions: list[Solution] = []
        self._learned: list[Solution] = []
        self._seen_outputs: set[bytes] = set()
        self._best: tuple[float, list[str], list[Grid]] = (-1.0, [], [])
        self.expanded = self.generated = 0

        root = tuple([*self.train_in, *self.test_in])
        goal = self._goal(root)
        if goal is not None:
            self._record(goal[0], goal[1], [], False)
        elif cfg.learned_depth >= 0:
            self._try_learned(root, [], [])
        self._run_seeds(root)  # 1) programs recalled from memory, on this task's colours
        if not self._done():
            self._interleave(self._streams(root))  # 2) plain and memory-steered searches side by side
        best = self._best
        # Learned-step solutions fill the attempts plain programs left free (a fitted rule is the
        # weaker evidence: it was fitted on the very pairs that verify it, leave-one-out aside).
        solutions = (self._solutions + self._learned)[: cfg.max_solutions]
        return SearchResult(
            solutions=solutions,
            expanded=self.expanded,
            generated=self.generated,
            elapsed_s=time.monotonic() - self._start,
            best_partial=best[1],
            best_partial_score=max(0.0, best[0]),
            best_partial_outputs=best[2],
            candidates=self.candidates,
        )

    def _done(self) -> bool:
        return len(self._solutions) >= self.config.max_solutions or self._out_of_budget()

    def _over_candidates(self) -> bool:
        """Past the candidate limit (which shrinks after a first solution)."""
        return self._cand_limit is not None and self.candidates >= self._cand_limit

    def _over_time(self) -> bool:
        return time.monotonic() > self._deadline

    def _out_of_budget(self) -> bool:
        return self._over_candidates() or self._over_time()

    def _new_solution(
        self, steps: list[str], outs: list[Grid], macros: list[str], from_seed: bool
    ) -> Solution | None:
        """A solution, unless an earlier one already predicted exactly these test outputs."""
        key = b"".join(grid_key(o) for o in outs)
        if key in self._seen_outputs:
            return None
        self._seen_outputs.add(key)
        elapsed = time.monotonic() - self._start
        return Solution(steps, outs, elapsed, macros, from_seed, self.candidates)

    def _record(self, steps: list[str], outs: list[Grid], macros: list[str], from_seed: bool) -> None:
        found = self._new_solution(steps, outs, macros, from_seed)
        if found is None:
            return
        self._solutions.append(found)
        now = time.monotonic()
        if len(self._solutions) == 1:  # a second, different solution gets a small extra budget
            if self._cand_limit is None:
                self._deadline = min(self._deadline, now + self.config.after_first_s)
            else:
                self._cand_limit = min(self._cand_limit, self.candidates + max(200, self._cand_limit // 10))

    def _try_learned(
        self, state: tuple[Grid, ...], prog: list[str], macros: list[str], *, from_seed: bool = False
    ) -> None:
        """Fit learned final steps (object recolouring, local rules) on this state's train grids."""
        if len(self._learned) >= self.config.max_solutions:
            return
        train, test = list(state[: self.n_train]), list(state[self.n_train :])
        if any(a.shape != b.shape for a, b in zip(train, self.train_out, strict=True)):
            return
        self.candidates += 1  # a fit counts as one candidate program, like a colour map would
        for rule in fit_learned(train, self.train_out):
            outs = [rule.apply(t) for t in test]
            if any(o is None or (o >= SENTINEL).any() for o in outs):
                continue
            found = self._new_solution([*prog, rule.name()], outs, macros, from_seed)  # type: ignore[arg-type]
            if found is None:
                continue
            self._learned.append(found)
            if len(self._learned) >= self.config.max_solutions:
                return

    def _run_seeds(self, root: tuple[Grid, ...]) -> None:
        colors = sorted(self._task_colors() - {0})
        for seed in self.priors.seeds:
            if not all(_valid_step(s) for s in seed):
                continue
            ends_learned = any(is_learned_step(s) for s in seed)
            for variant in seed_variants(base_steps(seed), colors, self.config.max_seed_variants):
                if self._done():
                    return
                state = self._apply_state(_Step("seed", tuple(variant), 0.0), root) if variant else root
                if state is None:
                    continue
                goal = self._goal(state)
                if goal is not None:
                    self._record(list(variant) + goal[0], goal[1], [], True)
                elif variant and ends_learned and self.config.learned_depth >= 0:
                    # the recalled sketch, completed by a learned step fitted on this task's pairs
                    self._try_learned(state, list(variant), [], from_seed=True)

    def _focus_steps(self) -> list[_Step]:
        """The steps of the focused search: primitives (or whole colour families) named by the priors."""
        if not self.priors.focus:
            return []
        wanted = set(self.priors.focus)
        steps = [s for s in self._steps if s.name in wanted or s.name.split(":")[0] in wanted or s.macro]
        return steps if len(steps) < len(self._steps) else []

    def _streams(self, root: tuple[Grid, ...]) -> list[tuple[_Frontier, float]]:
        """The plain search (the memory-off order) plus, with priors, memory-steered ones.

        Memory gets `memory_share` of the candidates: the memory-weighted full set (macros included)
        and, with a focus set, a narrow search one or two levels deeper. The plain stream keeps its
        own order, so a task the memory-off search finds at c candidates is found here by about
        c / (1 - memory_share) whatever memory recalled (an irrelevant recall cannot bury it).
        """
        cfg = self.config
        plain = _Frontier(self, root, self._plain_steps, cfg.max_depth, cfg.learned_depth)
        if self.priors.empty:
            return [(plain, 1.0)]
        steered = [_Frontier(self, root, self._steps, cfg.max_depth, cfg.learned_depth)]
        focus = self._focus_steps()
        if focus:
            deeper = cfg.max_depth + cfg.focus_extra_depth
            learned_depth = cfg.learned_depth + (1 if self.priors.learned else 0)
            steered.append(_Frontier(self, root, focus, deeper, learned_depth))
        share = cfg.memory_share / len(steered)
        return [(plain, 1.0 - cfg.memory_share)] + [(f, share) for f in steered]

    def _interleave(self, streams: list[tuple[_Frontier, float]]) -> None:
        """Expand one state at a time from the stream furthest below its share of the candidates."""
        used = [0] * len(streams)
        alive = [share > 0 for _, share in streams]
        while any(alive) and not self._done():
            i = min((j for j, ok in enumerate(alive) if ok), key=lambda j: used[j] / streams[j][1])
            before = self.candidates
            alive[i] = streams[i][0].expand_one()
            used[i] += self.candidates - before


class _Frontier:
    """One best-first search (its own step set, depth bound, heap and visited set) over a shared
    `ProgramSearch`: memo, budget, solutions and best partial are the search's."""

    def __init__(
        self,
        search: ProgramSearch,
        root: tuple[Grid, ...],
        steps: list[_Step],
        max_depth: int,
        learned_depth: int,
    ) -> None:
        self.search = search
        self.steps = steps
        self.max_depth = max_depth
        self.learned_depth = learned_depth
        self._counter = itertools.count()
        self._visited = {_state_key(root)}
        self._heap: list[tuple[float, int, int, tuple[Grid, ...], tuple[str, ...], tuple[str, ...], float]]
        self._heap = [(0.0, next(self._counter), 0, root, (), (), 0.0)]

    def expand_one(self) -> bool:
        """Pop the cheapest state and try every step on it; False once this stream is exhausted."""
        s, cfg = self.search, self.search.config
        if not self._heap:
            return False
        _, _, depth, state, prog, macros, g_cost = heapq.heappop(self._heap)
        s.expanded += 1
        for step in self.steps:
            if len(s._solutions) >= cfg.max_solutions:
                break
            if s._over_candidates() or (s.candidates % 4 == 0 and s._over_time()):
                break
            new = s._apply_state(step, state)
            if new is None:
                continue
            key = _state_key(new)
            if key in self._visited:
                continue
            self._visited.add(key)
            s.generated += 1
            if s._inconsistent(new):
                continue
            new_prog = prog + step.expands_to
            new_macros = macros + ((step.name,) if step.macro else ())
            goal = s._goal(new)
            if goal is not None:
                s._record(list(new_prog) + goal[0], goal[1], list(new_macros), False)
                continue
            if depth + 1 <= self.learned_depth:
                s._try_learned(new, list(new_prog), list(new_macros))
            dist = s._distance(new)
            score = 1.0 - dist
            if score > s._best[0]:
                s._best = (score, list(new_prog), list(new[s.n_train :]))
            if depth + 1 < self.max_depth:
                cost = g_cost + step.cost
                item = (cost + cfg.heuristic_weight * dist, next(self._counter), depth + 1, new, new_prog,
                        new_macros, cost)  # fmt: skip
                heapq.heappush(self._heap, item)
        return bool(self._heap)


def seed_variants(steps: list[str], colors: list[int], limit: int) -> list[list[str]]:
    """A recalled program as it was, then re-instantiated on this task's colours (a sketch)."""
    out = [list(steps)]
    slots = [i for i, s in enumerate(steps) if _colour_arg(s) is not None]
    if not slots or not colors:
        return out
    for combo in itertools.product(colors, repeat=len(slots)):
        variant = list(steps)
        for i, c in zip(slots, combo, strict=True):
            variant[i] = f"{variant[i].split(':')[0]}:{c}"
        if variant not in out:
            out.append(variant)
        if len(out) >= limit:
            break
    return out


def _colour_arg(step: str) -> int | None:
    fam, _, arg = step.partition(":")
    return int(arg) if fam in COLOR_FAMILIES and arg.isdigit() else None


def _state_key(state: tuple[Grid, ...]) -> bytes:
    return b"|".join(grid_key(g) for g in state)


def _valid_step(name: str) -> bool:
    if name.startswith("colormap:") or is_learned_step(name):
        return True
    try:
        primitive(name)
    except KeyError:
        return False
    return True


def search(
    train: list[tuple[object, object]],
    test_inputs: list[object],
    priors: Priors | None = None,
    config: SearchConfig | None = None,
) -> SearchResult:
    """Search for programs consistent with every train pair; see `ProgramSearch`."""
    return ProgramSearch(train, test_inputs, priors, config).run()


# --- library learning ----------------------------------------------------------------------------
def base_steps(program: list[str]) -> list[str]:
    """A program without its final colour map (the part that transfers between tasks)."""
    return [s for s in program if not (s.startswith("colormap:") or is_learned_step(s))]


def learn_macros(
    programs: list[list[str]], *, min_count: int = 2, max_len: int = 3, limit: int = 40
) -> list[Macro]:
    """Sub-programs (length ≥ 2) that recur across verified solutions become named primitives.

    Each program counts once per sub-sequence, so one long solution cannot promote itself; more
    frequent and longer sub-programs come first and get a lower step cost.
    """
    counts: Counter[tuple[str, ...]] = Counter()
    for prog in programs:
        steps = base_steps(prog)
        subs = {
            tuple(steps[i : i + n])
            for n in range(2, max_len + 1)
            for i in range(0, max(0, len(steps) - n + 1))
        }
        counts.update(subs)
    ranked = sorted(
        ((sub, n) for sub, n in counts.items() if n >= min_count), key=lambda x: (-x[1], -len(x[0]), x[0])
    )
    return [
        Macro(name="macro:" + "+".join(sub), steps=sub, cost=max(0.8, 1.6 - 0.1 * n))
        for sub, n in ranked[:limit]
    ]


def priors_from_programs(
    recalled: list[tuple[list[str], float]],
    library: list[list[str]] | None = None,
    *,
    boost: float = 0.45,
) -> Priors:
    """Priors from programs of retrieved concepts (with retrieval scores) and the learned library.

    - every primitive a retrieved program used gets its cost multiplied by `boost` (tried first);
      the colour-free family (`keep` for `keep:3`) gets a milder boost, since colours differ per task;
    - the retrieved programs are seeds (tried as they are) and, when longer than one step, macros;
    - recurring sub-programs across the whole library become macros too;
    - the primitives of the retrieved programs (colour steps as whole families) form the focus set.
    """
    weights: dict[str, float] = {}
    seeds: list[list[str]] = []
    macros: dict[str, Macro] = {}
    focus: list[str] = []
    learned = False
    for prog, score in recalled:
        factor = boost if score >= 0 else 1.0
        learned = learned or (score >= 0 and any(is_learned_step(s) for s in prog))
        for step in base_steps(prog):
            name = step.split(":")[0] if _colour_arg(step) is not None else step
            if score >= 0 and name not in focus:
                focus.append(name)
            weights[step] = min(weights.get(step, 1.0), factor)
            fam = step.split(":")[0]
            if fam != step:
                weights[fam] = min(weights.get(fam, 1.0), (1.0 + factor) / 2)
        if prog not in seeds:
            seeds.append(list(prog))
        steps = tuple(base_steps(prog))
        if len(steps) >= 2:
            name = "macro:" + "+".join(steps)
            macros.setdefault(name, Macro(name, steps, cost=1.0))
    for macro in learn_macros(library or []):
        macros.setdefault(macro.name, macro)
    return Priors(weights=weights, seeds=seeds, macros=list(macros.values()), focus=focus, learned=learned)
