# Both entry points bootstrap .venv from nothing, so a fresh clone needs no other step.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The Bond reader is compiled at install, so editing it reinstalls too.
$(STAMP): pyproject.toml setup.py src/diagscope/decode/bond_reader.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python captures/make_samples.py --out captures
	rm -f out/demo.sqlite out/demo.sqlite-wal out/demo.sqlite-shm
	$(BIN)/diagscope replay captures/*.mitm --db out/demo.sqlite --label "demo samples" \
	    --scenario scenarios/word-neither.yaml
	$(BIN)/diagscope report --db out/demo.sqlite --out out/report.html
	$(BIN)/diagscope report --db out/demo.sqlite --out out/rapport.html --lang nl
	$(BIN)/diagscope export --db out/demo.sqlite --out out/evidence.zip
	$(BIN)/diagscope verify out/evidence.zip
	@echo
	@echo "Database:        out/demo.sqlite"
	@echo "Report:          out/report.html (Dutch: out/rapport.html)"
	@echo "Evidence bundle: out/evidence.zip"
	@echo "Next: $(BIN)/diagscope findings --db out/demo.sqlite"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) out
