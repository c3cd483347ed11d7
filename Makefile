# Two commands for a newcomer: `make demo` and `make test`. Both create .venv and install.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# MediaPipe pins numpy<2: it lives in its own small venv, used as a subprocess by dalnb.photos
MP_VENV := .venv-mediapipe
MP_STAMP := $(MP_VENV)/.installed-0.10.21

.PHONY: demo reference test lint bench-body gpu-check clean-runs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

$(MP_STAMP):
	test -x $(MP_VENV)/bin/python || $(PY) -m venv $(MP_VENV)
	$(MP_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MP_VENV)/bin/python -m pip install --quiet mediapipe==0.10.21
	touch $(MP_STAMP)

demo: $(STAMP) $(MP_STAMP)
	$(BIN)/python -m dalnb.pipeline --preset small --run-dir runs/small

# The reference study: preset `cpu` (four times the renders of `small`), within two hours on 2 CPU cores;
# writes reports/reference-cpu/ and the README's results block.
reference: $(STAMP) $(MP_STAMP)
	$(BIN)/python -m dalnb.pipeline --preset cpu --run-dir runs/reference-cpu --readme

test: $(STAMP) $(MP_STAMP)
	$(BIN)/python -m ruff check dalnb tests notebooks
	$(BIN)/python -m ruff format --check dalnb tests
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/python -m ruff check dalnb tests notebooks
	$(BIN)/python -m ruff format --check dalnb tests

bench-body: $(STAMP)
	$(BIN)/python -m dalnb.bench body

# On a machine with one NVIDIA GPU: every GPU benchmark and a smoke run of the `full` preset, within 8 minutes.
gpu-check: $(STAMP)
	bash scripts/gpu_check.sh

clean-runs:
	rm -rf runs reports/*/
