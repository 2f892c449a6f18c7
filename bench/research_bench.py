"""Per-tool latency of the research tool belt, printed as JSON.

python bench/research_bench.py                 # files, fetch (local server), sandbox, small corpus
python bench/research_bench.py --pydoc         # + corpus search over the Python 3.11 library docs
python bench/research_bench.py --live          # + live web search and fetch
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


def _make_files(d: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import docx
    import matplotlib.pyplot as plt
    from openpyxl import Workbook
    from PIL import Image

    from agentmem.eval.research_suite import dataset_path

    (d / "macro.csv").write_bytes(dataset_path("macrodata.csv").read_bytes())
    (d / "data.json").write_text(json.dumps({"rows": [{"i": i, "sq": i * i} for i in range(200)]}))
    (d / "page.html").write_text(
        "<html><body><main>" + "<p>Paragraph about harbours.</p>" * 200 + "</main></body></html>"
    )
    wb = Workbook()
    for i in range(300):
        wb.active.append([i, i * 2, f"row {i}"])
    wb.save(d / "sheet.xlsx")
    doc = docx.Document()
    for i in range(100):
        doc.add_paragraph(f"Paragraph {i} of the minutes.")
    doc.save(d / "minutes.docx")
    fig = plt.figure()
    fig.text(0.1, 0.5, "Quarterly revenue was 4.2 million")
    fig.savefig(d / "report.pdf")
    plt.close(fig)
    Image.new("RGB", (640, 480), "blue").save(d / "photo.png")
    import wave

    with wave.open(str(d / "tone.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 16000)


async def _time(fn: Callable[[], Awaitable[Any]], n: int) -> dict[str, float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return {
        "n": n,
        "median_ms": round(statistics.median(samples), 2),
        "p90_ms": round(samples[min(n - 1, int(0.9 * n))], 2),
        "max_ms": round(samples[-1], 2),
    }


class _Handler(http.server.BaseHTTPRequestHandler):
    body = (
        "<html><head><title>T</title></head><body><article>"
        + "<p>Some text about lighthouses.</p>" * 300
        + "</article></body></html>"
    ).encode()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *a: object) -> None:
        pass


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from agentmem.envs.research import ToolBelt
    from agentmem.envs.research_corpus import LocalCorpus

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        _make_files(d)
        corpus_root = d / "corpus"
        corpus_root.mkdir()
        for i in range(40):
            (corpus_root / f"doc{i}.md").write_text(
                f"# Doc {i}\n" + f"Topic {i} talks about item {i * 7}.\n" * 30
            )
        corpus = LocalCorpus([corpus_root], cache_dir=d / "cache")
        t = time.perf_counter()
        await corpus.ensure_index()
        out["corpus_build_small_s"] = round(time.perf_counter() - t, 3)
        belt = ToolBelt(roots=[d], corpus=corpus)
        for name in (
            "macro.csv",
            "data.json",
            "page.html",
            "sheet.xlsx",
            "minutes.docx",
            "report.pdf",
            "photo.png",
            "tone.wav",
        ):
            out[f"read_file:{Path(name).suffix[1:]}"] = await _time(
                lambda name=name: belt.call("read_file", {"path": name}), args.n
            )
        code = "import pandas as pd\ndf = pd.read_csv(FILES['macro.csv'])\nprint(df.unemp.max())"
        out["run_python"] = await _time(lambda: belt.call("run_python", {"code": code}), max(3, args.n // 4))
        out["search_corpus:small"] = await _time(
            lambda: belt.call("search_corpus", {"query": "item 49"}), args.n
        )
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{srv.server_address[1]}/page"
        web_belt = ToolBelt(roots=[d], allow_web=True)
        out["fetch_url:local"] = await _time(lambda: web_belt.call("fetch_url", {"url": url}), args.n)
        srv.shutdown()
        if args.pydoc:
            from agentmem.eval.research_suite import corpus_dir

            docs = LocalCorpus([corpus_dir()])
            t = time.perf_counter()
            await docs.ensure_index()
            out["corpus_load_or_build_pydoc_s"] = round(time.perf_counter() - t, 3)
            out["pydoc_chunks"] = len(docs.chunks)
            doc_belt = ToolBelt(corpus=docs)
            out["search_corpus:pydoc"] = await _time(
                lambda: doc_belt.call("search_corpus", {"query": "math.isqrt new in version"}), args.n
            )
        if args.live:
            out["web_search:live"] = await _time(
                lambda: web_belt.call("web_search", {"query": "GAIA benchmark assistants"}), 3
            )
            out["fetch_url:live"] = await _time(
                lambda: web_belt.call("fetch_url", {"url": "https://docs.python.org/3/library/math.html"}), 3
            )
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="research tool latency")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--pydoc", action="store_true")
    parser.add_argument("--live", action="store_true")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=1))
