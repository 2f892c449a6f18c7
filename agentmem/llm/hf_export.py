"""Export an embedded GGUF model to a Hugging Face safetensors folder, once, for vLLM.

Why: vLLM wants an HF model folder, and we ship only GGUF weights. transformers (+ the `gguf`
package) can load a GGUF, but saving that object directly fails, so we rebuild a clean model from
its config, copy the dequantised weights in, and save safetensors + tokenizer into the cache.
"""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

from agentmem.errors import LLMUnavailableError

# v2: v1 folders kept the GGUF `quantization_config` in config.json, which vLLM rejects.
_DONE = ".agentmem-export-v2-complete"


def hf_folder_path(name: str, cache_dir: Path | None = None) -> Path:
    from agentmem.llm.models import models_dir

    return models_dir(cache_dir) / f"{name}-hf"


def export_hf_folder(name: str, *, cache_dir: Path | None = None, dtype: str = "bfloat16") -> Path:
    """Return the HF folder for embedded model `name`, exporting it from the GGUF on first use."""
    from agentmem.llm.models import _file_lock, ensure_model

    out = hf_folder_path(name, cache_dir)
    if (out / _DONE).is_file():
        return out
    gguf_path = ensure_model(name, cache_dir=cache_dir)
    try:
        import accelerate  # noqa: F401  (transformers needs both to read GGUF)
        import gguf  # noqa: F401
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise LLMUnavailableError(
            f"exporting {name} for vLLM needs transformers, torch, gguf and accelerate: pip install gguf accelerate ({exc})"
        ) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(out.parent / f"{out.name}.lock"):
        if (out / _DONE).is_file():
            return out
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            src = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
            config = copy.deepcopy(src.config)
            if hasattr(config, "quantization_config"):  # weights are dequantised: not GGUF any more
                del config.quantization_config
            model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
            missing, unexpected = model.load_state_dict(src.state_dict(), strict=False)
            real_missing = [k for k in missing if "lm_head" not in k]  # tied embeddings
            if real_missing or unexpected:
                raise LLMUnavailableError(
                    f"GGUF export of {name}: missing {real_missing[:5]}, unexpected {unexpected[:5]}"
                )
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
            tokenizer.save_pretrained(tmp)
            del src, model
            (tmp / _DONE).write_text(gguf_path.name)
            shutil.rmtree(out, ignore_errors=True)
            os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out
