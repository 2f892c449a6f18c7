"""GPU check for the LLM layer (run on a CUDA machine; prints one JSON object, never raises).

Sections, each independent and reported as ok / skipped / error with the reason:
  env           torch, CUDA, GPU name
  faiss_gpu     a flat-IP search on the GPU when faiss has GPU support
  store_index   the memory store's VectorIndex on the GPU: upsert, delete, search, save/load, vs CPU
  vllm_engine   VLLMEngineLLM: plain answer + guided-JSON object (in-process engine)
  vllm_served   `vllm.entrypoints.openai.api_server` + OpenAICompatLLM round trip (json_schema mode)
The model is `--model`: an HF folder, or an embedded name (exported once from its GGUF; needs the
weight chunks and `gguf` installed). vLLM's wheel is far larger than what a device call can carry,
so on a bare device image the vllm sections report the missing package. faiss: see bench/gpu/faiss_check.sh.
    python bench/gpu_check.py --model /path/to/hf-folder
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import traceback
from collections.abc import Callable
from typing import Any


def section(fn: Callable[[], Any]) -> dict:
    started = time.perf_counter()
    try:
        result = fn()
        status = "skipped" if isinstance(result, dict) and result.get("skipped") else "ok"
        return {"status": status, "seconds": round(time.perf_counter() - started, 2), "result": result}
    except Exception as exc:
        return {
            "status": "error",
            "seconds": round(time.perf_counter() - started, 2),
            "error": f"{type(exc).__name__}: {exc}",
            "trace": traceback.format_exc(limit=4)[-1500:],
        }


def env() -> dict:
    import torch

    out = {"torch": torch.__version__, "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        out |= {"gpu": torch.cuda.get_device_name(0), "cuda_version": torch.version.cuda}
    return out


def faiss_gpu() -> dict:
    try:
        import faiss
    except ImportError:
        return {"skipped": "faiss not installed"}
    import numpy as np

    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() == 0:
        return {"skipped": f"faiss {faiss.__version__} has no GPU support here"}
    rng = np.random.default_rng(0)
    base = rng.standard_normal((100_000, 384), dtype=np.float32)
    faiss.normalize_L2(base)
    index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, faiss.IndexFlatIP(384))
    index.add(base)
    started = time.perf_counter()
    _, ids = index.search(base[:1000], 5)
    return {
        "gpus": faiss.get_num_gpus(),
        "search_1000x100k_ms": round((time.perf_counter() - started) * 1000, 1),
        "self_recall": float((ids[:, 0] == np.arange(1000)).mean()),
    }


def store_index() -> dict:
    """The store's own index class with use_gpu=True, checked against its CPU flat twin."""
    import tempfile
    from pathlib import Path

    import numpy as np

    try:
        from agentmem.memory_store.vector_index import VectorIndex, gpu_available
    except ImportError:  # a bare device image: the package is not installed, import the module directly
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from memory_store.vector_index import VectorIndex, gpu_available
    if not gpu_available():
        return {"skipped": "faiss sees no GPU"}
    rng = np.random.default_rng(1)
    base = rng.standard_normal((50_000, 384), dtype=np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    seqs = np.arange(1, len(base) + 1)
    gpu, cpu = VectorIndex(384, use_gpu=True), VectorIndex(384, hnsw_threshold=10**9, use_gpu=False)
    for index in (gpu, cpu):
        index.upsert(seqs, base)
        index.remove(list(range(1, 2001)))  # past the compaction threshold: exercises the GPU rebuild
    queries = base[2000:2500] + 0.05 * rng.standard_normal((500, 384), dtype=np.float32)
    timings = {}
    results = {}
    for name, index in (("gpu", gpu), ("cpu", cpu)):
        started = time.perf_counter()
        results[name] = index.search(queries, 10)[0]
        timings[name] = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.npz"
        gpu.save(path, {})
        loaded, _ = VectorIndex.load(path, 10**9, use_gpu=True)
        reloaded = loaded.search(queries, 10)[0]
    return {
        "kind": gpu.kind,
        "n_live": gpu.n_live,
        "top10_agreement_gpu_vs_cpu": float((results["gpu"] == results["cpu"]).mean()),
        "top1_is_query_source": float((results["gpu"][:, 0] == seqs[2000:2500]).mean()),
        "reload_agreement": float((reloaded == results["gpu"]).mean()),
        "search_500_queries_cpu_over_gpu": round(timings["cpu"] / max(timings["gpu"], 1e-9), 1),
    }


def _no_vllm() -> dict | None:
    """Skip before importing the package (and its pydantic): a bare device image has neither."""
    import importlib.util

    return None if importlib.util.find_spec("vllm") else {"skipped": "vllm is not installed"}


def vllm_engine(model: str) -> dict:
    if skip := _no_vllm():
        return skip
    from pydantic import BaseModel

    from agentmem.llm.vllm_engine import VLLMEngineLLM, vllm_unavailable_reason

    reason = vllm_unavailable_reason()
    if reason:
        return {"skipped": reason}

    class Capital(BaseModel):
        country: str
        capital: str

    async def go() -> dict:
        llm = VLLMEngineLLM(model, max_tokens=64, max_model_len=4096)
        plain = await llm.chat([{"role": "user", "content": "What is 2+3? Reply with the number only."}])
        obj = await llm.chat([{"role": "user", "content": "Capital of France?"}], schema=Capital)
        batch_started = time.perf_counter()
        outs = await asyncio.gather(
            *(
                llm.chat([{"role": "user", "content": f"Count from {i} to {i + 20}."}], max_tokens=64)
                for i in range(32)
            )
        )
        batch_s = time.perf_counter() - batch_started
        tokens = sum(o.usage.completion_tokens for o in outs)
        return {
            "plain": plain.text,
            "structured": obj.parsed.model_dump(),
            "attempts": obj.attempts,
            "batch32_tok_per_s": round(tokens / batch_s, 1),
        }

    return asyncio.run(go())


def vllm_served(model: str) -> dict:
    if skip := _no_vllm():
        return skip
    from pydantic import BaseModel

    from agentmem.llm.openai_compat import OpenAICompatLLM
    from agentmem.llm.serve import serving
    from agentmem.llm.vllm_engine import vllm_unavailable_reason

    reason = vllm_unavailable_reason()
    if reason:
        return {"skipped": reason}

    class Capital(BaseModel):
        country: str
        capital: str

    with serving("vllm", model, n_ctx=4096, timeout_s=600) as srv:
        llm = OpenAICompatLLM(srv.model, base_url=srv.base_url, max_tokens=64, timeout_s=300)
        out = llm.chat_sync([{"role": "user", "content": "Capital of France?"}], schema=Capital)
        return {"base_url": srv.base_url, "structured": out.parsed.model_dump(), "mode": llm.structured_mode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    args = parser.parse_args()
    report = {
        "env": section(env),
        "faiss_gpu": section(faiss_gpu),
        "store_index": section(store_index),
        "vllm_engine": section(lambda: vllm_engine(args.model)),
    }
    report["vllm_served"] = section(lambda: vllm_served(args.model))
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
