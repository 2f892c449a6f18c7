"""The research tool belt on real local inputs: files of every supported kind, a local HTTP server for
fetch, a small document corpus with the real embedder, the real sandbox for Python."""

from __future__ import annotations

import http.server
import json
import os
import threading
import wave
from pathlib import Path

import pytest

from agentmem.envs.base import UNTRUSTED_CLOSE, UNTRUSTED_OPEN
from agentmem.envs.research import AnswerAction, ResearchEnv, ResearchEnvConfig, ToolBelt, ToolCallAction
from agentmem.envs.research_corpus import CorpusSearchArgs, LocalCorpus, chunk_text, rrf_fuse, tokenize
from agentmem.envs.research_tools import (
    FetchArgs,
    ReadFileArgs,
    WebSearchArgs,
    build_search_request,
    fetch_url,
    parse_search_results,
    read_file,
    web_search,
)
from agentmem.errors import InvalidActionError, ToolError
from agentmem.types import Task


# --- files ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("files")
    (d / "small.csv").write_text("city,pop\nOslo,709000\nBergen,291000\n")
    (d / "big.csv").write_text("i,sq\n" + "".join(f"{i},{i * i}\n" for i in range(3000)))
    (d / "data.json").write_text(json.dumps({"planets": ["Mercury", "Venus"], "count": 2}))
    (d / "notes.md").write_text("# Notes\nThe launch code is BLUE-7.\n")
    (d / "page.html").write_text(
        "<html><head><title>Harbour</title></head><body><nav>menu</nav><main><h1>Harbour</h1>"
        "<p>The harbour was built in 1871 by the town council after a long debate about its cost.</p>"
        "</main><script>var x=1;</script></body></html>"
    )
    (d / "blob.bin.txt").write_bytes(b"\x00\x01\x02binary")
    (d / "weird.xyz").write_text("?")
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Sales"
    ws.append(["month", "units"])
    ws.append(["Jan", 12])
    ws.append(["Feb", 30])
    wb.create_sheet("Empty")
    wb.save(d / "sales.xlsx")
    (d / "broken.xlsx").write_bytes(b"not a zip file")
    import docx

    doc = docx.Document()
    doc.add_paragraph("Minutes of the meeting: budget approved.")
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "item", "cost"
    table.cell(1, 0).text, table.cell(1, 1).text = "roof", "1200"
    doc.save(d / "minutes.docx")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    fig.text(0.1, 0.5, "Quarterly revenue was 4.2 million")
    fig.savefig(d / "report.pdf")
    plt.close(fig)
    from PIL import Image

    Image.new("RGB", (32, 16), "red").save(d / "pixel.png")
    with wave.open(str(d / "tone.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 12000)
    return d


@pytest.mark.parametrize(
    ("name", "kind", "needle"),
    [
        ("small.csv", "csv", "Bergen,291000"),
        ("data.json", "json", "Venus"),
        ("notes.md", "text", "BLUE-7"),
        ("page.html", "html", "built in 1871"),
        ("sales.xlsx", "xlsx", "Feb,30"),
        ("minutes.docx", "docx", "roof,1200"),
        ("report.pdf", "pdf", "Quarterly revenue was 4.2 million"),
        ("pixel.png", "image", "32x16"),
        ("tone.wav", "audio", "1.5 s, 1 channel(s), 8000 Hz"),
    ],
)
def test_read_file_kinds(files: Path, name: str, kind: str, needle: str) -> None:
    res = read_file(ReadFileArgs(path=name), [files])
    assert res.kind == kind
    assert needle in res.text
    assert res.meta["bytes"] == (files / name).stat().st_size


def test_read_file_html_drops_scripts_and_big_csv_is_summarised(files: Path) -> None:
    assert "var x" not in read_file(ReadFileArgs(path="page.html"), [files]).text
    res = read_file(ReadFileArgs(path="big.csv", max_chars=2000), [files])
    assert res.meta["rows"] == 3000
    assert "too large to show whole" in res.text and "2999" not in res.text.split("Summary:")[0]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("missing.csv", "no such file"),
        ("weird.xyz", "unsupported file type"),
        ("broken.xlsx", "could not read broken.xlsx"),
        ("blob.bin.txt", "looks binary"),
        ("/etc/passwd", "outside the task's readable folders"),
        ("../../../../etc/passwd", "no such file"),
    ],
)
def test_read_file_errors(files: Path, path: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        read_file(ReadFileArgs(path=path), [files])


def test_read_file_xlsx_unknown_sheet(files: Path) -> None:
    with pytest.raises(ToolError, match="no sheet 'Nope'"):
        read_file(ReadFileArgs(path="sales.xlsx", sheet="Nope"), [files])
    assert "Empty" in read_file(ReadFileArgs(path="sales.xlsx", sheet="Empty"), [files]).text


# --- fetch over a local HTTP server ---------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    pages = {
        "/article": ("text/html; charset=utf-8", (
            "<html><head><title>Lighthouse history</title></head><body><nav>Home | About</nav>"
            "<article><h1>Lighthouse history</h1>"
            + "".join(f"<p>Paragraph {i}: the keeper logged the storm of 18{i:02d} in detail.</p>" for i in range(12))
            + "</article><footer>copyright</footer></body></html>").encode()),
        "/plain": ("text/plain", b"just text, 42 apples"),
        "/bin": ("application/octet-stream", b"\x00\x01"),
        "/empty": ("text/html", b"<html><body><script>1</script></body></html>"),
    }  # fmt: skip

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/plain")
            self.end_headers()
            return
        if self.path not in self.pages:
            self.send_error(404)
            return
        ctype, body = self.pages[self.path]
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


async def test_fetch_html_main_text(server: str) -> None:
    res = await fetch_url(FetchArgs(url=f"{server}/article"))
    assert res.status == 200 and res.content_type == "text/html"
    assert "storm of 1805" in res.text
    assert "Home | About" not in res.text
    assert res.title == "Lighthouse history"


async def test_fetch_plain_and_redirect(server: str) -> None:
    res = await fetch_url(FetchArgs(url=f"{server}/redirect"))
    assert res.url.endswith("/plain") and res.text == "just text, 42 apples"


@pytest.mark.parametrize(("path", "message"), [("/nope", "HTTP 404"), ("/bin", "unsupported content type")])
async def test_fetch_errors(server: str, path: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        await fetch_url(FetchArgs(url=f"{server}{path}"))


async def test_fetch_connection_refused_and_bad_scheme() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ToolError, match="fetch"):
        await fetch_url(FetchArgs(url=f"http://127.0.0.1:{port}/"), timeout_s=3)
    with pytest.raises(ValueError, match="only http"):
        FetchArgs(url="file:///etc/passwd")


# --- web search: request building and parsing offline, live only on opt-in ---------------------------
def test_search_request_and_parsing() -> None:
    args = WebSearchArgs(query="  GAIA   benchmark\n", max_results=3)
    req = build_search_request(args)
    assert req == {
        "query": "GAIA benchmark", "region": "us-en", "safesearch": "moderate", "max_results": 3, "backend": "auto",
    }  # fmt: skip
    raw = [
        {
            "title": "GAIA  paper",
            "href": "https://arxiv.org/abs/2311.12983",
            "body": "A benchmark\nfor assistants",
        },
        {"title": "dup", "href": "https://arxiv.org/abs/2311.12983", "body": "same url"},
        {"title": "no url", "body": "dropped"},
        {"title": "ftp", "href": "ftp://x", "body": "dropped"},
        {"title": "HF", "href": "https://huggingface.co/gaia-benchmark", "body": "dataset"},
        {"title": "third", "href": "https://example.org/3", "body": ""},
        {"title": "fourth", "href": "https://example.org/4", "body": ""},
    ]
    res = parse_search_results(raw, "GAIA benchmark", limit=3)
    assert [r.url for r in res.results] == [
        "https://arxiv.org/abs/2311.12983", "https://huggingface.co/gaia-benchmark", "https://example.org/3",
    ]  # fmt: skip
    assert res.results[0].title == "GAIA paper" and res.results[0].snippet == "A benchmark for assistants"
    with pytest.raises(ValueError):
        WebSearchArgs(query="   ")


@pytest.mark.live
@pytest.mark.skipif(
    os.environ.get("AGENTMEM_LIVE_TESTS") != "1", reason="live web test: set AGENTMEM_LIVE_TESTS=1"
)
async def test_web_search_live() -> None:
    res = await web_search(WebSearchArgs(query="Python programming language", max_results=3))
    assert res.results and all(r.url.startswith("http") for r in res.results)


# --- local corpus ---------------------------------------------------------------------------------
class CountingEmbedder:
    """The real default embedder, counting how many texts it embedded (to observe the disk cache)."""

    def __init__(self) -> None:
        from agentmem.memory_store.embedders import default_embedder

        self.inner = default_embedder()
        self.name = self.inner.name
        self.texts = 0

    def embed(self, texts):
        self.texts += len(texts)
        return self.inner.embed(texts)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("corpus")
    (d / "volcano.html").write_text(
        "<html><head><title>Volcanoes</title></head><body><div role='main'><h1>Volcanoes</h1>"
        "<p>Mount Etna on Sicily is one of the most active volcanoes in the world.</p>"
        "<p>Its eruptions have been recorded since 1500 BC.</p></div></body></html>"
    )
    (d / "baking.md").write_text("# Sourdough\nA sourdough starter needs flour, water and patience.\n")
    (d / "api.txt").write_text("The function frobnicate_widget(x) returns x squared; added in version 4.2.\n")
    (d / "_static").mkdir()
    (d / "_static" / "skip.txt").write_text("frobnicate_widget duplicate in a hidden folder")
    return d


async def test_corpus_search_fuses_dense_and_bm25_and_caches(corpus_dir: Path, tmp_path: Path) -> None:
    emb = CountingEmbedder()
    corpus = LocalCorpus([corpus_dir], embedder=emb, cache_dir=tmp_path)
    res = await corpus.search(CorpusSearchArgs(query="which Italian volcano erupts often", k=2))
    assert res.hits[0].path == "volcano.html" and res.hits[0].title == "Volcanoes"
    assert res.hits[0].dense_rank == 1
    exact = await corpus.search(CorpusSearchArgs(query="frobnicate_widget", k=3))
    assert exact.hits[0].path == "api.txt" and exact.hits[0].bm25_rank == 1
    assert all(not h.path.startswith("_") for h in exact.hits)
    built = emb.texts
    assert built >= 3

    emb2 = CountingEmbedder()
    again = LocalCorpus([corpus_dir], embedder=emb2, cache_dir=tmp_path)
    res2 = await again.search(CorpusSearchArgs(query="which Italian volcano erupts often", k=2))
    assert emb2.texts == 1  # only the query: chunks came from the on-disk cache
    assert [h.path for h in res2.hits] == [h.path for h in res.hits]

    fp_before = again.fingerprint()
    (corpus_dir / "new.txt").write_text("Penguins live in the southern hemisphere.")
    try:
        assert again.fingerprint() != fp_before
        res3 = await again.search(CorpusSearchArgs(query="where do penguins live", k=1))
        assert res3.hits[0].path == "new.txt"
    finally:
        (corpus_dir / "new.txt").unlink()


def test_corpus_errors_and_helpers(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        LocalCorpus([tmp_path / "nope"])
    empty = LocalCorpus([tmp_path], embedder=CountingEmbedder(), cache_dir=tmp_path)
    with pytest.raises(ToolError, match="holds no"):
        empty.files()
    assert rrf_fuse([[1, 2, 3], [3, 1]])[0][0] == 1
    assert rrf_fuse([[1, 2, 3], [3, 1]])[1][0] == 3
    assert "isqrt" in tokenize("math.isqrt(n)") and "math.isqrt" in tokenize("math.isqrt(n)")
    pieces = chunk_text("\n".join(f"line {i} " + "x" * 50 for i in range(40)), size=300, overlap=40)
    assert len(pieces) > 5 and all(len(p) <= 300 + 60 for p in pieces)
    assert "line 39" in pieces[-1]


# --- python in the sandbox, and the env -----------------------------------------------------------
async def test_run_python_reads_attachment(files: Path) -> None:
    belt = ToolBelt(roots=[files])
    out = await belt.call(
        "run_python",
        {"code": "import pandas as pd\ndf = pd.read_csv(FILES['small.csv'])\nprint(int(df['pop'].sum()))"},
    )
    assert "1000000" in out.text
    bare = await belt.call(
        "run_python", {"code": "import pandas as pd\nprint(len(pd.read_csv('small.csv')))"}
    )
    assert "2" in bare.text  # a bare attachment name resolves to the attachment
    opened = await belt.call("run_python", {"code": "print(open('small.csv').readline().strip())"})
    assert "city,pop" in opened.text
    with pytest.raises(ToolError, match="ZeroDivisionError"):
        await belt.call("run_python", {"code": "print(1/0)"})
    with pytest.raises(ToolError, match="printed nothing"):
        await belt.call("run_python", {"code": "x = 1"})
    with pytest.raises(ToolError, match="run_python"):
        await belt.call("run_python", {"code": "import socket\nprint(socket.gethostname())"})
    with pytest.raises(ToolError, match=r"importable: .*pandas"):  # the model learns what it may use
        await belt.call("run_python", {"code": "import os\nprint(os.getcwd())"})
    buffered = "import io\nimport pandas as pd\nprint(len(pd.read_csv(io.StringIO('a,b\\n1,2\\n3,4'))))"
    assert "2" in (await belt.call("run_python", {"code": buffered})).text
    with pytest.raises(ToolError, match="not allowed"):  # io's files are audited like open's
        await belt.call("run_python", {"code": "import io\nio.open('/tmp/agentmem-x', 'w').write('x')"})


async def test_research_env_steps(files: Path, corpus_dir: Path, tmp_path: Path) -> None:
    corpus = LocalCorpus([corpus_dir], embedder=CountingEmbedder(), cache_dir=tmp_path)
    env = ResearchEnv(ResearchEnvConfig(max_tool_calls=3, max_chars=300), corpus=corpus)
    task = Task(
        id="t1",
        env="research",
        goal="q",
        payload={"question": "Population?", "file_path": str(files / "small.csv")},
    )
    obs = await env.reset(task)
    assert "Attached file: small.csv" in obs.text and "read_file" in obs.data["tools"]
    assert "web_search" not in obs.data["tools"]  # web is off unless configured

    r = await env.step(ToolCallAction(tool="read_file", args={"path": "small.csv"}))
    assert r.observation.text.startswith(UNTRUSTED_OPEN) and r.observation.text.endswith(UNTRUSTED_CLOSE)
    assert "Oslo" in r.observation.text and r.info["ok"] and not r.done

    r = await env.step(ToolCallAction(tool="read_file", args={"path": "big.csv", "max_chars": 5}))
    assert r.observation.error and "bad arguments" in r.observation.error and r.info["ok"] is False

    r = await env.step(ToolCallAction(tool="web_search", args={"query": "x"}))
    assert "not available" in (r.observation.error or "")

    r = await env.step(ToolCallAction(tool="search_corpus", args={"query": "volcano"}))
    assert "budget" in (r.observation.error or "")  # 3 calls spent

    done = await env.step(AnswerAction(answer="1000000", verified=True))
    assert done.done and done.outcome is not None
    assert done.outcome.source == "verifier" and done.outcome.success is True
    assert len(done.info["tool_calls"]) == 3
    with pytest.raises(InvalidActionError):
        await env.step(Task(id="x", env="e", goal="g"))
    await env.close()


async def test_research_env_output_is_bounded(files: Path) -> None:
    env = ResearchEnv(ResearchEnvConfig(max_chars=200))
    await env.reset(Task(id="t", env="research", goal="q", payload={"file_path": str(files / "big.csv")}))
    r = await env.step(ToolCallAction(tool="read_file", args={"path": "big.csv"}))
    assert r.info["truncated"] is True and "truncated" in r.observation.text
    assert len(r.observation.text) < 400
    with pytest.raises(ToolError, match="missing"):
        await env.reset(
            Task(id="t", env="research", goal="q", payload={"file_path": str(files / "gone.csv")})
        )
