# kgen: `make demo` runs the main job (`kgen flow`) on the bundled flow file; `make test` is the full suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.kgen-installed
# Debian packages the simulators and flows need (installed when missing and we are root);
# nextpnr-ice40 and fpga-icestorm place, route and pack iCE40 designs; chromium renders the flow report in its test.
APT_PACKAGES := ngspice iverilog yosys nextpnr-ice40 fpga-icestorm ccache chromium

.PHONY: install system-deps demo test test-fast bench lint-imports clean

install: $(STAMP) system-deps

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[hdl,test,analog,cluster,fpga]'
	$(PY) -m kgen.hdl.tools $(VENV)/bin
	touch $(STAMP)

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "note: missing Debian packages:$$missing (tests that need them skip)"; fi; \
	fi

demo: install
	$(PY) -m kgen flow examples/demo-flow.yaml -o demo-out

test: install
	$(PY) -m pytest -q -n 2 --durations=15

test-fast: install
	$(PY) -m pytest -q -n 2 -m "not slow"

lint-imports: install
	$(PY) tests/layer_view.py

bench: install
	$(PY) bench/rhs.py
	$(PY) bench/solve.py
	$(PY) bench/export.py
	$(PY) bench/emulate.py

clean:
	rm -rf $(VENV) build dist *.egg-info demo-out
