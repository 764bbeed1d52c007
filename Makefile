# fdirlab: `make run` (the live lab) and `make test` (every test). Both set up on first use.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.setup-done
P4C     ?= p4c
TARGET  ?= softswitch
LAB     ?= topo/labs/default.toml

.PHONY: setup test unit ptf run p4 bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	./scripts/setup.sh

# Every test: pytest (unit, integration, end-to-end as root) and the PTF suite.
test: setup
	$(PY) -m pytest -q tests --junitxml=.pytest-results.xml

unit: setup
	$(PY) -m pytest -q tests -m "not root"

# Recompile the NIC program; the outputs under p4src/build are committed.
p4:
	@if command -v $(P4C) >/dev/null 2>&1; then \
	  $(P4C) --target bmv2 --arch v1model --std p4-16 -Wdisable=unused \
	    --p4runtime-files p4src/build/fdir.p4info.txtpb -o p4src/build p4src/fdir.p4 && \
	  echo "p4: p4src/build/fdir.json and fdir.p4info.txtpb rebuilt with $$($(P4C) --version | head -1)"; \
	else \
	  echo "p4: $(P4C) is not on PATH; keeping the committed p4src/build (see README, 'Changing the P4 program')"; \
	fi

bench: setup
	$(PY) -m bench

clean:
	rm -rf .pytest_cache .pytest-results.xml
