"""Two MiniWoB++ runs (memory off, memory on) side by side, per session: solved, wins and losses, steps.

    python bench/web_compare.py runs/web/off runs/web/on

Only (session, task) pairs both runs finished are compared, so a run still going is compared on its
prefix. Both arms see the same episode seeds (eval/miniwob.py), so a win is the same instance solved
by one arm and not the other. Also counts the on arm's replayed steps (taken from an exemplar without a
model call) and sampled steps (a step redrawn where greedy decoding retraced a remembered failure), how
many episodes with either were solved, and the families either arm ever solved. When the on arm
practised (`--practice`), the practice episodes before each session are counted (they are episodes the
off arm did not spend) and how the practised families then did in the session.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from agentmem.eval.harness import ResultsLog


def _rows(run: Path) -> dict[tuple[int, str], dict]:
    return {
        (r.session, r.task_id): r.model_dump(mode="json") for r in ResultsLog(run / "results.jsonl").load()
    }


def _practice(run: Path) -> dict[int, list[dict]]:
    """The on arm's practice rows by the session they preceded (empty without --practice)."""
    by_session: dict[int, list[dict]] = {}
    for r in ResultsLog(run / "practice.jsonl").load():
        by_session.setdefault(r.session, []).append(r.model_dump(mode="json"))
    return by_session


def _family(task_id: str) -> str:
    return task_id.split("#", 1)[0]


def _solved_of(rows: dict, keys: list, marker: str) -> list[int]:
    """[solved, episodes] among the on arm's episodes with at least one step of this kind."""
    marked = [k for k in keys if rows[k]["details"].get(marker, 0)]
    return [sum(rows[k]["solved"] for k in marked), len(marked)]


def compare(off_dir: Path, on_dir: Path) -> dict:
    off, on = _rows(off_dir), _rows(on_dir)
    practice = _practice(on_dir)
    common = sorted(set(off) & set(on))
    sessions = []
    for s in sorted({k[0] for k in common}):
        keys = [k for k in common if k[0] == s]

        practised = practice.get(s, [])
        practice_solved = {_family(r["task_id"]) for r in practised if r["solved"]}
        practised_by = {
            _family(r["task_id"]) for p, rows in practice.items() if p <= s for r in rows if r["solved"]
        }
        headroom = {
            k
            for k in keys
            if _family(k[1]) in practised_by or any(on[j]["solved"] for j in on if j[0] < s and j[1] == k[1])
        }

        def steps_per_success(rows: dict, keys: list = keys) -> float:
            steps = [rows[k]["steps"] for k in keys if rows[k]["solved"]]
            return round(sum(steps) / len(steps), 2) if steps else 0.0

        # The same instances solved by both arms: an arm that solves more long tasks has more steps per
        # success without being any slower on what both solve.
        both = [k for k in keys if on[k]["solved"] and off[k]["solved"]]

        sessions.append(
            {
                "session": s,
                "n": len(keys),
                "off": sum(off[k]["solved"] for k in keys),
                "on": sum(on[k]["solved"] for k in keys),
                "off_rate": round(sum(off[k]["solved"] for k in keys) / len(keys), 3),
                "on_rate": round(sum(on[k]["solved"] for k in keys) / len(keys), 3),
                "steps_per_success_off": steps_per_success(off),
                "steps_per_success_on": steps_per_success(on),
                "steps_per_success_both": [
                    steps_per_success(off, both),
                    steps_per_success(on, both),
                    len(both),
                ],
                "on_wins": [k[1] for k in keys if on[k]["solved"] and not off[k]["solved"]],
                "on_losses": [k[1] for k in keys if off[k]["solved"] and not on[k]["solved"]],
                "on_replayed_steps": sum(on[k]["details"].get("replayed_steps", 0) for k in keys),
                "on_sampled_steps": sum(on[k]["details"].get("sampled_steps", 0) for k in keys),
                # Headroom for replay alone: this session's tasks whose family the on arm solved in
                # an earlier session or in practice (perfect reuse would solve at least these).
                "on_solved_before": len(headroom),
                # The on arm with perfect reuse: every headroom task solved, the rest as the off arm did.
                "reuse_bound": len(headroom) + sum(off[k]["solved"] for k in keys if k not in headroom),
                # Why replay took no step on a headroom task (recorded since stop 20).
                "replay_misses": dict(
                    Counter(
                        re.sub(r"^step \d+: ", "", on[k]["details"].get("replay_stop") or "not recorded")
                        for k in headroom
                        if not on[k]["details"].get("replayed_steps")
                    ).most_common()
                ),
                "practice_episodes": [sum(r["solved"] for r in practised), len(practised)],
                # Families whose practice succeeded before this session: [on solved, off solved] of
                # their tasks in the session (what the practice bought).
                "practised_families_solved": [
                    sum(on[k]["solved"] for k in keys if _family(k[1]) in practice_solved),
                    sum(off[k]["solved"] for k in keys if _family(k[1]) in practice_solved),
                    sum(1 for k in keys if _family(k[1]) in practice_solved),
                ],
                # Which code each arm's rows ran ("?" for rows written before rows kept it).
                "code": {
                    arm: dict(Counter(rows[k].get("code") or "?" for k in keys))
                    for arm, rows in (("off", off), ("on", on))
                },
                "on_replayed_episodes": _solved_of(on, keys, "replayed_steps"),
                "on_sampled_episodes": _solved_of(on, keys, "sampled_steps"),
                "on_guided_episodes": _solved_of(on, keys, "guided_steps"),
            }
        )
    ever = {
        arm: {_family(k[1]) for k in common if rows[k]["solved"]} for arm, rows in (("off", off), ("on", on))
    }
    return {
        "sessions": sessions,
        "families_ever_solved": {arm: len(f) for arm, f in ever.items()},
        "families_only_on": sorted(ever["on"] - ever["off"]),
        "families_only_off": sorted(ever["off"] - ever["on"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("off", type=Path)
    ap.add_argument("on", type=Path)
    ap.add_argument("--json", action="store_true", help="print the whole comparison as JSON")
    args = ap.parse_args()
    result = compare(args.off, args.on)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("| session | n | memory off | memory on | steps/success off / on | on: replayed / sampled steps |")
    print("|---|---|---|---|---|---|")
    for s in result["sessions"]:
        print(
            f"| {s['session']} | {s['n']} | {s['off_rate']:.0%} ({s['off']}) | {s['on_rate']:.0%} ({s['on']}) "
            f"| {s['steps_per_success_off']} / {s['steps_per_success_on']} "
            f"| {s['on_replayed_steps']} / {s['on_sampled_steps']} |"
        )
    for s in result["sessions"]:
        print(f"session {s['session']}: on won {s['on_wins']}; on lost {s['on_losses']}")
        print(f"  code (commit: rows): off {s['code']['off']}; on {s['code']['on']}")
        b_off, b_on, b_n = s["steps_per_success_both"]
        print(f"  steps per success on the {b_n} tasks both arms solved: off {b_off}, on {b_on}")
        (rs, rn), (ss, sn) = s["on_replayed_episodes"], s["on_sampled_episodes"]
        print(f"  on: episodes with replayed steps solved {rs}/{rn}; with sampled steps solved {ss}/{sn}")
        gs, gn = s["on_guided_episodes"]
        print(f"  on: episodes with a guided step (exemplar's box, the model's text) solved {gs}/{gn}")
        print(
            f"  on: tasks solved in an earlier session {s['on_solved_before']}/{s['n']} (replay's headroom);"
            f" perfect reuse would make it {s['reuse_bound']}/{s['n']}"
        )
        if s["replay_misses"]:
            print(f"  on: headroom tasks replay took no step of, by why: {s['replay_misses']}")
        (ps, pn), (pon, poff, pk) = s["practice_episodes"], s["practised_families_solved"]
        if pn:
            print(
                f"  practice before it: {ps}/{pn} episodes solved; the {pk} tasks of families practice "
                f"solved: on {pon}, off {poff}"
            )
    print("families ever solved:", result["families_ever_solved"])
    print("only on:", result["families_only_on"], "| only off:", result["families_only_off"])


if __name__ == "__main__":
    main()
