"""A web env: Playwright driving Debian's Chromium, observed as numbered interactive elements.

Why this shape: a small model reads a compact numbered list (role, name, value, state) far better
than raw HTML, and one `page.evaluate` per observation keeps browser overhead per step low. Page
content is outside data, so everything taken from the page is delimited with `quote_untrusted`.
Invalid or stale element ids come back as an observation error the agent can recover from; a
timeout or a crashed browser ends the episode with an error, and the next episode gets a fresh
context (and a fresh browser when the old one is gone).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import functools
import http.server
import os
import shutil
import signal
import threading
import uuid
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentmem.envs.base import Observation, StepResult, quote_untrusted
from agentmem.errors import EnvError, InvalidActionError
from agentmem.types import Outcome, Task

if TYPE_CHECKING:  # playwright is a heavy import: only inside functions at run time
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)

ActionName = Literal["click", "type", "press", "select", "scroll", "goto", "back", "answer"]
NEEDS_ID = frozenset({"click", "type", "select"})  # actions on a numbered element
NEEDS_TEXT = frozenset({"press", "select", "goto"})  # actions whose text is the point

# Marks elements that got a click-like listener (d3/jQuery handlers are invisible in the DOM otherwise).
_INIT_SCRIPT = """
(() => {
  const orig = EventTarget.prototype.addEventListener;
  const kinds = new Set(['click', 'mousedown', 'mouseup', 'dblclick', 'pointerdown', 'pointerup']);
  EventTarget.prototype.addEventListener = function (type, ...rest) {
    try {
      if (kinds.has(type) && this instanceof Element && this !== document.body &&
          this !== document.documentElement) { this.__amClick = true; }
    } catch (e) {}
    return orig.call(this, type, ...rest);
  };
})();
"""


# One round trip before acting on an element: is it still there (else stale), where is its centre,
# and is it what the pointer would hit there (else it is covered: fall back to a DOM click).
_PROBE_JS = """
(sel) => {
  const e = document.querySelector(sel);
  if (!e) return null;
  let r = e.getBoundingClientRect();
  if (r.bottom < 0 || r.top > innerHeight || r.right < 0 || r.left > innerWidth) {
    e.scrollIntoView({block: 'center', inline: 'center'});
    r = e.getBoundingClientRect();
  }
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const at = r.width > 0 && r.height > 0 ? document.elementFromPoint(x, y) : null;
  return {x: x, y: y, hit: !!at && (at === e || e.contains(at))};
}
"""


_STILL_HIT_JS = """
([sel, x, y]) => {
  const e = document.querySelector(sel);
  const at = e && document.elementFromPoint(x, y);
  return !!at && (at === e || e.contains(at));
}
"""


_TYPE_JS = r"""
([sel, text]) => {
  const e = document.querySelector(sel);
  if (!e) return 'stale';
  if (e.disabled || e.readOnly) return 'disabled or read-only';
  e.focus();
  if (e instanceof HTMLInputElement && (e.type === 'date' || e.type === 'time')) {
    // Native date/time controls hold ISO values; people type the local form (12/28/2016, 5:53 PM).
    const iso = e.type === 'date' ? /^\d{4}-\d{2}-\d{2}$/ : /^\d{2}:\d{2}(:\d{2})?$/;
    const pad = (n) => String(n).padStart(2, '0');
    let m;
    if (iso.test(text)) {
      // already the control's own format
    } else if (e.type === 'date' && (m = text.trim().match(/^(\d{1,2})\/(\d{1,2})\/(\d{4})$/))) {
      text = `${m[3]}-${pad(m[1])}-${pad(m[2])}`;
    } else if (e.type === 'time' && (m = text.trim().match(/^(\d{1,2}):(\d{2})(?::\d{2})?\s*([AaPp]\.?[Mm]?\.?)?$/))) {
      let h = Number(m[1]);
      if (m[3]) h = (h % 12) + (m[3][0].toLowerCase() === 'p' ? 12 : 0);
      text = `${pad(h)}:${m[2]}`;
    } else {
      return e.type === 'date' ? 'a date field: type a date like 12/28/2016'
                               : 'a time field: type a time like 5:53 PM';
    }
  }
  if (e.isContentEditable) {
    e.textContent = text;
  } else if (e instanceof HTMLInputElement || e instanceof HTMLTextAreaElement) {
    const proto = e instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value').set.call(e, text);
  } else {
    return 'no value to set';
  }
  e.dispatchEvent(new Event('input', {bubbles: true}));
  e.dispatchEvent(new Event('change', {bubbles: true}));
  return 'ok';
}
"""


# For a <select multiple>: what is chosen already and the value of the option asked for (by its
# label, else its value); null for a single-choice dropdown.
_MULTI_SELECT_JS = """
(s, text) => {
  if (!s.multiple) return null;
  const opts = [...s.options];
  const o = opts.find((o) => o.label.trim() === text.trim()) || opts.find((o) => o.value === text);
  return {chosen: [...s.selectedOptions].map((o) => o.value), value: o ? o.value : null};
}
"""


def _stale(act: WebAction) -> str:
    return f"element [{act.id}] is stale (the page changed); use the new list"


class WebAction(BaseModel):
    """One browser action."""

    # Flat and short on purpose: a 1.5B model writes it reliably (and the docstring above is the
    # schema description a model sees on repair, so it stays one line). `text` carries what the
    # action needs: text to type, option to select, key to press ("Enter", "Tab", "ArrowDown"),
    # URL for goto, "up"/"down" for scroll, the final answer.

    model_config = ConfigDict(extra="ignore")

    action: ActionName
    id: int | None = Field(default=None, description="element number from the list")
    text: str | None = None
    enter: bool = Field(default=False, description="press Enter after typing")

    @model_validator(mode="after")
    def _check(self) -> WebAction:
        if self.action in NEEDS_ID and self.id is None:
            raise ValueError(f"'{self.action}' needs the element number in 'id'")
        if self.action in NEEDS_TEXT and not (self.text or "").strip():
            raise ValueError(f"'{self.action}' needs 'text'")
        if self.action == "type" and self.text is None:
            raise ValueError("'type' needs 'text'")
        if self.action == "scroll" and (self.text or "down").lower() not in ("up", "down"):
            raise ValueError("'scroll' text must be 'up' or 'down'")
        return self

    def short(self) -> str:
        """A compact rendering for histories and memory: `type [2] "abc" +enter`."""
        parts = [self.action]
        if self.id is not None:
            parts.append(f"[{self.id}]")
        if self.text is not None and self.action != "scroll":
            parts.append(f'"{self.text[:80]}"')
        elif self.action == "scroll":
            parts.append(self.text or "down")
        if self.enter:
            parts.append("+enter")
        return " ".join(parts)


def ordinal(n: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th": how goals count ("the 3rd text box")."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class Element(BaseModel):
    """One numbered interactive element as the agent sees it."""

    id: int
    role: str
    name: str = ""
    tag: str = ""
    value: str | None = None
    state: list[str] = Field(default_factory=list)
    options: list[str] = Field(default_factory=list)
    nth: int = 0  # place among the elements of the same role and name (set only where they repeat)
    near: str = ""  # text of the row that sets a repeated element apart from its twins

    def line(self) -> str:
        out = f'[{self.id}] {self.role} "{self.name}"'
        if self.nth:
            out += f" {ordinal(self.nth)}"
        if self.near:
            out += f' in "{self.near}"'
        if self.value is not None and self.role not in ("button", "link", "clickable"):
            out += f' value="{self.value}"'
        if self.options:
            out += " options=" + "|".join(self.options)
        if self.state:
            out += " " + " ".join(self.state)
        return out


_EDITABLE_ROLES = frozenset({"textbox", "searchbox", "spinbutton", "combobox", "date", "time"})


def _missing(element_id: int | None, count: int) -> str:
    return f"no element [{element_id}] in the current list (valid: {f'1..{count}' if count else 'none'})"


def element_action_error(act: WebAction, elements: Sequence[Element]) -> str | None:
    """What the element list alone shows to be wrong with `act`, else None.

    One check for the env (it refuses the action) and for an agent (it can ask its model again
    before a doomed action spends a step): an id not on the list, typing into what is no text
    field or into one listed read-only or disabled (a date picker's box: it is clicked), selecting
    in what is no dropdown. What only the page knows (detached, covered) is left to the env.
    """
    if act.action not in NEEDS_ID:
        return None
    el = next((e for e in elements if e.id == act.id), None)
    if el is None:
        return _missing(act.id, len(elements))
    if act.action == "type":
        editable = el.role in _EDITABLE_ROLES or el.tag in ("input", "textarea")
        if not editable or el.tag == "select":
            return f"element [{act.id}] ({el.role}) is not a text field"
        if "disabled" in el.state:
            return f"element [{act.id}] is disabled: it cannot be typed into"
        if "readonly" in el.state:
            return f"element [{act.id}] is read-only: it cannot be typed into (click it: a picker may set it)"
    if act.action == "select" and el.tag != "select":
        return f"element [{act.id}] is not a dropdown; click it instead"
    return None


class PageSnapshot(BaseModel):
    url: str
    title: str = ""
    elements: list[Element] = Field(default_factory=list)
    total: int = 0  # interactive elements on the page (the list may be capped)
    text: str = ""
    truncated: bool = False


class WebEnvConfig(BaseModel):
    """Budgets and behaviour of a web env. Character budgets are ~4 chars per model token."""

    max_elements: int = 40
    name_chars: int = 60
    near_chars: int = 40  # row text shown beside an element whose role and name repeat on the page
    text_chars: int = 1200
    include_text: bool = True
    action_timeout_ms: int = 1500
    navigation_timeout_ms: int = 20_000
    step_timeout_s: float = 30.0
    settle_ms: int = 40
    viewport_width: int = 1024
    viewport_height: int = 768
    screenshots: bool = False  # attach a PNG to every observation (vision models, judges)
    screenshot_dir: Path | None = None  # also save them: step_000.png, step_001.png...
    keep_screenshots: int = 3  # last k kept in memory for a judge
    allow_goto: bool = True
    ignore_selectors: list[str] = Field(default_factory=list)
    max_answer_chars: int = 2000


class Judge(Protocol):
    """Scores a finished web episode (WebVoyager protocol: task + answer + last screenshots).

    `page_text` is the final observation (already quoted) for judges that cannot see images.
    """

    async def __call__(
        self, task: Task, answer: str, screenshots: list[bytes], page_text: str = ""
    ) -> Outcome: ...


@lru_cache(maxsize=1)
def snapshot_script() -> str:
    return (Path(__file__).parent / "data" / "web_snapshot.js").read_text(encoding="utf-8")


def chromium_path() -> str | None:
    """Debian's `chromium` binary (Playwright's own download is not used)."""
    return os.environ.get("AGENTMEM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserHost:
    """One Chromium shared by many envs (one context each); relaunched when it has died.

    `token` is an ignored command-line switch that identifies this host's processes (crash tests,
    cleanup of a wedged browser).
    """

    def __init__(
        self, *, executable: str | None = None, headless: bool = True, extra_args: tuple[str, ...] = ()
    ):
        self.executable = executable
        self.headless = headless
        self.extra_args = extra_args
        self.token = uuid.uuid4().hex[:12]
        self.launches = 0
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._lock: asyncio.Lock | None = None

    async def browser(self) -> Browser:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            await self._shutdown()
            self._browser = await self._launch()
            return self._browser

    async def _launch(self) -> Browser:
        exe = self.executable or chromium_path()
        if not exe or not Path(exe).exists():
            raise EnvError("Chromium not found: install Debian's package (`apt-get install chromium`)")
        try:
            from playwright.async_api import async_playwright
        except ImportError as exc:
            raise EnvError("playwright is not installed: pip install 'agentmem[web]'") from exc
        self._pw = await async_playwright().start()
        args = [*CHROMIUM_ARGS, *self.extra_args, f"--agentmem-host={self.token}"]
        try:
            browser = await self._pw.chromium.launch(executable_path=exe, headless=self.headless, args=args)
        except Exception as exc:
            await self._shutdown()
            raise EnvError(f"Chromium failed to start: {exc}") from exc
        self.launches += 1
        return browser

    async def new_context(self, config: WebEnvConfig) -> BrowserContext:
        browser = await self.browser()
        ctx = await browser.new_context(
            viewport={"width": config.viewport_width, "height": config.viewport_height},
            service_workers="block",
        )
        await ctx.add_init_script(_INIT_SCRIPT)
        ctx.set_default_timeout(config.action_timeout_ms)
        ctx.set_default_navigation_timeout(config.navigation_timeout_ms)
        return ctx

    def pids(self) -> list[int]:
        """Processes of this host's browser (the main one first); Linux /proc only."""
        found: list[tuple[int, int]] = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(self.token.encode() in part for part in cmd):
                is_child = any(part.startswith(b"--type=") for part in cmd)
                found.append((int(is_child), int(entry.name)))
        return [pid for _, pid in sorted(found)]

    @property
    def connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def _shutdown(self) -> None:
        browser, pw = self._browser, self._pw
        self._browser, self._pw = None, None
        if browser is not None:
            with contextlib.suppress(Exception):  # already dead: nothing to release
                await asyncio.wait_for(browser.close(), 10)
        if pw is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pw.stop(), 10)
        self._kill_leftovers()

    def _kill_leftovers(self) -> None:
        """Children of a crashed or wedged browser can outlive it: end them (ours, by token)."""
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    async def close(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A page closed mid-transfer (episode over, context closed) is normal: no traceback.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class StaticSiteServer:
    """Serves a folder on a free 127.0.0.1 port in a daemon thread (local suites, test sites)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._server: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise EnvError("the static site server is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        if self._server is None:
            handler = functools.partial(_QuietHandler, directory=str(self.root))
            self._server = _QuietServer(("127.0.0.1", 0), handler)
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="static-http", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _EpisodeEnd(Exception):
    """Internal: the browser/page failed; the episode ends with this message."""


def _is_fatal(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return any(s in msg for s in ("has been closed", "target closed", "crash", "browser has disconnected"))


class WebEnv:
    """Generic web env: reset opens `task.payload['url']` (or `['web']`); `answer` ends the episode.

    With a `judge`, the answer is scored by it (Outcome source "judge"); without one the outcome
    is left unknown (success None) for the caller to score.
    """

    name = "web"

    def __init__(
        self,
        config: WebEnvConfig | None = None,
        *,
        host: BrowserHost | None = None,
        judge: Judge | None = None,
    ) -> None:
        self.config = config or WebEnvConfig()
        self._own_host = host is None
        self.host = host or BrowserHost()
        self.judge = judge
        self._ctx: BrowserContext | None = None
        self._page: Page | None = None
        self._task: Task | None = None
        self._goal = ""
        self._elements: dict[int, Element] = {}
        self._gen = 0
        self._steps = 0
        self._crashed = False
        self._done = False
        self.screenshots: collections.deque[bytes] = collections.deque(
            maxlen=max(1, self.config.keep_screenshots)
        )
        self.screenshot_paths: list[Path] = []
        self.last_snapshot: PageSnapshot | None = None
        self._shot_dir: Path | None = self.config.screenshot_dir
        self._shots_on = self.config.screenshots

    # -- lifecycle ---------------------------------------------------------------------------
    async def reset(self, task: Task) -> Observation:
        self._task = task
        self._goal = task.goal
        self._steps = 0
        self._done = False
        self._elements = {}
        self.screenshots.clear()
        self.screenshot_paths = []
        # Per-episode overrides (an eval gives each episode its own screenshot folder).
        shot_dir = task.meta.get("screenshot_dir")
        self._shot_dir = Path(shot_dir) if shot_dir else self.config.screenshot_dir
        self._shots_on = bool(task.meta.get("screenshots", self.config.screenshots))
        for attempt in range(2):
            try:
                await self._fresh_page()
                await self._open(task)
                return await self._observe()
            except _EpisodeEnd as exc:
                if attempt == 1:
                    raise EnvError(f"could not start the episode: {exc}") from exc
            except EnvError:
                raise
            except Exception as exc:
                if attempt == 1 or not _is_fatal(exc):
                    raise EnvError(f"could not start the episode: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    async def _fresh_page(self) -> None:
        await self._close_context()
        self._ctx = await self.host.new_context(self.config)
        self._page = await self._ctx.new_page()
        self._crashed = False

        def _on_crash(_page: Any) -> None:
            self._crashed = True

        self._page.on("crash", _on_crash)

    async def _open(self, task: Task) -> None:
        """Load the task's start page (subclasses set up their own pages)."""
        url = task.payload.get("url") or task.payload.get("web")
        if not url:
            raise EnvError(f"task {task.id!r} has no payload['url']")
        page = self._require_page()
        try:
            await page.goto(str(url), wait_until="domcontentloaded")
        except Exception as exc:
            raise EnvError(f"could not load {url}: {exc}") from exc

    async def close(self) -> None:
        await self._close_context()
        if self._own_host:
            await self.host.close()

    async def _close_context(self) -> None:
        ctx, self._ctx, self._page = self._ctx, None, None
        if ctx is not None:
            with contextlib.suppress(Exception):  # the browser may already be gone
                await asyncio.wait_for(ctx.close(), 10)

    def _require_page(self) -> Page:
        if self._page is None:
            raise _EpisodeEnd("no open page (reset first)")
        return self._page

    # -- stepping ----------------------------------------------------------------------------
    async def step(self, action: BaseModel | dict[str, Any]) -> StepResult:
        if self._done:
            raise EnvError("the episode is over: call reset() first")
        self._steps += 1
        try:
            act = (
                action
                if isinstance(action, WebAction)
                else WebAction.model_validate(
                    action.model_dump() if isinstance(action, BaseModel) else action
                )
            )
        except ValidationError as exc:
            msg = "; ".join(e["msg"] for e in exc.errors()[:3])
            return StepResult(observation=await self._safe_observe(error=f"invalid action: {msg}"))
        try:
            if act.action == "answer":  # outside the step timeout: a judge model may take a while
                return await self._finish_answer(act.text or "")
            return await asyncio.wait_for(self._step(act), timeout=self.config.step_timeout_s)
        except TimeoutError:
            return await self._end_with_error(f"step timed out after {self.config.step_timeout_s:.0f}s")
        except _EpisodeEnd as exc:
            return await self._end_with_error(str(exc))
        except Exception as exc:
            if _is_fatal(exc) or self._crashed or not self.host.connected:
                return await self._end_with_error(f"browser failure: {type(exc).__name__}: {exc}")
            from playwright.async_api import Error as PWError

            if isinstance(exc, PWError):  # a page-level hiccup: report it, keep the episode going
                first = str(exc).splitlines()[0][:200]
                return StepResult(observation=await self._safe_observe(error=f"browser error: {first}"))
            raise

    async def _step(self, act: WebAction) -> StepResult:
        try:
            await self._apply(act)
        except InvalidActionError as exc:
            if self._crashed:
                raise _EpisodeEnd("page crashed") from exc
            return StepResult(observation=await self._observe(error=str(exc)))
        await self._settle()
        return await self._after_action(act)

    async def _after_action(self, act: WebAction) -> StepResult:
        """Hook for envs with their own reward signal (MiniWoB reads the task's globals)."""
        return StepResult(observation=await self._observe())

    async def _finish_answer(self, answer: str) -> StepResult:
        answer = answer[: self.config.max_answer_chars]
        self._done = True
        obs = await self._safe_observe()
        if not self.screenshots:
            await self._screenshot()
        outcome = Outcome(success=None, score=0.0, source="env", detail="answered; no judge configured")
        if self.judge is not None and self._task is not None:
            try:
                outcome = await self.judge(self._task, answer, list(self.screenshots), page_text=obs.text)
            except Exception as exc:  # a judge failure leaves the outcome unknown, recorded
                outcome = Outcome(
                    success=None, source="judge", detail=f"judge failed: {type(exc).__name__}: {exc}"
                )
        return StepResult(
            observation=obs,
            reward=outcome.score,
            done=True,
            info={"answer": answer, "screenshots": [str(p) for p in self.screenshot_paths]},
            outcome=outcome,
            answer=answer,
        )

    async def _end_with_error(self, message: str) -> StepResult:
        """Timeouts and crashes end the episode; the next reset gets a fresh context/browser."""
        self._done = True
        await self._close_context()
        return StepResult(
            observation=Observation(text=f"Error: {message}", error=message),
            done=True,
            info={"error": message, "fatal": True},
            outcome=Outcome(success=False, score=0.0, source="env", detail=f"error: {message}"),
        )

    async def _settle(self) -> None:
        """Give the page `settle_ms` to react (a click may start a navigation), then wait for it."""
        page = self._require_page()
        if self.config.settle_ms:
            await asyncio.sleep(self.config.settle_ms / 1000)
        try:
            await page.wait_for_load_state("domcontentloaded", timeout=self.config.navigation_timeout_ms)
        except Exception as exc:
            raise _EpisodeEnd(f"page did not load: {exc}") from exc

    def _element(self, act: WebAction) -> tuple[Element, str, Any]:
        assert act.id is not None
        el = self._elements.get(act.id)
        if el is None:
            raise InvalidActionError(_missing(act.id, len(self._elements)))
        sel = f'[data-am-id="{self._gen}-{act.id}"]'
        return el, sel, self._require_page().locator(sel)

    async def _apply(self, act: WebAction) -> None:
        page = self._require_page()
        timeout = self.config.action_timeout_ms
        from playwright.async_api import Error as PWError
        from playwright.async_api import TimeoutError as PWTimeout

        try:
            if act.action in NEEDS_ID:
                error = element_action_error(act, list(self._elements.values()))
                if error:
                    raise InvalidActionError(error)
                el, sel, loc = self._element(act)
                if act.action == "type":
                    await self._type(sel, act)
                else:
                    probe = await page.evaluate(_PROBE_JS, sel)
                    if probe is None:
                        raise InvalidActionError(_stale(act))
                    if act.action == "click":
                        await self._click(page, sel, probe)
                    else:
                        await self._select(el, loc, act.text or "", timeout)
            elif act.action == "press":
                await page.keyboard.press(self._key(act.text or ""))
            elif act.action == "scroll":
                sign = -1 if (act.text or "down").lower() == "up" else 1
                if act.id is not None:
                    _, _, loc = self._element(act)
                    await loc.evaluate(
                        "(e, s) => e.scrollBy(0, s * Math.max(100, e.clientHeight * 0.8))", sign
                    )
                else:
                    await page.evaluate("(s) => window.scrollBy(0, s * window.innerHeight * 0.8)", sign)
            elif act.action == "goto":
                await self._goto(act.text or "")
            elif act.action == "back":
                resp = await page.go_back(wait_until="domcontentloaded")
                if resp is None and page.url in ("about:blank", ""):
                    raise InvalidActionError("there is no previous page")
        except InvalidActionError:
            raise
        except PWTimeout as exc:
            if self._crashed:
                raise _EpisodeEnd("page crashed") from exc
            raise InvalidActionError(f"{act.short()} failed: element not actionable in time") from exc
        except PWError as exc:
            if _is_fatal(exc) or self._crashed:
                raise
            first = str(exc).splitlines()[0][:200]
            raise InvalidActionError(f"{act.short()} failed: {first}") from exc

    async def _click(self, page: Page, sel: str, probe: dict[str, Any]) -> None:
        """A real mouse click at the element's centre when it is what the pointer would hit there.

        Cheaper than Playwright's actionability waits (one probe, one click); when the element is
        covered or has no box, a DOM click still reaches the element's own handlers. SVG elements
        have no `.click()` (MiniWoB's pie menus), so they get a dispatched click event instead.
        """
        if probe.get("hit"):
            await page.mouse.move(probe["x"], probe["y"])
            # A hover style can swap what is under the pointer (MiniWoB's social-media icons load a
            # hover image and shrink to nothing meanwhile: the press then lands on their parent).
            if await page.evaluate(_STILL_HIT_JS, [sel, probe["x"], probe["y"]]):
                await page.mouse.down()
                await page.mouse.up()
                return
        await page.evaluate(_DOM_CLICK, sel)

    async def _type(self, sel: str, act: WebAction) -> None:
        page = self._require_page()
        # One round trip: focus, set the value the way frameworks notice (native setter + input/change
        # events, which autocomplete widgets and React listen to); Enter is a real key press.
        status = await page.evaluate(_TYPE_JS, [sel, act.text or ""])
        if status == "stale":
            raise InvalidActionError(_stale(act))
        if status.startswith("a date field") or status.startswith("a time field"):
            raise InvalidActionError(f"element [{act.id}] is {status}")
        if status != "ok":
            raise InvalidActionError(f"element [{act.id}] is not a text field ({status})")
        if act.enter:
            await page.keyboard.press("Enter")

    async def _select(self, el: Element, loc: Any, option: str, timeout: int) -> None:
        """Choose an option (by label, else value). In a multi-select list the option is added to
        what is already chosen, as a ctrl-click would: one select per wanted item picks several."""
        picked = await loc.evaluate(_MULTI_SELECT_JS, option, timeout=timeout)
        if picked is not None:
            if picked.get("value") is None:
                raise InvalidActionError(
                    f"no option {option!r} in [{el.id}]; options: {'|'.join(el.options)}"
                )
            await loc.select_option(value=[*picked["chosen"], picked["value"]], timeout=timeout)
            return
        try:
            await loc.select_option(label=option, timeout=timeout)
        except Exception:
            try:
                await loc.select_option(value=option, timeout=timeout)
            except Exception as exc:
                raise InvalidActionError(
                    f"no option {option!r} in [{el.id}]; options: {'|'.join(el.options)}"
                ) from exc

    async def _goto(self, url: str) -> None:
        if not self.config.allow_goto:
            raise InvalidActionError("goto is disabled in this environment")
        if not url.startswith(("http://", "https://")):
            raise InvalidActionError("goto needs an http(s) URL")
        try:
            await self._require_page().goto(url, wait_until="domcontentloaded")
        except Exception as exc:
            if _is_fatal(exc):
                raise
            raise _EpisodeEnd(f"could not load {url}: {exc}") from exc

    @staticmethod
    def _key(key: str) -> str:
        key = key.strip()
        aliases = {
            "enter": "Enter",
            "return": "Enter",
            "tab": "Tab",
            "escape": "Escape",
            "esc": "Escape",
            "backspace": "Backspace",
            "space": "Space",
            "down": "ArrowDown",
            "up": "ArrowUp",
            "left": "ArrowLeft",
            "right": "ArrowRight",
            "delete": "Delete",
        }
        return aliases.get(key.lower(), key)

    # -- observing ---------------------------------------------------------------------------
    async def snapshot(self) -> PageSnapshot:
        page = self._require_page()
        self._gen += 1
        cfg = self.config
        opts = {
            "gen": self._gen,
            "maxElements": cfg.max_elements,
            "nameChars": cfg.name_chars,
            "nearChars": cfg.near_chars,
            "textChars": cfg.text_chars if cfg.include_text else 0,
            "ignore": cfg.ignore_selectors,
        }
        for attempt in range(3):
            try:
                raw = await page.evaluate(snapshot_script(), opts)
            except Exception as exc:
                # A navigation replaced the document under us: wait for the new one and look again.
                if attempt == 2 or _is_fatal(exc) or "context was destroyed" not in str(exc).lower():
                    raise
                await page.wait_for_load_state("domcontentloaded", timeout=cfg.navigation_timeout_ms)
                continue
            if raw.get("ready") != "loading" or attempt == 2:
                break
            # A click's navigation committed after the settle wait: this is a half-parsed document.
            await page.wait_for_load_state("domcontentloaded", timeout=cfg.navigation_timeout_ms)
        snap = PageSnapshot.model_validate(raw)
        self._elements = {e.id: e for e in snap.elements}
        self.last_snapshot = snap
        return snap

    def goal(self) -> str:
        return self._goal

    def render(self, snap: PageSnapshot, error: str | None = None) -> str:
        """The observation text: trusted header, then everything from the page quoted as data."""
        lines = [f"Goal: {self.goal()}", f"URL: {snap.url}"]
        if error:
            lines.append(f"Error: {error}")
        body = [f"Title: {snap.title}", "Elements:"]
        body += [e.line() for e in snap.elements] or ["(none)"]
        if snap.total > len(snap.elements):
            body.append(f"(+{snap.total - len(snap.elements)} more; scroll or narrow down)")
        if self.config.include_text and snap.text:
            body.append("Text: " + snap.text)
        lines.append(quote_untrusted("\n".join(body), source="page"))
        return "\n".join(lines)

    async def _observe(self, error: str | None = None) -> Observation:
        snap = await self.snapshot()
        png = await self._screenshot() if self._shots_on else None
        data = {
            "goal": self.goal(),
            "url": snap.url,
            "title": snap.title,
            "elements": [e.model_dump(exclude_defaults=True) for e in snap.elements],
            "step": self._steps,
        }
        if self.screenshot_paths:
            data["screenshot"] = str(self.screenshot_paths[-1])
        return Observation(text=self.render(snap, error), data=data, image_png=png, error=error)

    async def _safe_observe(self, error: str | None = None) -> Observation:
        try:
            return await self._observe(error=error)
        except Exception as exc:
            msg = error or f"could not observe the page: {type(exc).__name__}"
            return Observation(text=f"Goal: {self.goal()}\nError: {msg}", error=msg)

    async def _screenshot(self) -> bytes | None:
        page = self._require_page()
        try:
            png = await page.screenshot(type="png", timeout=self.config.navigation_timeout_ms)
        except Exception:
            return None
        self.screenshots.append(png)
        if self._shot_dir is not None:
            folder = Path(self._shot_dir)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"step_{len(self.screenshot_paths):03d}.png"
            path.write_bytes(png)
            self.screenshot_paths.append(path)
        return png


_DOM_CLICK = """(s) => {
  const el = document.querySelector(s);
  if (typeof el.click === "function") { el.click(); return; }
  el.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true, view: window}));
}"""


def png_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
