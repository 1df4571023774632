# The two commands of the README. Both create .venv on first use and reinstall
# only when the package metadata changes (the stamp file depends on it).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
export MUJOCO_GL ?= egl

.PHONY: demo test setup lint clean

demo: $(STAMP)
	$(VENV)/bin/worldgym demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest

setup: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

$(STAMP): setup.cfg pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) runs *.egg-info
