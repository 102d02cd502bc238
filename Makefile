# tensorledger — the same targets run on a laptop and in CI.
#   make demo   create .venv, install, run the demo on an embedded two-org ledger
#   make test   the whole test suite (fast and slow trials)
#   make bench  benchmarks, JSON on stdout
#   make lint   ruff + mypy
#   make fabric build Hyperledger Fabric (peer, orderer, configtxgen) for the Fabric tests
#   make browser install Debian's Chromium and Playwright for the browser tests

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS ?= dev,tf,federated,server,fabric
JOBS   ?= 2

.PHONY: browser all venv demo test test-fast bench lint format clean fabric

all: test

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "tensorledger needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	@touch $@

# The ledger and training-loss.png are kept in demo-ledger/ to explore afterwards.
demo: $(STAMP)
	rm -rf demo-ledger
	$(BIN)/tensorledger demo --dir demo-ledger
	@echo "explore it: $(BIN)/tensorledger -l demo-ledger/ledger blocks"

# Builds Hyperledger Fabric 2.1.1 from Go source into ~/.cache once (needs `go`);
# later runs only check the stamp. The Fabric tests (marker `fabric`) use it.
# It also `npm ci`s the Node.js DataContract (chaincode/node-datacontract) into that cache, once.
fabric: $(STAMP)
	$(BIN)/tensorledger fabric install --node-chaincode

# Debian's Chromium and Playwright for the browser tests (idempotent; needs root once).
browser: $(STAMP)
	VENV_BIN=$(BIN) bash scripts/install-browser.sh

test: $(STAMP) fabric browser
	TENSORLEDGER_NO_SKIP=1 $(BIN)/pytest -n $(JOBS) -q

test-fast: $(STAMP)
	$(BIN)/pytest -n $(JOBS) -q -m "not slow"

bench: $(STAMP) fabric
	$(BIN)/tensorledger bench
	$(BIN)/tensorledger bench --fabric
	$(BIN)/pytest -m bench -s -q tests/tf/test_bench.py tests/blobs/test_throughput.py tests/server/test_bench.py tests/federated/test_bench.py

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist src/*.egg-info
