"""GAIA's quasi-exact-match scorer (a table of cases) and the dataset layout reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentmem.errors import DataError
from agentmem.eval.gaia import load_gaia, normalize_number_str, normalize_str, per_level, question_scorer


@pytest.mark.parametrize(
    ("answer", "truth", "expected"),
    [
        # numbers: $, % and thousands commas are dropped, then compared as floats
        ("42", "42", True),
        ("42.0", "42", True),
        (" 42 ", "42", True),
        ("$1,234", "1234", True),
        ("12%", "12", True),
        ("1,234.50", "1234.5", True),
        ("41", "42", False),
        ("42 km", "42", False),  # other units are not stripped by the official rule
        ("forty-two", "42", False),
        (None, "42", False),
        # lists: split on , or ; and compared element-wise, numbers as numbers
        ("a, b", "a,b", True),
        ("1; 2; 3", "1, 2, 3", True),
        ("1.0, 2", "1, 2", True),
        ("New York; Paris", "new york, paris", True),
        ("b, a", "a, b", False),
        ("a, b, c", "a, b", False),
        ("a, 3", "a, 4", False),
        ("St. Louis, Paris", "St Louis, Paris", False),  # list elements keep their punctuation
        # strings: whitespace and punctuation removed, case folded
        ("Hello World!", "hello world", True),
        ("  District of  Columbia ", "District of Columbia", True),
        ("1982Q4", "1982q4", True),
        ("math.log2", "math.log2", True),
        ("mathlog2", "math.log2", True),
        ("Saint Louis", "St. Louis", False),
        (None, "None", True),
    ],
)
def test_question_scorer_table(answer: str | None, truth: str, expected: bool) -> None:
    assert question_scorer(answer, truth) is expected


def test_normalisers() -> None:
    assert normalize_number_str("$3,000") == 3000.0
    assert normalize_number_str("n/a") == float("inf")
    assert normalize_str("A b,C.") == "abc"
    assert normalize_str("A b,C.", remove_punct=False) == "ab,c."


def _write(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_load_gaia_layout(tmp_path: Path) -> None:
    split = tmp_path / "2023" / "validation"
    _write(
        split,
        [
            {"task_id": "a1", "Question": "What is in the file?", "Level": 1, "Final answer": "LABEL-7Q",
             "file_name": "a1.csv", "Annotator Metadata": {"Steps": "read"}},
            {"task_id": "b2", "Question": "Two?", "Level": "2", "Final answer": "x, y", "file_name": ""},
            {"task_id": "c3", "Question": "Hidden?", "Level": 3, "Final answer": "?", "file_name": ""},
        ],
    )  # fmt: skip
    (split / "a1.csv").write_text("n\n7\n")
    qs = load_gaia(tmp_path, "validation")
    assert [q.task_id for q in qs] == ["a1", "b2", "c3"]
    assert qs[0].file_path == split / "a1.csv" and qs[0].level == "1"
    assert qs[0].extra == {"Annotator Metadata": {"Steps": "read"}}
    assert qs[2].final_answer is None
    task = qs[0].to_task()
    assert task.payload["file_path"] == str(split / "a1.csv")
    assert "LABEL-7Q" not in task.model_dump_json()  # the label is nowhere in the task the agent sees
    assert task.meta == {"level": "1"}
    assert [q.task_id for q in load_gaia(tmp_path, "validation", levels=["2", "3"])] == ["b2", "c3"]
    assert len(load_gaia(tmp_path, "validation", limit=1)) == 1


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"task_id": "a", "Question": "q", "Level": 1, "file_name": "gone.pdf"}], "attachment"),
        ([{"task_id": "a", "Level": 1}], "malformed"),
        ([{"task_id": "a", "Question": "q", "Level": 1}] * 2, "duplicate"),
    ],
)
def test_load_gaia_errors(tmp_path: Path, rows: list[dict], message: str) -> None:
    _write(tmp_path / "test", rows)
    with pytest.raises(DataError, match=message):
        load_gaia(tmp_path, "test")


def test_load_gaia_missing_split_and_levels(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no metadata\.jsonl"):
        load_gaia(tmp_path, "validation")
    _write(tmp_path / "validation", [{"task_id": "a", "Question": "q", "Level": 1}])
    with pytest.raises(DataError, match="levels are 1, 2, 3"):
        load_gaia(tmp_path, "validation", levels=["4"])
    with pytest.raises(DataError, match="no questions"):
        load_gaia(tmp_path, "validation", levels=["3"])


def test_per_level_table() -> None:
    table = per_level([("1", True), ("1", False), ("2", True)])
    assert table["1"] == {"n": 2, "correct": 1, "accuracy": 0.5}
    assert table["all"]["correct"] == 2 and table["2"]["accuracy"] == 1.0
