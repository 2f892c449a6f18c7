"""The offline research suite: every stored answer recomputed from the installed material."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from agentmem.errors import DataError
from agentmem.eval import research_suite as rs
from agentmem.eval.gaia import load_gaia, question_scorer
from tests.conftest import require_service

SUITE = Path(rs.__file__).parent / "data" / "research"


def _docs_available() -> bool:
    try:
        rs.pydoc_dir()
    except DataError:
        return False
    return True


@pytest.fixture(scope="module")
def stored() -> dict[str, list[dict]]:
    return {
        split: [
            json.loads(line) for line in (SUITE / split / "metadata.jsonl").read_text().splitlines() if line
        ]
        for split in ("dev", "test")
    }


def test_suite_shape(stored: dict[str, list[dict]]) -> None:
    dev, test = stored["dev"], stored["test"]
    assert len(dev) + len(test) >= 60 and len(test) >= 30
    assert not {r["task_id"] for r in dev} & {r["task_id"] for r in test}
    assert not {r["Question"] for r in dev} & {r["Question"] for r in test}
    for row in dev + test:
        assert row["Level"] in (1, 2, 3) and row["Final answer"]
    assert {r["Level"] for r in test} == {1, 2, 3}
    # loads through the GAIA reader (attachments present beside metadata.jsonl)
    assert len(load_gaia(SUITE, "test")) == len(test)


def test_every_answer_recomputed_from_material(stored: dict[str, list[dict]]) -> None:
    require_service("python3.11-doc", _docs_available(), "apt-get install python3.11-doc")
    rebuilt = rs.build_suite()
    for split in ("dev", "test"):
        assert [q.row() for q in rebuilt[split]] == stored[split], f"{split} differs from the material"


def test_attachments_are_the_package_files(stored: dict[str, list[dict]]) -> None:
    for split, rows in stored.items():
        for name in {r["file_name"] for r in rows if r["file_name"]}:
            assert (SUITE / split / name).read_bytes() == rs.dataset_path(name).read_bytes()


def test_independent_spot_checks(stored: dict[str, list[dict]]) -> None:
    """A second derivation without the generator's code (csv module, raw HTML regex)."""
    rows = stored["dev"] + stored["test"]
    with rs.dataset_path("nile.csv").open() as fh:
        volumes = [int(r["volume"]) for r in csv.DictReader(fh)]
    nile = [r for r in rows if r["Annotator Metadata"]["Family"] == "nile_count"]
    assert nile
    for r in nile:
        v = int(re.search(r"below (\d+)", r["Question"]).group(1))
        assert question_scorer(str(sum(x < v for x in volumes)), r["Final answer"])
    require_service("python3.11-doc", _docs_available(), "apt-get install python3.11-doc")
    added = [r for r in rows if r["Annotator Metadata"]["Family"] == "doc_added"]
    assert added
    for r in added:
        name = re.search(r"function (\S+) added", r["Question"]).group(1)
        page = (rs.pydoc_dir() / "library" / f"{name.rsplit('.', 1)[0]}.html").read_text()
        block = page[page.index(f'id="{name}"') :]
        block = block[: block.index("</dd>")]
        assert re.search(r"New in version (3\.\d+)", block).group(1) == r["Final answer"]
