#!/usr/bin/env bash
# Fuzzes a running hearth-server against docs/openapi.json with schemathesis (from PyPI, installed
# into .venv-fuzz on first use): every answer must be documented there (status and body) and none
# may be a server error (issue #19).
#
#   scripts/fuzz-api.sh                      # FUZZ_EXAMPLES=10 per operation (make test)
#   FUZZ_EXAMPLES=1000 scripts/fuzz-api.sh   # the long run
#
# The service runs from a fresh data folder with one organisation, an administrator and an
# enrolled kiosk; the run goes once with each one's credential on every request. The service's own limits apply: a fuzzer sending hundreds of
# requests a second is answered 429 (documented) once its burst is spent, which is part of what
# is checked.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
examples=${FUZZ_EXAMPLES:-10}
venv="$root/.venv-fuzz"
if [ ! -x "$venv/bin/schemathesis" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "schemathesis>=4.3,<5"
fi
# make test has just built the workspace's tests, hearth-server among them (HEARTH_E2E_PREBUILT);
# building it alone would compile a second copy with other dependency features.
if [ -z "${HEARTH_E2E_PREBUILT:-}" ]; then
    cargo build -p hearth-server --locked --quiet
fi
bin="${CARGO_TARGET_DIR:-$root/target}/debug/hearth-server"
data=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$data"
}
trap cleanup EXIT
org=$("$bin" --data "$data" create-org "Fuzz")
token=$("$bin" --data "$data" add-admin --org "$org" --name "Fuzz" | sed -n 's/^token //p')
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Wrong enrollment codes are the fuzzer's everyday input: the per-address bound on them is
# raised so that it does not lock the fuzzer out for five minutes (it has its own test).
RUST_LOG=error "$bin" --data "$data" serve --listen "127.0.0.1:$port" --guesses-per-window 1000000 &
pid=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/v1/health" >/dev/null 2>&1 && break
    sleep 0.1
done
# A kiosk's device credential as well, so that device routes are fuzzed past their 403 for users.
# Enrollment proves nothing about the key, so any 32 bytes do; the device id is derived from it.
code=$("$bin" --data "$data" issue-code --org "$org")
device_token=$(python3 - "http://127.0.0.1:$port" "$code" <<'PY'
import hashlib, json, os, sys, urllib.request, uuid
url, code = sys.argv[1], sys.argv[2]
key = os.urandom(32)
b = bytearray(hashlib.sha256(b"HEARTH/device-id/1\0" + key).digest()[:16])
b[6] = (b[6] & 0x0F) | 0x80  # uuid::Builder::from_custom_bytes: version 8
b[8] = (b[8] & 0x3F) | 0x80  # and the RFC 4122 variant
body = {"code": code, "publicKey": key.hex(), "deviceId": str(uuid.UUID(bytes=bytes(b)))}
req = urllib.request.Request(url + "/v1/enroll", json.dumps(body).encode(),
                             {"content-type": "application/json"})
print(json.load(urllib.request.urlopen(req))["credential"])
PY
)

# POST /v1/auth/revoke would revoke the fuzzer's own token (it has its own test).
for who in administrator device; do
    if [ "$who" = administrator ]; then t=$token; else t=$device_token; fi
    echo "fuzz: as $who"
    SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH="$root/scripts" \
    "$venv/bin/schemathesis" run "$root/docs/openapi.json" \
        --url "http://127.0.0.1:$port" \
        --exclude-path /v1/auth/revoke \
        --rate-limit 15/s \
        --header "Authorization: Bearer $t" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance \
        --max-examples "$examples" \
        --workers 1 \
        --no-color
done
echo "fuzz: 0 server errors, 0 undocumented answers ($examples examples per operation, as administrator and as device)"
