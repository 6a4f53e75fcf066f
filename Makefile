# zegel — make demo / make test / make bench / make deps
# The distribution's interpreter when it is new enough: Debian builds it with profile-guided
# optimisation, and zegel's milter needs about a fifth more CPU on a plain source build
# (pyenv's default) that may come first on PATH. `make PYTHON=...` chooses another.
PYTHON ?= $(shell /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo /usr/bin/python3 || echo python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.zegel-installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: all venv demo test lint typecheck unit deps bench clean web fuzz

all: test

# The virtual environment is (re)built when the dependency pins change.
# Debian ships venv separately (python3-venv); install it when we are root and it is missing.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed; installing python3-venv" >&2; \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; \
	  else echo "please install python3-venv (apt-get install python3-venv)" >&2; exit 1; fi; \
	  $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: venv
	@$(BIN)/python demo/run.py

lint: venv
	$(BIN)/ruff check src tests bench demo

typecheck: venv
	$(BIN)/mypy --strict src

unit: venv
	$(BIN)/pytest -n 2 -q

test: lint typecheck unit

# System packages some tests need (real peers and servers), and a C compiler for the
# benchmark's null milter and SMTP load generator (bench/nullmilter.c, bench/smtpload.c).
# Run as root, e.g. from .ci/run.
DEBS := postfix opendkim opendkim-tools opendmarc postgresql swaks \
	dovecot-core dovecot-imapd unbound knot knot-dnsutils ldnsutils \
	chromium chromium-driver openssl ca-certificates systemd gcc libc6-dev
deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps needs root (apt-get)" >&2; exit 1; fi
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	echo "postfix postfix/mailname string zegel.test" | debconf-set-selections
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBS) >/dev/null
	@echo "installed: $(DEBS)"

BENCH_STAMP := $(VENV)/.zegel-bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# The web app on the shipped demo data, offline: http://127.0.0.1:8080/ (mail tester SMTP on 2525).
web: venv
	$(BIN)/zegel web --listen 127.0.0.1:8080 --smtp 127.0.0.1:2525 --mail-domain zegel.test \
	  --zone demo/zones/check.zone --zone demo/zones/sample.zone --zone demo/zones/spf.zone --offline \
	  --data-dir $(VENV)/web-data --demo-messages demo/messages

# Long fuzz run: every tests/fuzz target for ZEGEL_FUZZ_SECONDS (default 600) with fresh seeds
# (tests/fuzz/README.md). `make test` runs the short, deterministic profile.
ZEGEL_FUZZ_SECONDS ?= 600
fuzz: venv
	ZEGEL_FUZZ_SECONDS=$(ZEGEL_FUZZ_SECONDS) $(BIN)/python -m tests.fuzz.run
