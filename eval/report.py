"""Learning-curve plot and a self-contained HTML report for any benchmark run."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentmem.eval.harness import ResultRow, SessionSummary


def plot_learning_curve(sessions: list[SessionSummary], path: Path, *, title: str = "") -> Path:
    """Solve rate per session (and newly solved as bars): the product's promise, in one picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    xs = [s.session for s in sessions]
    if xs:
        ax.plot(xs, [100 * s.rate for s in sessions], marker="o", label="solve rate (%)")
        ax2 = ax.twinx()
        ax2.bar(xs, [s.newly_solved for s in sessions], alpha=0.25, color="tab:green", label="newly solved")
        ax2.set_ylabel("newly solved (tasks)")
        ax.set_xticks(xs)
    ax.set_xlabel("session")
    ax.set_ylabel("solve rate (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{title} learning curve".strip())
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(
    path: Path,
    *,
    benchmark: str,
    summary: dict[str, Any],
    rows: list[ResultRow],
    extra_html: str = "",
    max_rows: int = 300,
) -> Path:
    sessions = summary.get("sessions", [])
    session_table = _table(
        ["session", "n", "solved", "newly solved", "re-solved", "rate", "mean steps", "mean time (s)"],
        [
            [
                s["session"],
                s["n"],
                s["solved"],
                s["newly_solved"],
                s["resolved"],
                f"{100 * s['rate']:.1f}%",
                f"{s['mean_steps']:.1f}",
                f"{s['mean_time_s']:.1f}",
            ]
            for s in sessions
        ],
    )
    group_html = ""
    if summary.get("groups"):
        group_rows = [
            [sess, grp, cell["n"], cell["solved"], f"{100 * cell['rate']:.1f}%"]
            for sess, groups in summary["groups"].items()
            for grp, cell in sorted(groups.items())
        ]
        group_html = "<h2>Per group</h2>" + _table(["session", "group", "n", "solved", "rate"], group_rows)
    row_table = _table(
        ["session", "task", "solved", "score", "steps", "time (s)", "recalled", "error"],
        [
            [
                r.session,
                r.task_id,
                "yes" if r.solved else "no",
                f"{r.score:.2f}",
                r.steps,
                f"{r.time_s:.1f}",
                len(r.recalled_ids),
                (r.error or "")[:120],
            ]
            for r in rows[:max_rows]
        ],
    )
    curve = path.parent / "learning_curve.png"
    img = ""
    if curve.exists():
        data = base64.b64encode(curve.read_bytes()).decode("ascii")
        img = f'<img alt="learning curve" src="data:image/png;base64,{data}">'
    config = html.escape(str(summary.get("config", {})))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>agentmem · {html.escape(benchmark)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px}}th{{background:#f3f3f3}}code{{font-size:12px}}</style>
</head><body><h1>agentmem · {html.escape(benchmark)}</h1>
<p><code>{config}</code></p><h2>Sessions</h2>{session_table}{img}{group_html}
{extra_html}<h2>Results</h2>{row_table}</body></html>"""
    path.write_text(page, encoding="utf-8")
    return path
