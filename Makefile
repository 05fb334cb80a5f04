# Two commands do everything on a fresh Debian 12 / Ubuntu machine with Rust and Node 20:
#   make run    install what is missing, build the UI and the app, start the app
#   make test   install what is missing, run every check and test (Rust, UI, GUI end to end)
# and `make bench` runs the benchmarks.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(HOME)/.cargo/bin:$(PATH)

CARGO ?= cargo
NPM ?= npm
# One virtual X server for the whole GUI test run (see shared notes: one xvfb-run per run).
XVFB_RUN := xvfb-run -a -s "-screen 0 1920x1080x24"

.PHONY: run test bench bundle deps deps-e2e ui console lint ui-test console-test rust-test pg-test e2e fuzz

## make run: install what is missing, build the UI and the app, start it.
run: deps ui console
	$(CARGO) build -p hearth-desktop -p hearth-server
	scripts/run-app.sh

## make test: everything CI runs (.ci/run).
test: deps-e2e ui-test console-test ui lint rust-test pg-test fuzz e2e
	@echo "make test: all checks passed"

# The app benchmark (tests/benches/app.rs) launches the release app in a real window, so every
# benchmark runs under one xvfb-run, after the UI and the release app are built. A throwaway
# PostgreSQL cluster (fsync on) runs beside them for the PostgreSQL rows of the ingest and kiosk
# benchmarks (HEARTH_TEST_DATABASE, set by scripts/pg-cluster.sh).
bench: deps-e2e ui
	$(CARGO) build --release -p hearth-desktop
	scripts/pg-cluster.sh run -- $(XVFB_RUN) $(CARGO) bench --workspace

deps:
	scripts/install-deps.sh

deps-e2e:
	scripts/install-deps.sh --e2e

# The UI is embedded into the app at compile time (tauri.conf.json: frontendDist = ui/dist), so
# it is built before any cargo command that compiles hearth-desktop.
ui: deps
	$(NPM) --prefix ui run build

# The web console (issue #15), built into console/dist, which hearth-server serves at /console/.
console: deps
	$(NPM) --prefix console run build

# Its TypeScript (tsc), its Svelte components (ui/check's svelte-check, which needs TypeScript 5),
# and unit tests (vitest).
console-test: deps
	$(NPM) --prefix console run typecheck
	ui/check/node_modules/.bin/svelte-check --workspace console --fail-on-warnings
	$(NPM) --prefix console test

lint: ui
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

# The TypeScript (tsc) and the Svelte components (svelte-check, from ui/check), then vitest.
ui-test: deps
	$(NPM) --prefix ui run typecheck
	$(NPM) --prefix ui/check run check
	$(NPM) --prefix ui test

# HEARTH_E2E_PREBUILT: the end-to-end tests start the binaries this same build made instead of
# building them again with other features (scripts/workspace-test.sh says why).
rust-test: ui
	HEARTH_E2E_PREBUILT=1 $(CARGO) test --workspace --locked

# The service on PostgreSQL (issue #13): a throwaway cluster with a streaming replica
# (scripts/pg-cluster.sh, stopped also when a test fails), then the store suite and every
# hearth-server test against it (HEARTH_TEST_DATABASE: each test gets its own schema), and the
# two-process tests with the real binaries. PG_SCENARIOS seeded kill scenarios (200 by default;
# PG_SCENARIOS=1000 make pg-test for the long run).
PG_SCENARIOS ?= 200
# The tests run from the workspace's test build (scripts/workspace-test.sh: one build for every
# step of make test).
pg-test: deps ui
	scripts/pg-cluster.sh run --replica --fast -- bash -c '\
	  scripts/workspace-test.sh hearth-server && \
	  PG_SCENARIOS=$(PG_SCENARIOS) scripts/workspace-test.sh hearth-e2e:pg_instances -- --nocapture'

# The API against docs/openapi.json with schemathesis (issue #19): 0 server errors, 0 undocumented
# answers. FUZZ_EXAMPLES per operation, 10 by default; FUZZ_EXAMPLES=1000 make fuzz for the long run.
FUZZ_EXAMPLES ?= 10
fuzz: ui
	$(CARGO) test --workspace --locked --no-run --quiet
	HEARTH_E2E_PREBUILT=1 FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) scripts/fuzz-api.sh

# The desktop app in a real window under Xvfb, driven through tauri-driver + WebKitWebDriver;
# the web console in headless Chromium through chromedriver (no display needed).
e2e: deps-e2e ui console
	scripts/workspace-test.sh hearth-e2e:console_browser -- --ignored --nocapture
	$(XVFB_RUN) scripts/workspace-test.sh hearth-e2e:gui_smoke hearth-e2e:gui_camera \
	  hearth-e2e:gui_photo hearth-e2e:gui_learning hearth-e2e:gui_kiosk hearth-e2e:gui_no_freeze \
	  hearth-e2e:gui_certificate -- --ignored --nocapture

# Installable packages (.deb and .rpm here; the Windows nsis/msi settings are in tauri.conf.json
# and need a Windows machine). The tauri CLI comes from ui/'s npm packages and runs from the root,
# where tauri.conf.json and the hearth-desktop [package] are.
bundle: deps
	ui/node_modules/.bin/tauri build --bundles deb,rpm
