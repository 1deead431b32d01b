# The two README commands: `make run` and `make test` (plus `make bench`, `make lint`).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR):$(CURDIR)/localstack

.PHONY: package run test unit functional integration bench lint services venv clean chaos fuzz

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# A daily run over the demo tenants on the local cloud, then the API on 127.0.0.1:8018 until Ctrl-C.
# ONCE=1 exits after the run (JSON summary last); TENANTS=N synthetic tenants; AT=<UTC instant>;
# REGIONS=MD,CT,AN spreads them over Spanish regions; HOLIDAY_POLICY=skip|next_business_day|run.
# The local cloud listens on LOCALCLOUD_PORT (default 4566) for the AWS CLI; the console link is printed.
run: venv
	$(PY) -m localrun $(if $(ONCE),--once) $(if $(TENANTS),--tenants $(TENANTS)) $(if $(AT),--at $(AT)) \
		$(if $(REGIONS),--regions $(REGIONS)) $(if $(HOLIDAY_POLICY),--holiday-policy $(HOLIDAY_POLICY)) \
		$(if $(LOCALCLOUD_PORT),--cloud-port $(LOCALCLOUD_PORT))

# Starts (and on a bare Debian machine installs) Postgres, Redis and RabbitMQ when they are down.
services:
	bash localstack/ensure-services.sh

test: venv services lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The fault matrix alone (also part of `make test`): one line per fault with the observed outcome.
# Stops and starts the machine's RabbitMQ and Postgres with their own commands, and restarts them after.
chaos: venv services
	$(PY) -m pytest -q tests/orchestrator/chaos

# The API fuzz test alone with more examples per operation (make test runs it with 20).
fuzz: venv
	FUZZ_MAX_EXAMPLES=$(or $(EXAMPLES),100) $(PY) -m pytest -q tests/orchestrator/functional/test_openapi_fuzz.py

# Speed, memory and cost beside the issue's targets (a rich table; JSON in bench/results.json). Needs the
# machine's Postgres and Redis. BENCH_TENANTS=1000,10000 (sizes); BENCH_QUICK=1 (a smoke run: 200 tenants,
# small datasets); BENCH_ONLY=e2e,peer,bare,coldstart,ingest,api,enterprise. Reports; never fails on a missed target.
bench: venv services
	$(if $(BENCH_TENANTS),BENCH_TENANTS=$(BENCH_TENANTS)) $(if $(BENCH_QUICK),BENCH_QUICK=$(BENCH_QUICK)) $(PY) -m bench

unit: venv
	$(PY) -m pytest -q tests/orchestrator/unit

# Lint, format, import direction (layers, no cycles, product never imports localstack/) and types.
lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

clean:
	rm -rf .local out .pytest_cache

# The AWS deployment: the merge template from infra/ and `chalice package` (SAM + deployment.zip in out/).
package: venv
	$(PY) -m infra.template out/merge-template.json $${STAGE:-prod}
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-eu-west-1} AWS_EC2_METADATA_DISABLED=true \
		$(VENV)/bin/chalice package --stage $${STAGE:-prod} --merge-template out/merge-template.json out/package
