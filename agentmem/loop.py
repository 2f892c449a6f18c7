"""The learning loop, a LangGraph StateGraph shared by every agent.

    recall ─► act ─► env_step ─┬─► act ...            (until done or a budget runs out)
                               ├─► coach ─► act       (every k steps or on a failure signal)
                               └─► finish ─► condense ─► memorize

The graph state is plain JSON-able data (task, steps, advice, agent scratch state), so LangGraph's
SQLite checkpointer can persist it and an interrupted episode resumes from its last step. The env,
agent, model, memory and policy travel in the run's context, never in the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import operator
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, Field, ValidationError

from agentmem.agents.base import ActContext, ActDecision, Agent
from agentmem.coach import Coach, JudgeMode, Scope, failure_signals
from agentmem.condenser import Condenser
from agentmem.envs.base import Env, Observation
from agentmem.errors import AgentMemError, ConfigError, EnvError, InvalidActionError
from agentmem.llm.base import LLM
from agentmem.policy import LearnedPolicy, Policy, make_policy
from agentmem.types import (
    Advice,
    EpisodeSummary,
    MemoryDraft,
    MemoryItem,
    MemoryKind,
    Outcome,
    SearchHit,
    Step,
    Task,
    Trajectory,
    Usage,
    new_id,
)

MemoryMode = Literal["on", "off", "frozen"]


class LoopConfig(BaseModel):
    """Budgets and memory behaviour of one episode (the same object drives a whole run)."""

    max_steps: int = Field(10, ge=1)
    coach_every: int | None = Field(3, ge=0)  # periodic review every k steps; 0/None: signals only
    memory_mode: MemoryMode = "on"  # on: recall+write; frozen: recall, no writes; off: neither
    recall_k: int = Field(4, ge=1)
    token_budget: int | None = Field(None, ge=1)  # prompt+completion tokens of the whole episode
    test_time: bool = True  # a "label" outcome never writes memory while this is True
    checkpoint_path: Path | None = None  # SQLite file for LangGraph's checkpointer (resume)
    thread_prefix: str = ""  # checkpoint thread id = prefix + task id (use one per session)
    policy: Literal["similarity", "learned"] = "similarity"
    advice_threshold: float | None = None  # None: the policy's default
    coach_judge: JudgeMode = "threshold"
    coach_on_signals: bool = True
    coach_cooldown: int = Field(2, ge=1)  # steps between two signal-triggered reviews
    max_advice_items: int = Field(2, ge=1)
    same_env: bool = True  # recall only items written by the same env
    recall_kinds: list[MemoryKind] | None = None  # e.g. ["concept"] for ARC; None: every kind
    max_consecutive_errors: int = Field(5, ge=1)
    condense: Literal["llm", "fallback"] = "llm"  # fallback: deterministic summaries, no model call


class EpisodeState(TypedDict, total=False):
    task: dict[str, Any]
    episode_id: str
    observation: dict[str, Any]
    steps: Annotated[list[dict[str, Any]], operator.add]
    advice_log: Annotated[list[dict[str, Any]], operator.add]
    active_advice: list[dict[str, Any]]
    used_hits: list[dict[str, Any]]  # SearchHit dumps behind the active advice
    policy_examples: Annotated[list[dict[str, Any]], operator.add]  # {item_id, features}
    agent_state: dict[str, Any]
    pending: dict[str, Any] | None
    usage: dict[str, Any]
    consecutive_errors: int
    last_coach_step: int
    route: str
    done: bool
    outcome: dict[str, Any] | None
    answer: Any
    stop_reason: str | None
    error: str | None
    summary: dict[str, Any] | None
    memory_ids: list[str]


@dataclass
class EpisodeRuntime:
    """Everything an episode needs that is not state: live objects, passed as the graph's context."""

    agent: Agent
    env: Env
    llm: LLM
    config: LoopConfig
    memory: Any = None  # AsyncMemory when recall is on
    writes: bool = False  # memorize writes (memory_mode == "on")
    coach: Coach | None = None
    condenser: Condenser | None = None
    policy: Policy | None = None
    live_actions: dict[int, BaseModel] = field(default_factory=dict)


def episode_reward(outcome: Outcome) -> float:
    """The reward credited to every memory used in the episode, in [0, 1]."""
    if outcome.success is None:
        return min(1.0, max(0.0, outcome.score))
    return 1.0 if outcome.success else 0.0


def _usage(state: EpisodeState) -> Usage:
    return Usage.model_validate(state.get("usage") or {})


def _steps(state: EpisodeState) -> list[Step]:
    return [Step.model_validate(s) for s in state.get("steps", [])]


def _dump_action(action: Any) -> dict[str, Any] | None:
    if action is None:
        return None
    if isinstance(action, BaseModel):
        return action.model_dump(mode="json")
    if isinstance(action, dict):
        return action
    raise TypeError(f"an action must be a pydantic model, got {type(action).__name__}")


def _advice_payload(decision: Any) -> dict[str, Any]:
    """State update for an intervention: the advice and the features of the cases behind it."""
    return {
        "advice": decision.advice.model_dump(mode="json"),
        "hits": [r.hit.model_dump(mode="json") for r in decision.used],
        "examples": [{"item_id": r.hit.item.id, "features": r.features} for r in decision.used],
    }


# --- nodes -------------------------------------------------------------------------------------
async def _recall(state: EpisodeState, runtime: Any) -> dict[str, Any]:
    rt: EpisodeRuntime = runtime.context
    if rt.coach is None:
        return {"route": "act"}
    task = Task.model_validate(state["task"])
    obs = Observation.model_validate(state["observation"])
    decision = await rt.coach.recall(
        task, rt.agent.memory_query(task, obs), scope=_memory_scope(rt.agent, task, obs)
    )
    update: dict[str, Any] = {"usage": _usage(state).add(decision.usage).model_dump()}
    if decision.intervene and decision.advice is not None:
        p = _advice_payload(decision)
        update |= {
            "active_advice": [p["advice"]],
            "advice_log": [p["advice"]],
            "used_hits": p["hits"],
            "policy_examples": p["examples"],
        }
    return update


async def _act(state: EpisodeState, runtime: Any) -> dict[str, Any]:
    rt: EpisodeRuntime = runtime.context
    task = Task.model_validate(state["task"])
    history = _steps(state)
    advice = [Advice.model_validate(a) for a in state.get("active_advice", [])]
    agent_state = dict(state.get("agent_state") or {})
    ctx = ActContext(
        task=task,
        observation=Observation.model_validate(state["observation"]),
        history=history,
        advice=advice,
        llm=rt.llm,
        recalled=[SearchHit.model_validate(h) for h in state.get("used_hits", [])],
        state=agent_state,
        step_index=len(history),
        steps_left=rt.config.max_steps - len(history),
    )
    try:
        decision = await rt.agent.act(ctx)
    except (AgentMemError, ValidationError, ValueError) as exc:  # a bad reply is a failed step, not a crash
        decision = ActDecision(error=f"{type(exc).__name__}: {exc}")
    error = decision.error
    try:
        action = _dump_action(decision.action)
    except TypeError as exc:
        action, error = None, str(exc)
    if action is None and not error:
        error = "the agent returned no action"
    if action is not None:
        rt.live_actions[len(history)] = decision.action  # type: ignore[assignment]
    pending = {
        "action": action,
        "thought": decision.thought,
        "label": decision.label,
        "memory_id": decision.memory_id,
        "error": error if action is None else None,
        "advice_ids": [i for a in advice for i in a.item_ids],
    }
    return {
        "pending": pending,
        "agent_state": ctx.state,
        "usage": _usage(state).add(decision.usage).model_dump(),
    }


def _next_route(
    state: EpisodeState, rt: EpisodeRuntime, steps: list[Step], done: bool, errors: int
) -> tuple[str, str | None]:
    cfg = rt.config
    if done:
        return "finish", None
    if len(steps) >= cfg.max_steps:
        return "finish", f"step budget exhausted ({cfg.max_steps} steps)"
    usage = _usage(state)
    if cfg.token_budget is not None and usage.prompt_tokens + usage.completion_tokens >= cfg.token_budget:
        return "finish", f"token budget exhausted ({cfg.token_budget} tokens)"
    if errors >= cfg.max_consecutive_errors:
        return "finish", f"{errors} consecutive failed steps"
    if rt.coach is not None:
        n = len(steps)
        since = n - int(state.get("last_coach_step", 0))
        if cfg.coach_on_signals and since >= cfg.coach_cooldown and failure_signals(steps):
            return "coach", None
        if cfg.coach_every and n % cfg.coach_every == 0:
            return "coach", None
    return "act", None


async def _env_step(state: EpisodeState, runtime: Any) -> dict[str, Any]:
    rt: EpisodeRuntime = runtime.context
    pending = state.get("pending") or {}
    steps = _steps(state)
    i = len(steps)
    step = Step(
        i=i,
        thought=pending.get("thought", ""),
        action=pending.get("action"),
        label=pending.get("label", ""),
        advice_ids=pending.get("advice_ids", []),
        memory_id=pending.get("memory_id"),
    )
    update: dict[str, Any] = {"pending": None}
    done = False
    if step.action is None:
        step.error = pending.get("error") or "no action"
    else:
        action = rt.live_actions.pop(i, None)
        if action is None:  # resumed from a checkpoint: rebuild the action from its recorded form
            action = rt.agent.action_schema.model_validate(step.action)
        try:
            result = await rt.env.step(action)
        except InvalidActionError as exc:
            step.error = f"{type(exc).__name__}: {exc}"
        except EnvError as exc:  # the world broke: end this episode, keep the run going
            step.error = f"{type(exc).__name__}: {exc}"
            done = True
            update["error"] = step.error
            update["outcome"] = Outcome(
                success=False, score=0.0, source="env", detail=f"env failed: {exc}"
            ).model_dump()
        else:
            obs = result.observation
            step.observation = obs.text
            step.reward = result.reward
            step.error = obs.error
            update["observation"] = obs.model_dump()
            if result.done:
                done = True
                outcome = result.outcome or Outcome(
                    success=result.reward > 0, score=result.reward, source="env"
                )
                update["outcome"] = outcome.model_dump()
                update["answer"] = result.answer
    errors = int(state.get("consecutive_errors", 0)) + 1 if step.error else 0
    all_steps = [*steps, step]
    route, reason = _next_route(state, rt, all_steps, done, errors)
    update |= {
        "steps": [step.model_dump(mode="json")],
        "consecutive_errors": errors,
        "done": done,
        "route": route,
    }
    if reason:
        update["stop_reason"] = reason
    return update


def _memory_scope(agent: Any, task: Task, obs: Observation) -> Scope | None:
    """The payload fields that mark the agent's own kind of task (optional part of the Agent
    protocol): one filter, or several (each searched on its own), from the task and what is on screen."""
    scope_fn = getattr(agent, "memory_scope", None)
    return scope_fn(task, obs) if callable(scope_fn) else None


async def _coach(state: EpisodeState, runtime: Any) -> dict[str, Any]:
    rt: EpisodeRuntime = runtime.context
    assert rt.coach is not None
    task = Task.model_validate(state["task"])
    steps = _steps(state)
    obs = Observation.model_validate(state["observation"])
    given = {i for a in state.get("advice_log", []) for i in a.get("item_ids", [])}
    decision = await rt.coach.review(
        task,
        rt.agent.memory_query(task, obs),
        steps,
        failure_signals(steps),
        given,
        scope=_memory_scope(rt.agent, task, obs),
    )
    update: dict[str, Any] = {
        "last_coach_step": len(steps),
        "usage": _usage(state).add(decision.usage).model_dump(),
    }
    if decision.intervene and decision.advice is not None:
        p = _advice_payload(decision)
        kept = [a for a in state.get("active_advice", []) if a.get("source") == "recall"]
        kept_ids = {i for a in kept for i in a.get("item_ids", [])}
        hits = [h for h in state.get("used_hits", []) if h["item"]["id"] in kept_ids]
        update |= {
            "active_advice": [*kept, p["advice"]],
            "advice_log": [p["advice"]],
            "used_hits": hits + p["hits"],
            "policy_examples": p["examples"],
        }
    return update


def _trajectory(state: EpisodeState) -> Trajectory:
    advice = [Advice.model_validate(a) for a in state.get("advice_log", [])]
    recalled = list(dict.fromkeys(i for a in advice for i in a.item_ids))
    return Trajectory(
        task=Task.model_validate(state["task"]),
        steps=_steps(state),
        outcome=Outcome.model_validate(state.get("outcome") or {}),
        answer=state.get("answer"),
        usage=_usage(state),
        recalled_ids=recalled,
        advice=advice,
        episode_id=state["episode_id"],
        error=state.get("error"),
        summary=EpisodeSummary.model_validate(state["summary"]) if state.get("summary") else None,
        agent_state=dict(state.get("agent_state") or {}),
    )


async def _finish(state: EpisodeState, runtime: Any) -> dict[str, Any]:
    if state.get("outcome"):
        return {}
    detail = state.get("stop_reason") or "ended without a verdict"
    return {"outcome": Outcome(success=False, score=0.0, source="env", detail=detail).model_dump()}


def _may_write(state: EpisodeState, rt: EpisodeRuntime) -> bool:
    if not rt.writes or rt.memory is None:
        return False
    source = (state.get("outcome") or {}).get("source")
    return not (source == "label" and rt.config.test_time)


async def _condense(state: EpisodeState, runtime: Any) -> dict[str, Any]:
    rt: EpisodeRuntime = runtime.context
    if not _may_write(state, rt) or rt.condenser is None:
        return {}
    summary = await rt.condenser.condense(_trajectory(state), getattr(rt.agent, "name", "agent"))
    return {"summary": summary.model_dump()}


async def write_episode(
    memory: Any,
    traj: Trajectory,
    summary: EpisodeSummary,
    *,
    agent_name: str = "agent",
    drafts: Sequence[MemoryDraft] = (),
    policy: Policy | None = None,
    policy_examples: Sequence[dict[str, Any]] = (),
    record_usage: bool = True,
) -> list[str]:
    """Write one finished episode: the episode item, the agent's drafts, usage events, policy update.

    Idempotent per episode id (a resumed episode never writes twice). Callers decide whether the
    outcome may be written at all (label outcomes at test time may not).
    """
    try:
        await memory.get(traj.episode_id)
        return [traj.episode_id]
    except KeyError:
        pass
    o = traj.outcome
    base = {
        "env": traj.task.env,
        "task_id": traj.task.id,
        "episode_id": traj.episode_id,
        "success": o.success,
        "score": o.score,
        "source": o.source,
    }
    episode = MemoryItem(
        id=traj.episode_id,
        namespace=memory.namespace,
        kind="episode",
        text=summary.as_text(),
        payload={
            **base,
            "agent": agent_name,
            "summary": summary.model_dump(),
            "steps": len(traj.steps),
            "actions": [s.action for s in traj.steps[:40] if s.action is not None],
            "recalled_ids": traj.recalled_ids,
            "fallback_summary": summary.fallback,
        },
    )
    extra = [d.model_copy(update={"payload": {**base, **d.payload}}) for d in drafts]
    written = await memory.add_many([episode, *extra])
    reward = episode_reward(o)
    if record_usage and traj.recalled_ids:
        await memory.record_usage(traj.recalled_ids, traj.episode_id, reward, task_id=traj.task.id)
    if isinstance(policy, LearnedPolicy) and policy_examples:
        policy.update([(ex["features"], reward) for ex in policy_examples])
        await asyncio.to_thread(policy.save)
    return [item.id for item in written]


async def _memorize(state: EpisodeState, runtime: Any) -> dict[str, Any]:
    rt: EpisodeRuntime = runtime.context
    if not _may_write(state, rt) or not state.get("summary"):
        return {"memory_ids": []}
    traj = _trajectory(state)
    assert traj.summary is not None
    ids = await write_episode(
        rt.memory,
        traj,
        traj.summary,
        agent_name=getattr(rt.agent, "name", "agent"),
        drafts=rt.agent.distil(traj, traj.summary),
        policy=rt.policy,
        policy_examples=state.get("policy_examples", []),
    )
    return {"memory_ids": ids}


async def _route(state: EpisodeState) -> str:
    # async on purpose: LangGraph runs a sync router in a thread pool (a thread hop per step)
    return state.get("route", "act")


def build_graph() -> Any:
    """The uncompiled StateGraph (compile it with or without a checkpointer)."""
    from langgraph.graph import END, START, StateGraph

    g = StateGraph(EpisodeState, context_schema=EpisodeRuntime)
    g.add_node("recall", _recall)
    g.add_node("act", _act)
    g.add_node("env_step", _env_step)
    g.add_node("coach", _coach)
    g.add_node("finish", _finish)
    g.add_node("condense", _condense)
    g.add_node("memorize", _memorize)
    g.add_edge(START, "recall")
    g.add_edge("recall", "act")
    g.add_edge("act", "env_step")
    g.add_conditional_edges("env_step", _route, {"act": "act", "coach": "coach", "finish": "finish"})
    g.add_edge("coach", "act")
    g.add_edge("finish", "condense")
    g.add_edge("condense", "memorize")
    g.add_edge("memorize", END)
    return g


_COMPILED: dict[int, Any] = {}


def compiled_graph(checkpointer: Any = None) -> Any:
    key = id(checkpointer)
    graph = _COMPILED.get(key) if checkpointer is None else None
    if graph is None:
        graph = build_graph().compile(checkpointer=checkpointer)
        if checkpointer is None:
            _COMPILED[key] = graph
    return graph


# --- running -----------------------------------------------------------------------------------
async def open_checkpointer(path: Path, stack: AsyncExitStack) -> Any:
    """LangGraph's async SQLite saver on `path`, closed with `stack`."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return await stack.enter_async_context(AsyncSqliteSaver.from_conn_string(str(path)))


def _runtime(
    agent: Agent,
    env: Env,
    llm: LLM,
    memory: Any,
    cfg: LoopConfig,
    coach_llm: LLM | None,
    policy: Policy | None,
) -> EpisodeRuntime:
    recall_on = memory is not None and cfg.memory_mode != "off"
    writes = memory is not None and cfg.memory_mode == "on"
    if policy is None and recall_on:
        policy = make_policy(cfg.policy, memory)
    coach = None
    if recall_on:
        assert policy is not None
        coach = Coach(
            memory,
            policy,
            coach_llm or llm,
            k=cfg.recall_k,
            threshold=cfg.advice_threshold,
            judge=cfg.coach_judge,
            same_env=cfg.same_env,
            max_items=cfg.max_advice_items,
            kinds=cfg.recall_kinds,
        )
    condenser = Condenser(llm if cfg.condense == "llm" else None) if writes else None
    return EpisodeRuntime(
        agent=agent,
        env=env,
        llm=llm,
        config=cfg,
        memory=memory if recall_on else None,
        writes=writes,
        coach=coach,
        condenser=condenser,
        policy=policy,
    )


async def _replay(env: Env, agent: Agent, steps: list[dict[str, Any]]) -> None:
    """Bring a fresh env to where the interrupted episode was: the recorded actions, in order."""
    for raw in steps:
        if raw.get("action") is None:
            continue
        try:
            await env.step(agent.action_schema.model_validate(raw["action"]))
        except InvalidActionError:
            continue


async def run_episode(
    task: Task,
    agent: Agent,
    env: Env,
    *,
    llm: LLM,
    memory: Any = None,
    config: LoopConfig | None = None,
    coach_llm: LLM | None = None,
    policy: Policy | None = None,
    thread_id: str | None = None,
    checkpointer: Any = None,
) -> Trajectory:
    """Run (or resume) one episode. The env is the caller's: it is reset here but not closed."""
    cfg = config or LoopConfig()
    rt = _runtime(agent, env, llm, memory, cfg, coach_llm, policy)
    async with AsyncExitStack() as stack:
        if checkpointer is None and cfg.checkpoint_path is not None:
            checkpointer = await open_checkpointer(cfg.checkpoint_path, stack)
        graph = compiled_graph(checkpointer)
        run_cfg: dict[str, Any] = {"recursion_limit": cfg.max_steps * 3 + 16}
        inputs: dict[str, Any] | None = None
        if checkpointer is not None:
            run_cfg["configurable"] = {"thread_id": thread_id or f"{cfg.thread_prefix}{task.id}"}
            saved = await graph.aget_state(run_cfg)
            if saved.values and not saved.next:  # finished earlier: the stored trajectory
                return _trajectory(saved.values)
            if saved.values:
                await env.reset(task)
                await _replay(env, agent, saved.values.get("steps", []))
                final = await graph.ainvoke(None, run_cfg, context=rt)
                return _trajectory(final)
        try:
            observation = await env.reset(task)
        except EnvError as exc:
            return Trajectory(
                task=task,
                error=f"{type(exc).__name__}: {exc}",
                outcome=Outcome(success=False, score=0.0, source="env", detail=f"reset failed: {exc}"),
            )
        inputs = {
            "task": task.model_dump(mode="json"),
            "episode_id": new_id(),
            "observation": observation.model_dump(),
            "steps": [],
            "advice_log": [],
            "active_advice": [],
            "used_hits": [],
            "policy_examples": [],
            "agent_state": {},
            "usage": Usage().model_dump(),
            "consecutive_errors": 0,
            "last_coach_step": 0,
            "done": False,
        }
        final = await graph.ainvoke(inputs, run_cfg, context=rt)
        return _trajectory(final)


EnvFactoryT = Callable[[], "Env | Awaitable[Env]"]


async def _make_env(env_factory: EnvFactoryT) -> Env:
    env = env_factory()
    if inspect.isawaitable(env):
        env = await env
    return env  # type: ignore[return-value]


async def iter_episodes(
    tasks: Iterable[Task],
    agent: Agent,
    env_factory: EnvFactoryT,
    *,
    llm: LLM,
    memory: Any = None,
    concurrency: int = 4,
    config: LoopConfig | None = None,
    coach_llm: LLM | None = None,
) -> AsyncIterator[tuple[int, Trajectory]]:
    """Run episodes concurrently (at most `concurrency` at once); yield (index, trajectory) as each ends.

    One env per episode (made by `env_factory`, closed after). A crashed episode yields a trajectory
    with `error` set instead of stopping the run. The agent object is shared: keep per-episode state
    in ActContext.state.
    """
    if concurrency < 1:
        raise ConfigError("concurrency must be >= 1")
    cfg = config or LoopConfig()
    task_list = list(tasks)
    recall_on = memory is not None and cfg.memory_mode != "off"
    policy = make_policy(cfg.policy, memory) if recall_on else None
    sem = asyncio.Semaphore(concurrency)
    async with AsyncExitStack() as stack:
        checkpointer = await open_checkpointer(cfg.checkpoint_path, stack) if cfg.checkpoint_path else None

        async def one(index: int, task: Task) -> tuple[int, Trajectory]:
            async with sem:
                env: Env | None = None
                try:
                    env = await _make_env(env_factory)
                    traj = await run_episode(
                        task,
                        agent,
                        env,
                        llm=llm,
                        memory=memory,
                        config=cfg,
                        coach_llm=coach_llm,
                        policy=policy,
                        checkpointer=checkpointer,
                    )
                except Exception as exc:  # one broken episode must not stop the others
                    traj = Trajectory(
                        task=task,
                        error=f"{type(exc).__name__}: {exc}",
                        outcome=Outcome(success=False, score=0.0, source="env", detail="episode crashed"),
                    )
                finally:
                    if env is not None:
                        # closing a broken env must not hide the episode's result
                        with contextlib.suppress(Exception):
                            await env.close()
                return index, traj

        pending = [asyncio.ensure_future(one(i, t)) for i, t in enumerate(task_list)]
        try:
            for fut in asyncio.as_completed(pending):
                yield await fut
        finally:
            for fut in pending:
                fut.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


async def run_episodes(
    tasks: Iterable[Task],
    agent: Agent,
    env_factory: EnvFactoryT,
    *,
    llm: LLM,
    memory: Any = None,
    concurrency: int = 4,
    config: LoopConfig | None = None,
    memory_mode: MemoryMode | None = None,
    coach_llm: LLM | None = None,
    on_result: Callable[[Trajectory], Any] | None = None,
) -> list[Trajectory]:
    """All episodes' trajectories in task order; `on_result` sees each one as it finishes (progress bars)."""
    cfg = config or LoopConfig()
    if memory_mode is not None:
        cfg = cfg.model_copy(update={"memory_mode": memory_mode})
    task_list = list(tasks)
    results: list[Trajectory | None] = [None] * len(task_list)
    async for index, traj in iter_episodes(
        task_list,
        agent,
        env_factory,
        llm=llm,
        memory=memory,
        concurrency=concurrency,
        config=cfg,
        coach_llm=coach_llm,
    ):
        results[index] = traj
        if on_result is not None:
            maybe = on_result(traj)
            if inspect.isawaitable(maybe):
                await maybe
    return [t for t in results if t is not None]
