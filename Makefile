# One entry point for set-up, tests and the demo.
#   make demo   set up if needed, then train + evaluate on the synthetic dataset (CPU, minutes)
#   make test   create .venv if missing, install the lock + asda (editable), lint, pytest

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.asda-installed

.PHONY: setup test lint demo lock clean

setup: $(STAMP)

$(STAMP): requirements/lock.txt setup.py requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements/lock.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

demo: $(STAMP)
	PYTHONUNBUFFERED=1 $(BIN)/python tools/demo_synthetic.py $(DEMO_ARGS)

lock: $(STAMP)
	{ echo "# Exact stack installed by 'make' and CI (docs/design.md, Stack). Regenerate with 'make lock'."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^asda'; } > requirements/lock.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
