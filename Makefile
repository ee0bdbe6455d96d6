# Churn Radar: the two set-up commands are `make report` and `make test`.
# Neither needs conda: the first call creates .venv with the machine's python3 and pip.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
AS_OF  ?= 2026-11-01
DATA   ?= data/sample
LANG_REPORT ?= fr
SCORES ?= reports/scores-$(AS_OF).csv
# PDF=1: also print index.html and each client page to reports/<as-of>/pdf/ (needs chromium)
PDF    ?=
# CHECK=1: open every page in headless Chromium (images load, no console error, language) and
# keep screenshots in reports/<as-of>/screenshots/
CHECK  ?=
# jupyter refuses to start as root without --allow-root (containers, CI machines)
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help venv report test lab sample bench clean-reports lint score validate

help:
	@echo "make report   run the monthly report on $(DATA) as of $(AS_OF) into reports/$(AS_OF)/"
	@echo "               (PDF=1 adds the PDFs, CHECK=1 a browser check with screenshots;"
	@echo "                LANG_REPORT=en, AS_OF=..., DATA=... change the run)"
	@echo "make validate check the export in DATA=$(DATA): usable rows, quarantine, detected formats"
	@echo "make score    score the active customers of DATA=$(DATA) as of $(AS_OF) into $(SCORES)"
	@echo "make test     run the test suite (unit tests and notebooks on the sample)"
	@echo "make lab      open JupyterLab on notebooks/ with the 'churn-radar' kernel"
	@echo "make sample   regenerate data/sample (3,000 contractual customers, seed 42)"
	@echo "make bench    run the benchmark scripts (print timings and memory)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip >/dev/null
	$(BIN)/python -m pip install -e ".[lab,test,dev,spark]"
	$(BIN)/python -m ipykernel install --sys-prefix --name churn-radar --display-name "Python (churn-radar)"
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/churn-radar report $(DATA) --as-of $(AS_OF) --out reports --lang $(LANG_REPORT) --force $(if $(PDF),--pdf,) $(if $(CHECK),--check,)

validate: $(STAMP)
	$(BIN)/churn-radar validate $(DATA)

score: $(STAMP)
	mkdir -p $(dir $(SCORES))
	$(BIN)/churn-radar score $(DATA) --as-of $(AS_OF) --out $(SCORES)

test: $(STAMP)
	$(BIN)/python -m pytest

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/ $(ALLOW_ROOT)

sample: $(STAMP)
	$(BIN)/churn-radar sample --customers 3000 --seed 42 --business contractual --months 24 --end 2026-10-31 --out data/sample

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_signals.py
	$(BIN)/python benchmarks/bench_score.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean-reports:
	rm -rf reports/20*
