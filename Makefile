# Two commands set everything up on a fresh machine:
#   make demo   - create .venv, install lstmcli, run window -> train -> predict -> rollout
#   make test   - create .venv, install lstmcli with test tools, run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo_out

.PHONY: demo test lint clean

$(BIN)/lstmcli: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

demo: $(BIN)/lstmcli
	@mkdir -p $(DEMO)
	$(BIN)/lstmcli window  sample_data/airline_passengers.csv --config configs/quickstart.yaml --out $(DEMO)/windows.npz
	$(BIN)/lstmcli train   sample_data/airline_passengers.csv --config configs/quickstart.yaml --out $(DEMO)/run --force
	$(BIN)/lstmcli predict sample_data/airline_passengers.csv --model $(DEMO)/run --out $(DEMO)/predictions.csv
	$(BIN)/lstmcli rollout sample_data/airline_passengers.csv --model $(DEMO)/run --horizon 24 --out $(DEMO)/forecast.csv
	@echo "run directory: $(DEMO)/run   forecast: $(DEMO)/forecast.csv"

# one worker process per core (tests/conftest.py caps it), each test file kept in one worker
# so its module fixtures are trained once
test: $(BIN)/lstmcli
	$(BIN)/python -m pytest -q -n auto --dist loadfile

lint: $(BIN)/lstmcli
	$(BIN)/ruff check .

clean:
	rm -rf $(DEMO) .pytest_cache build *.egg-info
