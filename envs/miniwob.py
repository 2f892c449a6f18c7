"""MiniWoB++ offline: the `miniwob` package's task pages served on 127.0.0.1, driven by WebEnv.

Each episode is seeded (`Math.seedrandom(seed)` then `core.startEpisodeReal()`), so an eval can give
every session fresh instances of the same task family. The task's own timer is lifted (a model on
CPU needs more than MiniWoB's 10-30 s) and success is the raw reward (> 0), not the time-discounted
one; the step budget bounds the episode instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from agentmem.envs.base import Observation, StepResult
from agentmem.envs.web import BrowserHost, StaticSiteServer, WebAction, WebEnv, WebEnvConfig, _EpisodeEnd
from agentmem.errors import DataError, EnvError
from agentmem.types import Outcome, Task

# Tasks left out of the suite, with the reason. Every task page runs offline (all assets ship in the
# package); these need pointer geometry (drag, draw, click at coordinates) or hover, which an
# element-level action space cannot express, so they would only measure the action space.
EXCLUDED: dict[str, str] = {
    "bisect-angle": "click at computed coordinates on an SVG (no element to target)",
    "chase-circle": "keep the pointer on a moving circle (continuous pointer control)",
    "circle-center": "click at computed coordinates on an SVG",
    "drag-box": "drag and drop",
    "drag-circle": "drag and drop",
    "drag-cube": "drag to rotate a 3D cube",
    "drag-items": "drag and drop to reorder",
    "drag-items-grid": "drag and drop to reorder",
    "drag-shapes": "drag and drop",
    "drag-shapes-2": "drag and drop",
    "drag-single-shape": "drag and drop",
    "drag-sort-numbers": "drag and drop to sort",
    "draw-circle": "draw with the pointer on a canvas",
    "draw-line": "draw with the pointer on a canvas",
    "find-midpoint": "click at computed coordinates on an SVG",
    "highlight-text": "select text with a pointer drag",
    "highlight-text-2": "select text with a pointer drag",
    "hover-shape": "hover the pointer over a shape (no hover action)",
    "resize-textarea": "drag a resize handle",
    "right-angle": "click at computed coordinates on an SVG",
    "use-colorwheel": "pick a colour by coordinates on a canvas wheel",
    "use-colorwheel-2": "pick a colour by coordinates on a canvas wheel",
}

# Never part of the page the agent sees: MiniWoB's own HUD, click visualiser, start cover and the
# query (the goal is given separately).
# The suite must never touch the network: every host but 127.0.0.1 fails to resolve (no per-request
# interception cost, unlike routing every request through Python).
OFFLINE_ARGS: tuple[str, ...] = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",)

MINIWOB_IGNORE = ["#reward-display", "#click-canvas", "#sync-task-cover", "#query"]

# Icons drawn by CSS (`content: url(...)`: the inbox's trash and star, social-media's reply/like)
# have no box until their image loads, and each episode's fresh browser context loads them anew: the
# first observation listed no icons at all. Wait (bounded) for every image the page's style sheets
# name, hover variants too (a hover swap to an unloaded image shrinks the icon under the pointer).
_CSS_IMAGES_LOADED_JS = """
async (timeoutMs) => {
  const urls = new Set();
  for (const sheet of document.styleSheets) {
    let rules = [];
    try { rules = sheet.cssRules || []; } catch (e) { continue; }
    for (const rule of rules) {
      const content = rule.style && rule.style.content;
      const m = content && content.match(/url\\(["']?([^"')]+)["']?\\)/);
      if (m) urls.add(new URL(m[1], sheet.href || location.href).href);
    }
  }
  const load = (src) => new Promise((done) => {
    const img = new Image();
    img.onload = img.onerror = () => done();
    img.src = src;
  });
  const timer = new Promise((done) => setTimeout(done, timeoutMs));
  await Promise.race([Promise.all([...urls].map(load)), timer]);
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  return urls.size;
}
"""


def miniwob_html_dir() -> Path:
    try:
        import miniwob
    except ImportError as exc:
        raise EnvError("the `miniwob` package is not installed: pip install 'agentmem[web]'") from exc
    html = Path(miniwob.__file__).parent / "html"
    if not (html / "miniwob").is_dir():
        raise DataError(f"miniwob task pages not found under {html}")
    return html


def all_tasks() -> list[str]:
    """Every task page the package ships (130 in miniwob 1.x)."""
    return sorted(p.stem for p in (miniwob_html_dir() / "miniwob").glob("*.html"))


def suite_tasks() -> list[str]:
    """The offline suite: every shipped task the element-level action space can express."""
    return [t for t in all_tasks() if t not in EXCLUDED]


def load_task_names(spec: str) -> list[str]:
    """`all`, a comma list, or a file with one task name per line (# comments allowed)."""
    known = set(all_tasks())
    if spec == "all":
        names = suite_tasks()
    elif "," not in spec and Path(spec).is_file():  # a long comma list is no path (and too long for one)
        names = [
            line.split("#", 1)[0].strip()
            for line in Path(spec).read_text(encoding="utf-8").splitlines()
            if line.split("#", 1)[0].strip()
        ]
    else:
        names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DataError(f"unknown MiniWoB task(s): {', '.join(unknown[:10])}")
    if not names:
        raise DataError(f"no MiniWoB tasks in {spec!r}")
    return names


def make_task(name: str, seed: int, *, episode: int = 0, meta: dict[str, Any] | None = None) -> Task:
    """A MiniWoB episode as a Task. The goal is only known after the seeded page starts."""
    return Task(
        id=f"{name}#{episode}",
        env="miniwob",
        goal=f"(MiniWoB task {name}; the goal appears after reset)",
        payload={"task": name, "seed": seed},
        meta={"family": name, **(meta or {})},
    )


class MiniWoBServer(StaticSiteServer):
    """Serves the `miniwob` task pages on a free 127.0.0.1 port."""

    def __init__(self, root: Path | None = None) -> None:
        super().__init__(root or miniwob_html_dir())


def miniwob_config(**overrides: Any) -> WebEnvConfig:
    """Budgets that fit MiniWoB's small pages and a ~1000-token prompt."""
    base: dict[str, Any] = dict(
        max_elements=30,
        name_chars=50,
        text_chars=500,
        allow_goto=False,
        ignore_selectors=list(MINIWOB_IGNORE),
        viewport_width=500,
        viewport_height=400,
        settle_ms=0,  # local pages react synchronously; the reward is read right after the action
    )
    base.update(overrides)
    return WebEnvConfig(**base)


class MiniWoBEnv(WebEnv):
    """One MiniWoB episode per reset; reward from WOB_RAW_REWARD_GLOBAL once WOB_DONE_GLOBAL is set."""

    name = "miniwob"
    READY_TIMEOUT_MS = 5000
    CSS_IMAGES_TIMEOUT_MS = 1500
    EPISODE_MAX_MS = 24 * 3600 * 1000

    def __init__(
        self,
        config: WebEnvConfig | None = None,
        *,
        host: BrowserHost | None = None,
        server: MiniWoBServer | None = None,
    ) -> None:
        super().__init__(config or miniwob_config(), host=host)
        self._own_server = server is None
        self.server = server or MiniWoBServer()

    async def _open(self, task: Task) -> None:
        name = str(task.payload.get("task") or task.meta.get("family") or "")
        if not name or not (self.server.root / "miniwob" / f"{name}.html").is_file():
            raise EnvError(f"unknown MiniWoB task {name!r}")
        seed = task.payload.get("seed", 0)
        self.server.start()
        page = self._require_page()
        url = f"{self.server.base_url}/miniwob/{name}.html"
        try:
            await page.goto(url, wait_until="load")
            await page.wait_for_function(
                "() => typeof core !== 'undefined' && core.cover_div != null", timeout=self.READY_TIMEOUT_MS
            )
            await page.evaluate(
                "([seed, maxMs]) => { core.EPISODE_MAX_TIME = maxMs; Math.seedrandom(seed);"
                " core.startEpisodeReal(); }",
                [str(seed), self.EPISODE_MAX_MS],
            )
            await page.wait_for_function("() => WOB_TASK_READY === true", timeout=self.READY_TIMEOUT_MS)
            await page.evaluate(_CSS_IMAGES_LOADED_JS, self.CSS_IMAGES_TIMEOUT_MS)
            utterance = await page.evaluate(
                "() => { const u = core.getUtterance(); return typeof u === 'string' ? u : u.utterance; }"
            )
        except Exception as exc:
            if self._crashed:
                raise _EpisodeEnd("page crashed while loading") from exc
            raise EnvError(f"MiniWoB task {name} did not start: {type(exc).__name__}: {exc}") from exc
        self._goal = str(utterance or "").strip()
        if not self._goal:
            raise EnvError(f"MiniWoB task {name} gave an empty goal")
        # The goal exists only once the seeded page generated it: fill it in on the task, so the
        # loop's recorded task (and the memory written from it) carries the real goal.
        task.goal = self._goal

    async def read_reward(self) -> dict[str, Any]:
        return await self._require_page().evaluate(
            "() => ({done: WOB_DONE_GLOBAL, reward: WOB_REWARD_GLOBAL, raw: WOB_RAW_REWARD_GLOBAL,"
            " reason: WOB_REWARD_REASON})"
        )

    async def _after_action(self, act: WebAction) -> StepResult:
        state = await self.read_reward()
        if not state.get("done"):
            return StepResult(observation=await self._observe())
        return self._finish(state)

    def _finish(self, state: dict[str, Any]) -> StepResult:
        self._done = True
        raw = float(state.get("raw") or 0.0)
        reason = state.get("reason")
        outcome = Outcome(
            success=raw > 0,
            score=raw,
            source="env",
            detail=f"reward {raw:+.2f}" + (f" ({reason})" if reason else ""),
        )
        text = f"Goal: {self.goal()}\nEpisode over: reward {raw:+.2f}."
        return StepResult(
            observation=Observation(text=text, data={"goal": self.goal(), "reward": raw}),
            reward=raw,
            done=True,
            info={"raw_reward": raw, "time_reward": state.get("reward"), "reason": reason},
            outcome=outcome,
        )

    async def _finish_answer(self, answer: str) -> StepResult:
        """`answer` on MiniWoB means stop: the env's reward so far decides."""
        state = await self.read_reward()
        if not state.get("done"):
            state = {"done": True, "raw": 0.0, "reward": 0.0, "reason": "stopped before the task ended"}
        return self._finish(state)

    async def close(self) -> None:
        await super().close()
        if self._own_server:
            self.server.stop()


@contextlib.asynccontextmanager
async def miniwob_suite(config: WebEnvConfig | None = None):
    """A shared browser + server and a factory of MiniWoB envs (one context each) for concurrent episodes."""
    host = BrowserHost(extra_args=OFFLINE_ARGS)
    server = MiniWoBServer().start()
    envs: list[MiniWoBEnv] = []

    def factory() -> MiniWoBEnv:
        env = MiniWoBEnv(config, host=host, server=server)
        envs.append(env)
        return env

    try:
        yield factory
    finally:
        await asyncio.gather(*(e.close() for e in envs), return_exceptions=True)
        await host.close()
        server.stop()
