"""GAIA: the dataset layout reader and the official quasi-exact-match scorer.

Layout: a folder (a split) holding `metadata.jsonl`, one JSON object per line with `task_id`,
`Question`, `Level`, `Final answer` (absent or "?" on the hidden test split) and `file_name`
(an attachment beside metadata.jsonl, or ""). `DIR/<split>/metadata.jsonl` and `DIR/metadata.jsonl`
are both accepted, as is GAIA's `2023/<split>` nesting.

The scorer follows the GAIA leaderboard's `question_scorer`: a numeric ground truth is compared as a
float after removing `$`, `%` and `,` from the answer; a ground truth containing `,` or `;` is a list
compared element-wise (numbers as numbers, strings normalised); any other string is compared after
removing all whitespace and punctuation and lower-casing.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

from pydantic import BaseModel, Field

from agentmem.errors import DataError
from agentmem.types import Task

LEVELS = ("1", "2", "3")


# --- scorer ---------------------------------------------------------------------------------------
def normalize_number_str(number_str: str) -> float:
    """'$1,234.5' -> 1234.5; an unparseable string -> inf (never equal to a number)."""
    for char in ("$", "%", ","):
        number_str = number_str.replace(char, "")
    try:
        return float(number_str.strip())
    except ValueError:
        return float("inf")


def split_string(s: str, char_list: tuple[str, ...] = (",", ";")) -> list[str]:
    return re.split(f"[{''.join(char_list)}]", s)


def normalize_str(input_str: str, remove_punct: bool = True) -> str:
    """Drop all whitespace, lower-case, and (by default) remove ASCII punctuation."""
    no_spaces = re.sub(r"\s", "", input_str)
    if remove_punct:
        return no_spaces.lower().translate(str.maketrans("", "", string.punctuation))
    return no_spaces.lower()


def is_float(element: object) -> bool:
    try:
        float(element)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def question_scorer(model_answer: str | None, ground_truth: str) -> bool:
    """GAIA's quasi-exact match of a model's final answer against the ground truth."""
    if model_answer is None:
        model_answer = "None"
    model_answer = str(model_answer)
    ground_truth = str(ground_truth)
    if is_float(ground_truth):
        return normalize_number_str(model_answer) == float(ground_truth)
    if any(char in ground_truth for char in (",", ";")):
        gt_elems = split_string(ground_truth)
        ma_elems = split_string(model_answer)
        if len(gt_elems) != len(ma_elems):
            return False
        for ma_elem, gt_elem in zip(ma_elems, gt_elems, strict=True):
            if is_float(gt_elem):
                if normalize_number_str(ma_elem) != float(gt_elem):
                    return False
            elif normalize_str(ma_elem, remove_punct=False) != normalize_str(gt_elem, remove_punct=False):
                return False
        return True
    return normalize_str(model_answer) == normalize_str(ground_truth)


# --- layout ---------------------------------------------------------------------------------------
class GaiaQuestion(BaseModel):
    task_id: str
    question: str
    level: str
    final_answer: str | None = None  # None on the hidden test split
    file_name: str = ""
    file_path: Path | None = None
    extra: dict = Field(default_factory=dict)  # other keys (Annotator Metadata...), never shown to agents

    def to_task(self, *, env: str = "research", corpus: bool = True) -> Task:
        """A Task for the agent: the question and attachment only. The label is not in it at all: the
        runner keeps labels apart and scores after the episode, so nothing can leak into memory."""
        return Task(
            id=self.task_id,
            env=env,
            goal=self.question,
            payload={
                "question": self.question,
                "file_path": str(self.file_path) if self.file_path else None,
                "corpus": corpus,
            },
            meta={"level": self.level},
        )


def find_split_dir(data_dir: Path, split: str | None) -> Path:
    """The folder holding metadata.jsonl for `split` under `data_dir` (several layouts accepted)."""
    data_dir = Path(data_dir)
    candidates = [data_dir / split, data_dir / "2023" / split] if split else []
    candidates.append(data_dir)
    for cand in candidates:
        if (cand / "metadata.jsonl").is_file():
            return cand
    raise DataError(
        f"no metadata.jsonl for split {split!r} under {data_dir} "
        f"(looked in {', '.join(str(c) for c in candidates)})"
    )


def load_gaia(
    data_dir: Path, split: str | None = None, *, levels: list[str] | None = None, limit: int | None = None
) -> list[GaiaQuestion]:
    """Read a GAIA-layout split; a missing attachment or a malformed line raises DataError."""
    folder = find_split_dir(data_dir, split)
    wanted = {str(lv) for lv in levels} if levels else None
    if wanted and not wanted <= set(LEVELS):
        raise DataError(f"GAIA levels are 1, 2, 3; got {sorted(wanted)}")
    out: list[GaiaQuestion] = []
    seen: set[str] = set()
    with (folder / "metadata.jsonl").open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                task_id, question, level = str(row["task_id"]), str(row["Question"]), str(row["Level"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise DataError(f"{folder / 'metadata.jsonl'}:{lineno}: malformed GAIA row ({exc})") from exc
            if task_id in seen:
                raise DataError(f"{folder / 'metadata.jsonl'}:{lineno}: duplicate task_id {task_id}")
            seen.add(task_id)
            if wanted and level not in wanted:
                continue
            answer = row.get("Final answer")
            answer = None if answer in (None, "?", "") else str(answer)
            file_name = str(row.get("file_name") or "")
            file_path = None
            if file_name:
                file_path = folder / file_name
                if not file_path.is_file():
                    raise DataError(f"task {task_id}: attachment {file_path} is missing")
            extra = {
                k: v
                for k, v in row.items()
                if k not in ("task_id", "Question", "Level", "Final answer", "file_name")
            }
            out.append(
                GaiaQuestion(
                    task_id=task_id,
                    question=question,
                    level=level,
                    final_answer=answer,
                    file_name=file_name,
                    file_path=file_path,
                    extra=extra,
                )
            )
            if limit is not None and len(out) >= limit:
                break
    if not out:
        raise DataError(
            f"{folder / 'metadata.jsonl'} holds no questions for levels {sorted(wanted or LEVELS)}"
        )
    return out


def per_level(results: list[tuple[str, bool]]) -> dict[str, dict[str, float]]:
    """(level, correct) pairs -> {level: {n, correct, accuracy}} plus an 'all' row."""
    table: dict[str, dict[str, float]] = {}
    for level, ok in results:
        for key in (str(level), "all"):
            cell = table.setdefault(key, {"n": 0, "correct": 0})
            cell["n"] += 1
            cell["correct"] += int(ok)
    for cell in table.values():
        cell["accuracy"] = cell["correct"] / cell["n"] if cell["n"] else 0.0
    return table
