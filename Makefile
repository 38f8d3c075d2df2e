# Hearth: `make run` serves the chat, `make test` runs every test. Both install whatever the
# build needs and is missing (see ../shared/TOOLCHAIN.md for why these exact versions).

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

CARGO_LEPTOS_VERSION := 0.3.10
BINARYEN_VERSION := 132
# The wasm-bindgen CLI must match the library version in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ { getline; gsub(/"/, "", $$3); print $$3 }' Cargo.lock)

.PHONY: run test setup test-setup postgres redis nginx cluster cluster-stop build lint rust-test e2e \
	bench-smoke bench fuzz

## Installs the build tools that are missing.
setup:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@cargo leptos --version 2>/dev/null | grep -qx "cargo-leptos $(CARGO_LEPTOS_VERSION)" \
		|| cargo install cargo-leptos --locked --version $(CARGO_LEPTOS_VERSION)
	@wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $(WASM_BINDGEN_VERSION)" \
		|| cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)
	@wasm-opt --version 2>/dev/null | grep -q "version $(BINARYEN_VERSION)" \
		|| npm install -g binaryen@$(BINARYEN_VERSION)

## Release build of the server and the wasm bundle.
build: setup
	cargo leptos build --release

## Serves Hearth at http://127.0.0.1:3000 on ./data/hearth.db (flags and env vars: README).
run: build
	./target/release/hearth

## What the tests need beyond the build: Debian's Chromium, the Playwright package, and
## redis-server (the tests start Redis servers of their own).
test-setup: setup
	@test -x /usr/bin/chromium || { apt-get update && apt-get install -y chromium; }
	@command -v redis-server >/dev/null || { apt-get update && apt-get install -y redis-server; }
	cd end2end && npm ci --no-audit --no-fund

## Hostile frames for longer than `make test` does: FUZZ_CASES sequences of arbitrary frames
## and commands over real sockets (the property test in server/tests/api/hostile.rs).
FUZZ_CASES ?= 2000
fuzz:
	PROPTEST_CASES=$(FUZZ_CASES) cargo test -p server --test api -- hostile::

lint:
	cargo fmt --all --check
	cargo clippy -p server --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
	cargo clippy -p bench --all-targets -- -D warnings

## The machine's PostgreSQL (127.0.0.1:5432, trust auth), started if it is installed but down:
## the server's tests run a second time on it.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 \
		|| pg_ctlcluster --skip-systemctl-redirect "$$(ls /etc/postgresql | tail -1)" main start
	@pg_isready -h 127.0.0.1 -p 5432

## The machine's Redis (127.0.0.1:6379), started if it is installed but down (keeping nothing on
## disk): the bus between the nodes of `make cluster`.
redis:
	@redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -qx PONG \
		|| redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@for i in $$(seq 20); do redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -qx PONG && exit 0; \
		sleep 0.25; done; echo "Redis does not answer on 127.0.0.1:6379" >&2; exit 1

## Debian's nginx, for `make cluster` (which runs it with a configuration of its own).
nginx:
	@test -x /usr/sbin/nginx || { apt-get update && apt-get install -y nginx; }

## Two Hearth nodes (127.0.0.1:3001 and :3002) on PostgreSQL (database hearth_cluster, created
## when missing) and Redis, behind nginx on http://127.0.0.1:3000, in the foreground: Ctrl-C,
## or `make cluster-stop` from another terminal, stops all three. The nodes run the production
## systemd unit, deploy/hearth@.service, with deploy/cluster/*.env (docs/deploy.md).
cluster: build postgres redis nginx
	deploy/cluster.sh

cluster-stop:
	deploy/cluster.sh stop

## The server's unit and integration tests run twice: on SQLite, then on PostgreSQL (each test
## makes its own database and drops it: server/src/scratch.rs).
rust-test: postgres
	cargo test -p app --features ssr
	cargo test -p server
	HEARTH_TEST_DATABASE=postgres cargo test -p server
	cargo test -p bench

## The browser tests on one node (SQLite), then two people on two nodes behind nginx
## (end2end/playwright.cluster.config.ts: deploy/cluster.sh with end2end/cluster/, nginx on
## 127.0.0.1:3200, nodes on :3201 and :3202, a fresh PostgreSQL database hearth_e2e_cluster and a
## redis-server of its own on :3209, all stopped at the end; it can run beside `make cluster`).
e2e: build postgres nginx
	cd end2end && npx playwright test
	cd end2end && npx playwright test -c playwright.cluster.config.ts

## A few seconds of the load generator (bench/) against Hearth and the Node peer, so it keeps working.
bench-smoke: build postgres
	cargo build --release -p bench
	bench/peers/setup.sh node
	bench/smoke.sh

## The full benchmark, Hearth against Node Socket.IO and Flask-SocketIO (bench/peers/), each
## server pinned to core 0 and the generator to core 1; writes bench/results/<date>/report.md.
## Then the review page over 1,000,000 messages (search times, memory while exporting):
## review.md beside it. Not part of `make test`: it takes about 20 minutes (5 of them signing up
## 10,001 accounts, kept in target/bench-accounts for the next run), and the review about a
## minute more (half a minute of it filling its database, kept in target/bench-review).
## BENCH_ARGS and REVIEW_ARGS pass flags to each (e.g. REVIEW_ARGS="--messages 100000").
## Hearth on PostgreSQL instead of SQLite (a database per scenario, made on that server):
## BENCH_ARGS="--only persist --hearth-postgres postgres://postgres@127.0.0.1:5432/test"
## The two-node scenarios (two-node-big-room, two-node-many-rooms) run each server as two processes
## on core 0 sharing a redis-server of their own; Hearth's two nodes share a database on the
## machine's PostgreSQL (hence `postgres`; --two-node-postgres URL names another).
REVIEW_ARGS ?=
bench: build postgres
	cargo build --release -p bench
	bench/peers/setup.sh
	ulimit -n "$$(ulimit -Hn)"; taskset -c 1 ./target/release/hearth-load suite --accounts target/bench-accounts $(BENCH_ARGS)
	taskset -c 1 ./target/release/hearth-load review $(REVIEW_ARGS)

## Everything: formatting, lints, Rust unit and integration tests, browser tests.
## (No incremental cache: a one-off run gains nothing from it and it costs gigabytes.)
test: export CARGO_INCREMENTAL = 0
test: test-setup lint rust-test e2e bench-smoke
