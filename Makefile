# ecr-gatekeeper task runner. `make demo` and `make test` install what they need on first use:
# Python venvs under .tools/ (moto; cargo-lambda with zig; SAM CLI, cfn-lint and python-hcl2; checkov;
# cel-python for the admission policies),
# the arm64 Rust target, and qemu-user where apt can install it (Python 3 must be there; Rust comes
# from rustup). One target directory and one feature set for build, test and demo: no needless rebuilds.

PYTHON ?= python3
TOOLS  := $(CURDIR)/.tools
MOTO_VENV := $(TOOLS)/moto
PKGS_moto := moto[server]==5.2.5 jsonschema==4.26.0
LAMBDA_VENV := $(TOOLS)/lambda
PKGS_lambda := cargo-lambda==1.9.2 ziglang==0.17.1
INFRA_VENV := $(TOOLS)/infra
PKGS_infra := aws-sam-cli==1.170.0 cfn-lint==1.58.0 cfn-lint-serverless==0.3.6 python-hcl2==8.1.4
CHECKOV_VENV := $(TOOLS)/checkov
PKGS_checkov := checkov==3.3.30
CEL_VENV := $(TOOLS)/cel
PKGS_cel := cel-python==0.5.0 PyYAML==6.0.3
CARGO ?= cargo
SAM_ENV := SAM_CLI_TELEMETRY=0 SAM_CLI_BETA_RUST_CARGO_LAMBDA=1 AWS_DEFAULT_REGION=eu-west-1 PATH=$(LAMBDA_VENV)/bin:$(PATH)

.PHONY: help tools demo test fmt lint unit infra arm64-smoke browser report-screenshot check-rust clean-tools fuzz storm cve-update

help:
	@echo "make demo   run the gatekeeper end to end against a local AWS (moto), started and stopped by itself"
	@echo "make test   formatting, clippy -D warnings, every test (unit, moto-backed, Lambda runtime), and the infra checks"
	@echo "make infra  SAM validate --lint, cfn-lint, checkov, SAM/Terraform parity, sam build, arm64 smoke test"
	@echo "make tools  create the Python venv with moto in .tools/ (done by demo and test when missing)"
	@echo "make fuzz   coverage-guided fuzzing of the event, findings and policy parsers (cargo fuzz, nightly),"
	@echo "            FUZZ_SECONDS (default 60) per target; not part of make test"
	@echo "make browser  the report page in headless Chromium (installs Debian's chromium when missing; part of make test)"
	@echo "make report-screenshot   the README's screenshot of the report (docs/report.png)"
	@echo "make storm, make cve-update   the load benchmarks (release build, a few minutes each)"

# One venv per tool family (checkov alone: its HCL parser shares a package name with python-hcl2),
# each rebuilt when the Makefile changes; the stamp records the packages it holds.
$(TOOLS)/%/.ready: Makefile
	@echo "==> creating $(TOOLS)/$* with $(PKGS_$*)"
	rm -rf $(TOOLS)/$*
	$(PYTHON) -m venv $(TOOLS)/$*
	$(TOOLS)/$*/bin/python -m pip install --quiet --disable-pip-version-check $(PKGS_$*)
	echo "$(PKGS_$*)" > $@

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
	$(PYTHON) tests/house/fn_length.py .

unit: tools check-rust
	$(CARGO) test --workspace

# Infrastructure, checked offline: the templates' own validators, checkov with zero failed checks
# (every skip justified inline), the SAM/Terraform/code parity check, the admission policies
# evaluated on sample pods (core CEL, cel-python), sam build of the four arm64 functions (cargo
# lambda, reusing the workspace's target directory), and a smoke test of those binaries under qemu-user.
infra: tools $(LAMBDA_VENV)/.ready $(INFRA_VENV)/.ready $(CHECKOV_VENV)/.ready $(CEL_VENV)/.ready check-rust
	$(SAM_ENV) $(INFRA_VENV)/bin/sam validate --lint -t infra/sam/template.yaml
	$(INFRA_VENV)/bin/cfn-lint -a cfn_lint_serverless.rules -t infra/sam/template.yaml
	$(SAM_ENV) $(INFRA_VENV)/bin/sam validate --lint -t infra/sam/member.yaml
	$(INFRA_VENV)/bin/cfn-lint -a cfn_lint_serverless.rules -t infra/sam/member.yaml
	$(INFRA_VENV)/bin/cfn-lint -t infra/sam/repository-template.yaml
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -f infra/sam/template.yaml --framework cloudformation --skip-download --compact --quiet
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -f infra/sam/member.yaml --framework cloudformation --skip-download --compact --quiet
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -f infra/sam/repository-template.yaml --framework cloudformation --skip-download --compact --quiet
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -d infra/terraform --framework terraform --skip-download --compact --quiet
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -d infra/terraform/modules/member --framework terraform --skip-download --compact --quiet
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -d infra/terraform/modules/repository-template --framework terraform --skip-download --compact --quiet
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -d infra/terraform/examples/organization --framework terraform --skip-download --compact --quiet
	$(INFRA_VENV)/bin/python infra/check.py
	$(CEL_VENV)/bin/python infra/admission/check.py
	rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	$(SAM_ENV) $(INFRA_VENV)/bin/sam build -t infra/sam/template.yaml --build-dir target/sam-build
	$(MAKE) arm64-smoke

arm64-smoke:
	@if ! command -v qemu-aarch64 >/dev/null || [ ! -d /usr/aarch64-linux-gnu ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -q qemu-user libc6-arm64-cross >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q qemu-user libc6-arm64-cross >/dev/null 2>&1; } || true; \
	  fi; \
	fi
	@if command -v qemu-aarch64 >/dev/null && [ -d /usr/aarch64-linux-gnu ]; then \
	  $(CARGO) run -q -p gatekeeper-tests --bin arm64_smoke -- target/sam-build; \
	else \
	  echo "*** SKIPPED: arm64 smoke test (qemu-user and libc6-arm64-cross could not be installed here) ***"; \
	fi

# The report's HTML page in Debian's Chromium, headless (installed here when missing, as qemu-user is
# for the arm64 smoke test): its scripts run without an error, draw both trends, show the figures.
browser: check-rust
	@if [ -z "$$GATEKEEPER_CHROMIUM" ] && ! command -v chromium >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -q chromium >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } || true; \
	  fi; \
	fi
	@if [ -n "$$GATEKEEPER_CHROMIUM" ] || command -v chromium >/dev/null; then \
	  $(CARGO) test -p gatekeeper-tests --test report_browser -- --ignored; \
	else \
	  echo "*** SKIPPED: the report page in headless Chromium (Debian's chromium could not be installed here) ***"; \
	fi

# The README's picture of the report: the sample history's page, screenshotted by headless Chromium.
report-screenshot: browser
	$(CARGO) run -q -p gatekeeper-tests --bin report_sample -- target/report-sample.html docs/report.png

test: fmt lint unit infra browser

# Coverage-guided fuzzing (libFuzzer through cargo fuzz; needs a nightly toolchain, which rustup
# installs if missing). Bounded: FUZZ_SECONDS per target. The sample events seed the event corpus;
# new inputs go to fuzz/corpus/, crashes to fuzz/artifacts/. Not part of `make test`: the property
# tests there cover the same parsers in seconds.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := event findings policy
fuzz: check-rust
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p fuzz/corpus/event fuzz/corpus/findings fuzz/corpus/policy
	cp events/*.json fuzz/corpus/event/
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  cargo +nightly fuzz run $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536 || exit 1; \
	done

# Benchmarks outside `make test` (which runs a small form of each), bounded in time: the storm of
# 1,000 events through the intake queues to the function binaries at 5% and 20% faults (then
# through asynchronous invocation), and a CVE-database update of 200 images x 50 findings through
# on-scan's intake (10,000 events; at most 9 minutes of draining).
storm: tools check-rust
	$(CARGO) build --release -p on-push -p on-scan
	$(CARGO) run --release -p gatekeeper-tests --bin storm -- 1000 200 0.05 20261122 sqs
	$(CARGO) run --release -p gatekeeper-tests --bin storm -- 1000 200 0.2 20261122 sqs
	$(CARGO) run --release -p gatekeeper-tests --bin storm -- 1000 200 0.05 20261122 async

cve-update: tools check-rust
	$(CARGO) run --release -p gatekeeper-tests --bin cve_update -- 200 50 4
	$(CARGO) run --release -p gatekeeper-tests --bin cve_update -- 200 50 4 shuffled

clean-tools:
	rm -rf $(TOOLS)
