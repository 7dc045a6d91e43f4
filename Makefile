# The two commands a new machine needs are `make demo` and `make test`; the rest help.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint format migrate benchmark clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m local_stack.demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Apply the tracking database migrations to the database of connection campaign_db.
migrate: $(STAMP)
	PYTHONPATH=plugins $(BIN)/python -m campaign_handoff.migrations

benchmark: $(STAMP)
	PYTHONPATH=plugins:. $(BIN)/python benchmarks/timetable_benchmark.py
	PYTHONPATH=plugins:. $(BIN)/python benchmarks/transfer_benchmark.py
	PYTHONPATH=plugins:. $(BIN)/python benchmarks/dag_parse_benchmark.py

clean:
	rm -rf .local
