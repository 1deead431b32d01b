# The two README commands: `make run` and `make test` (plus `make bench`, `make lint`).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR):$(CURDIR)/localstack

.PHONY: run test unit functional integration bench lint services venv clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# A daily run over the demo tenants on the local cloud, then the API on 127.0.0.1:8018 until Ctrl-C.
# ONCE=1 exits after the run (JSON summary last); TENANTS=N synthetic tenants; AT=<UTC instant>.
run: venv
	$(PY) -m localrun $(if $(ONCE),--once) $(if $(TENANTS),--tenants $(TENANTS)) $(if $(AT),--at $(AT))

# Starts (and on a bare Debian machine installs) Postgres, Redis and RabbitMQ when they are down.
services:
	bash localstack/ensure-services.sh

test: venv services
	$(PY) -m ruff check .
	$(PY) -m pytest -q $(PYTEST_ARGS)

unit: venv
	$(PY) -m pytest -q tests/unit

lint: venv
	$(PY) -m ruff check .

clean:
	rm -rf .local out .pytest_cache
