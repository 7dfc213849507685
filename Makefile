# Pulse — the two commands a newcomer needs are `make run` and `make test`.

CARGO       ?= cargo
MUSL_TARGET := x86_64-unknown-linux-musl
STATIC_BIN  := target/$(MUSL_TARGET)/release/pulse
AGENT_BINS  := target/$(MUSL_TARGET)/release/pulse-docker-agent target/$(MUSL_TARGET)/release/pulse-host-agent
DATA_DIR    ?= ./data
PORT        ?= 7655
# Test threads per test binary. The integration tests mostly wait (on poll cycles, timers,
# sockets, Chromium): at the default of one thread per core the suite ran at 22 % CPU for
# 237 s on 2 cores; with 8 it takes 81 s (BENCHMARKS.md, "make test wall time").
TEST_THREADS ?= 8

.PHONY: run build test lint fmt static bench clean-data

## run: build and start Pulse on :7655 with ./data (demo cluster when no node is configured)
run:
	$(CARGO) build --release --bin pulse
	@mkdir -p $(DATA_DIR)
	@if [ -z "$$PULSE_MOCK_MODE" ] && [ ! -s $(DATA_DIR)/nodes.enc ]; then \
		echo "No Proxmox node configured in $(DATA_DIR): starting with the built-in demo cluster."; \
		export PULSE_MOCK_MODE=true; \
	fi; \
	PULSE_DATA_DIR=$(DATA_DIR) FRONTEND_PORT=$(PORT) exec ./target/release/pulse

build:
	$(CARGO) build --release

## test: every unit and integration test
test:
	$(CARGO) test --workspace --all-targets -- --test-threads=$(TEST_THREADS)

## lint: formatting and clippy, warnings are errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --no-default-features --lib -- -D warnings

fmt:
	$(CARGO) fmt --all

## static: statically linked, size-optimised, stripped binaries (musl): pulse and, beside it
## (where /download/pulse-*-agent serves them from), the Docker and host agents
static:
	@command -v musl-gcc >/dev/null 2>&1 || { \
		echo "installing musl-tools"; \
		(apt-get update -qq && apt-get install -y -qq musl-tools) >/dev/null; }
	@rustup target list --installed | grep -q $(MUSL_TARGET) || rustup target add $(MUSL_TARGET)
	$(CARGO) build --release --target $(MUSL_TARGET) -p pulse --bin pulse
	@# The agents in a build of their own: built together with pulse, cargo unifies features
	@# (ureq's gzip, rustls' logging...) and each agent grows by ~57 KB, past 2 MB.
	$(CARGO) build --profile agent --target $(MUSL_TARGET) -p pulse-docker-agent -p pulse-host-agent
	cp target/$(MUSL_TARGET)/agent/pulse-docker-agent target/$(MUSL_TARGET)/agent/pulse-host-agent \
		target/$(MUSL_TARGET)/release/
	@file $(STATIC_BIN) $(AGENT_BINS)
	@ls -l $(STATIC_BIN) $(AGENT_BINS)

## bench: measurements recorded in BENCHMARKS.md (needs the static binary)
bench: static
	PULSE_BENCH_BIN=$(STATIC_BIN) $(CARGO) test --release --test bench -- --ignored --nocapture --test-threads=1

clean-data:
	rm -rf $(DATA_DIR)
