PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORKSPACE ?= demo-workspace
SAMPLE ?= demo-data

.PHONY: install browser demo test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

.venv: $(VENV)/.installed

demo: install
	rm -rf $(WORKSPACE) $(SAMPLE)
	$(BIN)/patron sample synthetic --out $(SAMPLE) --customers 50000 --seed 7
	$(BIN)/patron init $(WORKSPACE) --timezone America/New_York --currency USD --phone-region US
	$(BIN)/patron --workspace $(WORKSPACE) load products $(SAMPLE)/products.csv
	$(BIN)/patron --workspace $(WORKSPACE) load customers $(SAMPLE)/customers.csv
	$(BIN)/patron --workspace $(WORKSPACE) load orders $(SAMPLE)/orders.csv
	$(BIN)/patron --workspace $(WORKSPACE) load lines $(SAMPLE)/order_lines.csv
	$(BIN)/patron --workspace $(WORKSPACE) load events $(SAMPLE)/events.csv
	$(BIN)/patron --workspace $(WORKSPACE) status
	$(BIN)/patron --workspace $(WORKSPACE) kpis
	$(BIN)/patron --workspace $(WORKSPACE) fit
	$(BIN)/patron --workspace $(WORKSPACE) predict
	$(BIN)/patron --workspace $(WORKSPACE) experiment create winback --audience stage=defecting \
		--holdout 10 --start 2024-09-01 --metric revenue --window 60
	$(BIN)/patron --workspace $(WORKSPACE) experiment analyze winback --cuped
	$(BIN)/patron --workspace $(WORKSPACE) insights timing
	$(BIN)/patron --workspace $(WORKSPACE) insights backtest
	$(BIN)/patron --workspace $(WORKSPACE) offers --out $(WORKSPACE)/offers.csv
	$(BIN)/patron --workspace $(WORKSPACE) report --out $(WORKSPACE)/report.html

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# The report tests drive Debian's Chromium headless; install it when it is missing.
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# Two workers: the suite takes about 6 minutes on 2 cores instead of 10. Test modules stay
# whole on one worker (their shared workspaces are module fixtures).
test: lint browser
	$(BIN)/pytest -n 2 --dist loadscope

bench: install
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(WORKSPACE) $(SAMPLE)
