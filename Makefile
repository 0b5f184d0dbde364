# ecr-gatekeeper task runner. `make demo` and `make test` install what they need on first use:
# a Python venv with moto under .tools/ (Python 3 must be there; Rust comes from rustup).
# One target directory and one feature set for build, test and demo: no needless rebuilds.

PYTHON ?= python3
TOOLS  := $(CURDIR)/.tools
MOTO_VENV := $(TOOLS)/moto
MOTO_PKGS := moto[server]==5.2.5 jsonschema==4.26.0
CARGO ?= cargo

.PHONY: help tools demo test fmt lint unit check-rust clean-tools

help:
	@echo "make demo   run the gatekeeper end to end against a local AWS (moto), started and stopped by itself"
	@echo "make test   formatting, clippy -D warnings, and every test (unit, moto-backed, Lambda runtime)"
	@echo "make tools  create the Python venv with moto in .tools/ (done by demo and test when missing)"

# The venv is rebuilt when the package list changes (the stamp records it).
$(MOTO_VENV)/.ready: Makefile
	@echo "==> creating $(MOTO_VENV) with $(MOTO_PKGS)"
	rm -rf $(MOTO_VENV)
	$(PYTHON) -m venv $(MOTO_VENV)
	$(MOTO_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(MOTO_PKGS)
	echo "$(MOTO_PKGS)" > $@

tools: $(MOTO_VENV)/.ready

check-rust:
	@command -v $(CARGO) >/dev/null || { echo "Rust is required: https://rustup.rs"; exit 1; }
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy

demo: tools check-rust
	$(CARGO) build --workspace --bins
	./target/debug/demo

fmt: check-rust
	$(CARGO) fmt --all -- --check

lint: check-rust
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: tools check-rust
	$(CARGO) test --workspace

test: fmt lint unit

clean-tools:
	rm -rf $(TOOLS)
