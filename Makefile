# The two commands of the README. Both create .venv on first use and reinstall
# only when the package metadata changes (the stamp file depends on it).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
# The outside suites pin their own MuJoCo (Meta-World: 3.3.0), so they live in a
# second virtual environment beside the first.
SUITES_VENV := .venv-suites
SUITES_STAMP := $(SUITES_VENV)/.installed
export MUJOCO_GL ?= egl

.PHONY: demo test test-suites setup lint clean

demo: $(STAMP)
	$(VENV)/bin/worldgym demo

# Two processes (one per core), each test file whole in one of them.
test: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile

# The outside suites' worked examples (Meta-World, Gymnasium-Robotics), and the
# front door they go through, in their own environment.
test-suites: $(SUITES_STAMP)
	$(SUITES_VENV)/bin/python -m pytest tests/test_suites.py tests/test_front_door.py

setup: $(STAMP)

# Lint and the formatter (ruff format; a "# fmt: skip" keeps a hand-aligned statement).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

$(STAMP): setup.cfg pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(SUITES_STAMP): setup.cfg pyproject.toml
	test -x $(SUITES_VENV)/bin/python || $(PYTHON) -m venv $(SUITES_VENV)
	$(SUITES_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SUITES_VENV)/bin/python -m pip install --quiet -e '.[dev,suites]'
	touch $(SUITES_STAMP)

clean:
	rm -rf $(VENV) $(SUITES_VENV) runs *.egg-info
