# fdirlab: `make run` (the live lab) and `make test` (every test). Both set up on first use.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.setup-done
P4C     ?= p4c
TARGET  ?=
LAB     ?= topo/labs/default.toml
PTF_ARGS ?=
DPVS_CONF ?=

.PHONY: setup lint test unit ptf run p4 bench stf compare compare-quick clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	./scripts/setup.sh

# ruff (rules in pyproject.toml) and mypy (strict on fdirlab/, lcore/, controller/): 0 findings.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

# Every test: the linters first, pytest (unit, integration, end-to-end as root), then the PTF suite.
test: setup
	$(MAKE) --no-print-directory lint
	$(PY) -m pytest -q tests --junitxml=.pytest-results.xml
	$(MAKE) --no-print-directory ptf

# PTF packet tests of fdir.p4 on TARGET (softswitch by default, or bmv2 when simple_switch_grpc is installed).
ptf: setup
	$(PY) ptf-tests/run_ptf.py --target $(or $(TARGET),softswitch) $(PTF_ARGS)

# The live lab: Mininet hosts, the switch, lcore workers, real servers; MODE=fdir|rss|handoff.
# The switch is the lab file's switch.target (softswitch in the default lab and when left out);
# TARGET=softswitch|bmv2|auto overrides it.
# DPVS_CONF=path/dpvs.conf builds the lab a DPVS config describes (ipvsadm/dpip at the prompt).
# (DPVS_CONF with LAB given too is refused, by topo.) PCAP=1 (or yes/true; 0/no/false: off; anything
# else is refused): the switch writes <iface>_in.pcap and <iface>_out.pcap per port into the lab's logs.
PCAP_VALUES := 1 0 yes no true false
run: setup
	@$(if $(filter-out $(PCAP_VALUES),$(PCAP)),echo 'run: PCAP=$(subst ','\'',$(PCAP)): use 1 or 0 (yes/no, true/false)' >&2; exit 2)
	$(PY) -m topo run $(if $(DPVS_CONF),--dpvs-conf $(DPVS_CONF)$(if $(filter-out file,$(origin LAB)), --lab $(LAB)),--lab $(LAB)) \
	  $(if $(TARGET),--target $(TARGET)) $(if $(MODE),--mode $(MODE)) $(if $(filter 1 yes true,$(PCAP)),--pcap)

unit: setup
	$(PY) -m pytest -q tests -m "not root"

# Recompile the NIC program; the outputs under p4src/build are committed.
p4:
	@if command -v $(P4C) >/dev/null 2>&1; then \
	  $(P4C) --target bmv2 --arch v1model --std p4-16 \
	    --p4runtime-files p4src/build/fdir.p4info.txtpb -o p4src/build p4src/fdir.p4 && rm -f p4src/build/fdir.p4i && \
	  echo "p4: p4src/build/fdir.json and fdir.p4info.txtpb rebuilt with $$($(P4C) --version | head -1)"; \
	else \
	  echo "p4: $(P4C) is not on PATH; keeping the committed p4src/build (see README, 'Changing the P4 program')"; \
	fi

bench: setup
	$(PY) -m bench

# BMv2 conformance: p4c's own STF corpus (the v1model programs of testdata/p4_16_samples with an
# .stf file) on BMv2 and softswitch side by side; README, "BMv2 conformance". P4C_SRC: a p4c
# source tree; outputs (compiled programs, logs, results.json) in STF_OUT, outside the repo.
STF_OUT ?= /tmp/fdirlab-stf
stf: setup
	$(PY) -m stf run --if-present --p4c $(P4C) --out $(STF_OUT) --lock /tmp/fdirlab-root.lock \
	  $(if $(P4C_SRC),--p4c-src $(P4C_SRC)) $(STF_ARGS)

# fdir vs rss vs handoff with nginx, wrk, h2load, iperf3 in the lab, every target present:
# results/compare/{compare.json,compare.csv,*.png}. Root; takes /tmp/fdirlab-root.lock per lab.
compare: setup
	$(PY) -m bench.compare

compare-quick: setup
	$(PY) -m bench.compare --quick

# After a crashed or killed lab or PTF run: exactly what it recorded when it started it
# (processes, Mininet hosts, links, sockets; see topo/runstate.py). Logs stay.
clean:
	@if [ -x $(PY) ]; then $(PY) -m topo clean; fi
	rm -rf .pytest_cache .pytest-results.xml
