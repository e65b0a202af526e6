# One entry point for set-up, tests and the demo.
#   make demo   set up if needed, then train + evaluate on the synthetic dataset (CPU, minutes)
#   make demo-gres  the gRefCOCO demo: no-target output and GRES metrics on synthetic gRefCOCO
#   make pretrain  contrastive pretraining of the demo's tiny CLIP (stage one; PRETRAIN_ARGS)
#   make test   create .venv if missing, install the lock + asda (editable), lint, pytest

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.asda-installed

.PHONY: setup test lint demo demo-gres pretrain lock clean demo-env web-demo

setup: $(STAMP)

$(STAMP): requirements/lock.txt setup.py requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --no-deps -r requirements/lock.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

demo: $(STAMP)
	PYTHONUNBUFFERED=1 $(BIN)/python tools/demo_synthetic.py $(DEMO_ARGS)

demo-gres: $(STAMP)
	PYTHONUNBUFFERED=1 $(BIN)/python tools/demo_synthetic_gres.py $(DEMO_ARGS)

pretrain: $(STAMP)
	PYTHONUNBUFFERED=1 $(BIN)/python tools/pretrain_tiny_clip.py $(PRETRAIN_ARGS)

# The web demo's environment: .venv-demo layered over .venv (its site-packages on the path
# after the demo lock's packages: gradio, selenium and the pillow<13 gradio 6 requires).
# projects/ goes on the path too: .venv's editable install of asda is a finder that a path
# added this way does not run.
DEMO_VENV ?= .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.asda-demo-installed

demo-env: $(DEMO_STAMP)

$(DEMO_STAMP): $(STAMP) requirements/demo-lock.txt
	test -x $(DEMO_VENV)/bin/python || $(PYTHON) -m venv $(DEMO_VENV)
	$(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' > \
	  "$$($(DEMO_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/asda-main-venv.pth"
	echo "$(CURDIR)/projects" >> \
	  "$$($(DEMO_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/asda-main-venv.pth"
	$(DEMO_VENV)/bin/python -m pip install -q --no-deps -r requirements/demo-lock.txt
	touch $(DEMO_STAMP)

web-demo: $(DEMO_STAMP)
	$(DEMO_VENV)/bin/python demo/gradio_demo.py $(WEB_DEMO_ARGS)

# pip's output goes to a file first, so that a pip that fails (its exit status would hide
# behind grep's in a pipe) or lists nothing to pin leaves the lock as it was; the lock is
# replaced whole, and the files beside it go however the recipe ends.
lock: $(STAMP)
	trap 'rm -f requirements/lock.txt.freeze requirements/lock.txt.new' EXIT; \
	$(BIN)/python -m pip freeze --all --exclude-editable > requirements/lock.txt.freeze && \
	{ echo "# Exact stack installed by 'make' and CI (docs/design.md, Stack). Regenerate with 'make lock'."; \
	  grep -v -e '^asda' -e '^pip==' requirements/lock.txt.freeze || \
	  { echo "make lock: pip freeze listed nothing to pin" >&2; exit 1; }; \
	} > requirements/lock.txt.new && \
	mv requirements/lock.txt.new requirements/lock.txt

clean:
	rm -rf $(VENV) $(DEMO_VENV) .pytest_cache .ruff_cache
