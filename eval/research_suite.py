"""Generator of the offline research suite: GAIA-format questions over material that installs offline.

Material: CSV datasets bundled in statsmodels and scikit-learn (attached to the questions that use
them, byte-identical copies) and Debian's python3.11-doc HTML (the local corpus the agent searches).
Every answer is computed here by code from that material; `tests/eval/test_research_suite.py`
recomputes them all. Questions need several steps (find the page or read the file, filter, compute,
sometimes combine two sources). Dev and test are disjoint instances of the same question families,
so what is learnt on dev (approach, pitfalls) transfers without the answers transferring.

    python -m agentmem.eval.research_suite --out eval/data/research   # regenerate the package data
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from agentmem.errors import DataError

SUITE_VERSION = 1
SEED = 20240611
PYDOC_ENV = "AGENTMEM_PYDOC_DIR"
DEFAULT_PYDOC = Path("/usr/share/doc/python3.11/html")

# Attachments: file name in the suite -> (package, path inside it).
DATASETS: dict[str, tuple[str, str]] = {
    "statecrime.csv": ("statsmodels.datasets", "statecrime/statecrime.csv"),
    "longley.csv": ("statsmodels.datasets", "longley/longley.csv"),
    "grunfeld.csv": ("statsmodels.datasets", "grunfeld/grunfeld.csv"),
    "macrodata.csv": ("statsmodels.datasets", "macrodata/macrodata.csv"),
    "sunspots.csv": ("statsmodels.datasets", "sunspots/sunspots.csv"),
    "nile.csv": ("statsmodels.datasets", "nile/nile.csv"),
    "iris.csv": ("sklearn.datasets", "data/iris.csv"),
}
# Modules whose documentation pages feed the doc questions (library/<module>.html).
DOC_MODULES = (
    "math", "statistics", "itertools", "functools", "textwrap", "random", "bisect", "heapq",
    "operator", "string", "shutil", "secrets", "hashlib", "base64", "zlib", "fractions", "os.path",
    "glob", "fnmatch", "difflib", "json", "pprint", "calendar", "time", "contextlib",
)  # fmt: skip


@dataclass
class SuiteQuestion:
    task_id: str
    question: str
    answer: str
    level: int
    family: str
    file_name: str = ""
    sources: list[str] = field(default_factory=list)
    steps: str = ""

    def row(self) -> dict[str, Any]:
        """The GAIA metadata.jsonl row (Annotator Metadata says how the answer was computed)."""
        return {
            "task_id": self.task_id,
            "Question": self.question,
            "Level": self.level,
            "Final answer": self.answer,
            "file_name": self.file_name,
            "Annotator Metadata": {"Steps": self.steps, "Sources": self.sources, "Family": self.family},
        }


# --- material ---------------------------------------------------------------------------------------
def dataset_path(name: str) -> Path:
    package, rel = DATASETS[name]
    try:
        path = Path(str(resources.files(package).joinpath(rel)))
    except ModuleNotFoundError as exc:
        raise DataError(f"{name} needs the {package.split('.')[0]} package (the `research` extra)") from exc
    if not path.is_file():
        raise DataError(f"{path} is missing from the installed {package}")
    return path


def pydoc_dir() -> Path:
    root = Path(os.environ.get(PYDOC_ENV) or DEFAULT_PYDOC)
    if not (root / "library" / "math.html").is_file():
        raise DataError(
            f"Python 3.11 HTML docs not found at {root} (apt-get install python3.11-doc, or set {PYDOC_ENV})"
        )
    return root


def corpus_dir() -> Path:
    """The folder the agent searches for doc questions: the library reference."""
    return pydoc_dir() / "library"


@lru_cache(maxsize=16)
def _frame(name: str) -> Any:
    import pandas as pd

    return pd.read_csv(dataset_path(name))


def _iris() -> tuple[Any, list[str]]:
    import pandas as pd

    path = dataset_path("iris.csv")
    with path.open() as fh:
        header = fh.readline().strip().split(",")
    classes = header[2:]
    df = pd.read_csv(path, skiprows=1, header=None)
    df.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "target"]
    return df, classes


@dataclass
class DocEntry:
    name: str  # dotted name, e.g. math.isqrt
    page: str  # library/math.html
    added: str | None  # "3.8"
    defaults: dict[str, str]  # parameter -> default literal


@lru_cache(maxsize=1)
def doc_entries() -> dict[str, DocEntry]:
    """Every documented function of DOC_MODULES: its 'New in version' and its parameter defaults."""
    from lxml import html as lxml_html

    root = pydoc_dir()
    out: dict[str, DocEntry] = {}
    for module in DOC_MODULES:
        page = f"library/{module}.html"
        path = root / page
        if not path.is_file():
            continue
        tree = lxml_html.fromstring(path.read_bytes())
        for dl in tree.xpath('//dl[contains(concat(" ", @class, " "), " function ")]'):
            dt = dl.find("dt")
            dd = dl.find("dd")
            if dt is None or dd is None or not dt.get("id"):
                continue
            name = dt.get("id")
            if name in out:
                continue
            added = [
                " ".join(s.text_content().split())
                for s in dd.xpath(
                    './div[contains(@class, "versionadded")]//span[contains(@class, "versionmodified")]'
                )
            ]
            version = None
            if len(added) == 1:
                m = re.search(r"New in version (3\.\d+)", added[0])
                version = m.group(1) if m else None
            defaults: dict[str, str] = {}
            for em in dt.xpath('.//em[contains(@class, "sig-param")]'):
                pname = em.xpath('./span[contains(@class, "n")]')
                pdef = em.xpath('./span[contains(@class, "default_value")]')
                if pname and pdef:
                    defaults[" ".join(pname[0].text_content().split())] = " ".join(
                        pdef[0].text_content().split()
                    )
            out[name] = DocEntry(name=name, page=page, added=version, defaults=defaults)
    if not out:
        raise DataError(f"no documented functions parsed from {root}")
    return out


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def _fmt(x: float, nd: int) -> str:
    return f"{round(float(x), nd):.{nd}f}"


# --- question families ------------------------------------------------------------------------------
# Each family yields (params, question, answer, level, file, steps); params make the task id stable.
Instance = tuple[str, str, str, int, str, str]


def fam_statecrime_filtered() -> list[Instance]:
    df = _frame("statecrime.csv")
    out = []
    specs = [("poverty", "poverty rate", "below", p) for p in (10, 12, 14, 18)]
    specs += [("urban", "urban population share", "below", u) for u in (40, 50, 60, 70)]
    for col, label, how, thr in specs:
        sub = df[df[col] < thr]
        state = sub.loc[sub.murder.idxmax(), "state"]
        q = (
            f"Using the attached table of US state crime statistics, among the states whose {label} ({col}) "
            f"is {how} {thr}, which state has the highest murder rate? Answer with the state name."
        )
        out.append(
            (f"{col}{thr}", q, str(state), 2, "statecrime.csv", f"filter {col} < {thr}; argmax murder")
        )
    return out


def fam_statecrime_topk() -> list[Instance]:
    df = _frame("statecrime.csv")
    out = []
    for k in (3, 4, 5, 6, 7, 8):
        val = df.nlargest(k, "violent").hs_grad.mean()
        q = (
            f"In the attached US state crime table, what is the average high-school graduation rate "
            f"(hs_grad) of the {k} states with the highest violent crime rate? Round to 2 decimal places."
        )
        out.append((f"k{k}", q, _fmt(val, 2), 2, "statecrime.csv", "top-k by violent; mean hs_grad"))
    return out


def fam_longley_lookup() -> list[Instance]:
    df = _frame("longley.csv")
    pairs = [("UNEMP", "TOTEMP"), ("ARMED", "GNP"), ("UNEMP", "POP"), ("ARMED", "TOTEMP"), ("UNEMP", "GNP")]
    out = []
    for col, col2 in pairs:
        row = df.loc[df[col].idxmax()]
        q = (
            f"In the attached Longley macroeconomic data, what was the value of {col2} in the year "
            f"with the highest {col}? Give the number as it appears in the table."
        )
        val = row[col2]
        ans = str(int(val)) if float(val).is_integer() else str(val)
        out.append((f"{col}-{col2}", q, ans, 2, "longley.csv", f"argmax {col}; read {col2}"))
    return out


def fam_longley_growth() -> list[Instance]:
    df = _frame("longley.csv").set_index("YEAR")
    out = []
    for y1, y2 in ((1947, 1952), (1950, 1955), (1952, 1960), (1948, 1958), (1955, 1962)):
        pct = (df.loc[y2, "GNP"] / df.loc[y1, "GNP"] - 1) * 100
        q = (
            f"Using the attached Longley data, by what percentage did GNP grow from {y1} to {y2}? "
            "Round to 1 decimal place (number only)."
        )
        out.append((f"{y1}-{y2}", q, _fmt(pct, 1), 2, "longley.csv", "GNP[y2]/GNP[y1]-1 in percent"))
    return out


def fam_grunfeld_total() -> list[Instance]:
    df = _frame("grunfeld.csv")
    firms = sorted(df.firm.unique())
    out = []
    rng = random.Random(SEED + 1)
    for firm in firms:
        y1 = rng.randrange(1935, 1946)
        y2 = y1 + rng.randrange(3, 9)
        total = df[(df.firm == firm) & (df.year >= y1) & (df.year <= y2)].invest.sum()
        q = (
            f"In the attached Grunfeld investment data, what was the total investment (invest) of "
            f"{firm} over the years {y1} to {y2} inclusive? Round to 1 decimal place."
        )
        out.append((f"{firm}", q, _fmt(total, 1), 2, "grunfeld.csv", "filter firm+years; sum invest"))
    return out


def fam_grunfeld_year_leader() -> list[Instance]:
    df = _frame("grunfeld.csv")
    out = []
    for year in (1936, 1940, 1944, 1948, 1952):
        sub = df[df.year == year]
        firm = sub.loc[sub.value.idxmax(), "firm"]
        second = sub.sort_values("value", ascending=False).iloc[1].firm
        q = (
            f"In the attached Grunfeld data, which firm had the second highest market value (value) in "
            f"{year}? Answer with the firm name."
        )
        assert firm != second
        out.append((f"{year}", q, str(second), 1, "grunfeld.csv", "filter year; second largest value"))
    return out


def fam_macro_peak() -> list[Instance]:
    df = _frame("macrodata.csv")
    out = []
    for col, label in (
        ("unemp", "unemployment rate"),
        ("tbilrate", "3-month T-bill rate"),
        ("infl", "inflation rate"),
        ("realint", "real interest rate"),
    ):
        row = df.loc[df[col].idxmax()]
        ans = f"{int(row.year)}Q{int(row.quarter)}"
        q = (
            f"In the attached US macroeconomic quarterly data, in which quarter was the {label} ({col}) "
            "highest? Answer in the form YYYYQn, e.g. 1970Q2."
        )
        out.append((col, q, ans, 1, "macrodata.csv", f"argmax {col}; format year+quarter"))
    return out


def fam_macro_year_mean() -> list[Instance]:
    df = _frame("macrodata.csv")
    out = []
    for year in (1961, 1969, 1975, 1982, 1990, 1995, 2001, 2008):
        val = df[df.year == year].unemp.mean()
        q = (
            "Using the attached US macroeconomic quarterly data, what was the average unemployment rate "
            f"(unemp) over the four quarters of {year}? Round to 2 decimal places."
        )
        out.append((f"{year}", q, _fmt(val, 2), 2, "macrodata.csv", "filter year; mean unemp"))
    return out


def fam_sunspots_decade() -> list[Instance]:
    df = _frame("sunspots.csv")
    out = []
    for a, b in ((1700, 1800), (1750, 1850), (1800, 1900), (1850, 1950), (1900, 2000), (1700, 1760)):
        sub = df[(a <= df.YEAR) & (b > df.YEAR)].copy()
        sub["decade"] = (sub.YEAR // 10) * 10
        dec = int(sub.groupby("decade").SUNACTIVITY.sum().idxmax())
        q = (
            f"Using the attached yearly sunspot data, which decade between {a} and {b - 1} had the highest "
            "total sunspot activity? Answer like 1950s."
        )
        out.append((f"{a}-{b}", q, f"{dec}s", 2, "sunspots.csv", "group by decade; argmax sum"))
    return out


def fam_nile_count() -> list[Instance]:
    df = _frame("nile.csv")
    out = []
    for v in (700, 750, 800, 850, 900, 1000):
        n = int((df.volume < v).sum())
        q = f"According to the attached Nile river flow data, in how many years was the flow volume below {v}?"
        out.append((f"v{v}", q, str(n), 1, "nile.csv", "count volume < v"))
    return out


def fam_iris_mean() -> list[Instance]:
    df, classes = _iris()
    out = []
    cols = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    for ci, cname in enumerate(classes):
        for col in (cols[ci % 4], cols[(ci + 2) % 4]):
            val = df[df.target == ci][col].mean()
            human = col.replace("_", " ")
            q = (
                "The attached iris file has a header line (row count, column count, then the class names in "
                "target order) and columns sepal length, sepal width, petal length, petal width, target. "
                f"What is the mean {human} of the {cname} flowers? Round to 3 decimal places."
            )
            out.append((f"{cname}-{col}", q, _fmt(val, 3), 2, "iris.csv", "map class name->index; mean"))
    return out


def _doc_pool(rng: random.Random) -> list[DocEntry]:
    pool = sorted((e for e in doc_entries().values() if e.added), key=lambda e: e.name)
    rng.shuffle(pool)
    return pool


def fam_doc_added() -> list[Instance]:
    out = []
    for e in _doc_pool(random.Random(SEED + 2))[:10]:
        q = (
            f"According to the Python 3.11 documentation, in which Python version was the function "
            f"{e.name} added? Answer like 3.8."
        )
        out.append((e.name, q, e.added or "", 1, "", f"{e.page}: 'New in version'"))
    return out


def fam_doc_earlier() -> list[Instance]:
    pool = _doc_pool(random.Random(SEED + 3))
    out = []
    for a, b in zip(pool[0::2], pool[1::2], strict=False):
        if a.added == b.added or len(out) >= 8:
            continue
        first = a if _minor(a.added or "") < _minor(b.added or "") else b
        q = (
            f"According to the Python 3.11 documentation, which function was added to Python earlier: "
            f"{a.name} or {b.name}? Answer with the full dotted name."
        )
        out.append((f"{a.name}|{b.name}", q, first.name, 2, "", f"{a.page}, {b.page}: compare versions"))
    return out


def fam_doc_default() -> list[Instance]:
    ents = sorted(doc_entries().values(), key=lambda e: e.name)
    cands = [
        (e, p, d)
        for e in ents
        for p, d in e.defaults.items()
        if re.fullmatch(r"-?\d+(\.\d+)?", d) and p != "_"
    ]
    random.Random(SEED + 4).shuffle(cands)
    out, seen = [], set()
    for e, p, d in cands:
        if e.name in seen or len(out) >= 8:
            continue
        seen.add(e.name)
        q = (
            f"In the Python 3.11 documentation, what is the default value of the parameter {p} of "
            f"{e.name}? Answer with the number."
        )
        out.append((f"{e.name}:{p}", q, d, 1, "", f"{e.page}: signature default"))
    return out


def fam_cross_rank() -> list[Instance]:
    df = _frame("statecrime.csv").sort_values("violent", ascending=False).reset_index(drop=True)
    pool = [e for e in _doc_pool(random.Random(SEED + 5)) if e.added and 1 <= _minor(e.added) <= 12]
    out, seen = [], set()
    for e in pool:
        n = _minor(e.added or "")
        if n in seen or len(out) >= 6:
            continue
        seen.add(n)
        state = df.loc[n - 1, "state"]
        q = (
            f"Let N be the minor version number of the Python release in which {e.name} was added, "
            f"according to the Python 3.11 documentation (for example 3.8 gives N = 8). In the attached US "
            "state crime table, which state has the N-th highest violent crime rate? Answer with the state name."
        )
        out.append((e.name, q, str(state), 3, "statecrime.csv", f"{e.page} version -> N; rank by violent"))
    return out


FAMILIES: dict[str, Callable[[], list[Instance]]] = {
    "statecrime_filtered": fam_statecrime_filtered,
    "statecrime_topk": fam_statecrime_topk,
    "longley_lookup": fam_longley_lookup,
    "longley_growth": fam_longley_growth,
    "grunfeld_total": fam_grunfeld_total,
    "grunfeld_year_leader": fam_grunfeld_year_leader,
    "macro_peak": fam_macro_peak,
    "macro_year_mean": fam_macro_year_mean,
    "sunspots_decade": fam_sunspots_decade,
    "nile_count": fam_nile_count,
    "iris_mean": fam_iris_mean,
    "doc_added": fam_doc_added,
    "doc_earlier": fam_doc_earlier,
    "doc_default": fam_doc_default,
    "cross_rank": fam_cross_rank,
}


def build_suite() -> dict[str, list[SuiteQuestion]]:
    """All questions, split dev/test by alternating instances within each family (disjoint), interleaved."""
    by_family: dict[str, dict[str, list[SuiteQuestion]]] = {}
    for family, make in FAMILIES.items():
        for i, (params, question, answer, level, file_name, steps) in enumerate(make()):
            if not answer:
                raise DataError(f"{family}/{params}: empty answer")
            tid = hashlib.sha1(f"{family}|{params}".encode()).hexdigest()[:12]
            sources = [f"{DATASETS[file_name][0]}:{DATASETS[file_name][1]}"] if file_name else []
            if family.startswith(("doc", "cross")):
                sources.append("python3.11-doc:html/library")
            split = "dev" if i % 2 == 0 else "test"
            by_family.setdefault(split, {}).setdefault(family, []).append(
                SuiteQuestion(
                    task_id=f"{family}-{tid}",
                    question=question,
                    answer=answer,
                    level=level,
                    family=family,
                    file_name=file_name,
                    sources=sources,
                    steps=steps,
                )
            )
    # Round-robin over families, so any prefix (--limit N) is a stratified sample.
    splits: dict[str, list[SuiteQuestion]] = {}
    for split in ("dev", "test"):
        groups = list(by_family[split].values())
        splits[split] = [g[i] for i in range(max(map(len, groups))) for g in groups if i < len(g)]
    return splits


def write_suite(out_dir: Path) -> dict[str, int]:
    """Write `out_dir/{dev,test}/metadata.jsonl` plus the attached files (GAIA layout)."""
    out_dir = Path(out_dir)
    splits = build_suite()
    counts = {}
    for split, questions in splits.items():
        folder = out_dir / split
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for name in sorted({q.file_name for q in questions if q.file_name}):
            shutil.copyfile(dataset_path(name), folder / name)
        with (folder / "metadata.jsonl").open("w", encoding="utf-8") as fh:
            for q in questions:
                fh.write(json.dumps(q.row(), ensure_ascii=False) + "\n")
        counts[split] = len(questions)
    (out_dir / "suite.json").write_text(
        json.dumps(
            {"version": SUITE_VERSION, "seed": SEED, "counts": counts, "families": list(FAMILIES)}, indent=1
        )
        + "\n",
        encoding="utf-8",
    )
    return counts


def packaged_suite_dir() -> Path:
    """Where the generated suite ships inside the package (eval/data/research)."""
    return Path(str(resources.files("agentmem.eval").joinpath("data/research")))


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "research")
    args = parser.parse_args(argv)
    print(json.dumps(write_suite(args.out)))


if __name__ == "__main__":
    main()
