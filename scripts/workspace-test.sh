#!/usr/bin/env bash
# Runs chosen packages' tests from the workspace's own test build.
#
#   scripts/workspace-test.sh PACKAGE[:TEST] ... [-- TEST-ARGS...]
#       builds (or finds fresh) every test of the workspace exactly as `cargo test --workspace`
#       does, then runs the test executables of each PACKAGE (all of them), or only its
#       integration test TEST, one after the other, each in its package's folder as cargo would,
#       with TEST-ARGS (e.g. `--ignored --nocapture`). Stops at the first failure.
#
# Why not `cargo test -p PACKAGE`: cargo unifies dependency features over the packages of one
# invocation, so `-p hearth-server` or `-p hearth-e2e` resolves different features than
# `--workspace` and compiles a second copy of our crates and of the dependencies whose features
# differ (a fresh clone spent about 6 minutes of `make test` on those copies, the desktop app's
# included). Running from the workspace build compiles everything once. Doc tests are left to
# `cargo test --workspace` (make rust-test).
#
# The binaries the end-to-end tests start (hearth-server, hearth, hearth-desktop) come from the
# same build: HEARTH_E2E_PREBUILT=1 tells the harness (tests/src/service.rs, gui.rs) not to build
# them again.
set -euo pipefail
cd "$(dirname "$0")/.."

selectors=()
while [[ $# -gt 0 && $1 != -- ]]; do selectors+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
[[ ${#selectors[@]} -gt 0 ]] || { sed -n '2,8p' "$0"; exit 2; }

CARGO=${CARGO:-cargo}
build_json=$(mktemp)
trap 'rm -f "$build_json"' EXIT
"$CARGO" test --workspace --locked --no-run --message-format=json-render-diagnostics >"$build_json"

# One line per test executable to run: "<package folder>\t<executable>", in the order given.
plan=$(python3 - "$build_json" "${selectors[@]}" <<'PY'
import json, os, sys
path, selectors = sys.argv[1], sys.argv[2:]
units = []
with open(path) as f:
    for line in f:
        msg = json.loads(line)
        if msg.get("reason") != "compiler-artifact" or not msg.get("profile", {}).get("test"):
            continue
        if not msg.get("executable"):
            continue
        # package_id is "path+file:///…/crates/server#hearth-server@0.1.0" (or "…#0.1.0" when the
        # folder's name is the package's); the manifest's folder is the package folder.
        folder = os.path.dirname(msg["manifest_path"])
        name = msg["package_id"].split("#", 1)[1].rsplit("@", 1)[0]
        if "@" not in msg["package_id"].split("#", 1)[1]:
            name = os.path.basename(folder)
        units.append((name, msg["target"]["kind"], msg["target"]["name"], folder, msg["executable"]))
for sel in selectors:
    package, _, test = sel.partition(":")
    chosen = [u for u in units if u[0] == package and (not test or (u[1] == ["test"] and u[2] == test))]
    if not chosen:
        sys.exit(f"workspace-test: no test executable for {sel}")
    for u in chosen:
        print(f"{u[3]}\t{u[4]}")
PY
)

export HEARTH_E2E_PREBUILT=1
while IFS=$'\t' read -r folder exe; do
  echo "workspace-test: $(basename "$exe") $*"
  (cd "$folder" && CARGO_MANIFEST_DIR="$folder" "$exe" "$@")
done <<<"$plan"
