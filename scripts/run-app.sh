#!/usr/bin/env bash
# Starts the desktop app (built by `make run`). Data goes to the platform's app data folder, or to
# $HEARTH_DATA_DIR when set. Without a display (a server or CI shell) the window opens on a
# virtual X display (Xvfb) instead of failing, and says so.
set -euo pipefail

cd "$(dirname "$0")/.."
app=${HEARTH_DESKTOP_BIN:-target/debug/hearth-desktop}

# --- The local central service, with the demo courses published ------------------------------
# hearth-server runs on 127.0.0.1:8470 with its data in .hearth-dev/service (HEARTH_SERVICE_DATA),
# and is stopped when the app exits. Each demo course in assets/courses is published once; a
# version already published is reported and skipped.
service_pid=
start_services() {
  local server=${HEARTH_SERVER_BIN:-target/debug/hearth-server}
  local data=${HEARTH_SERVICE_DATA:-.hearth-dev/service}
  local listen=${HEARTH_SERVICE_LISTEN:-127.0.0.1:8470}
  if [[ ! -x $server ]]; then
    echo "run-app: $server not built; starting the app without the local service" >&2
    return 0
  fi
  mkdir -p "$data"
  for course in assets/courses/*/; do
    if out=$(RUST_LOG=warn RUST_BACKTRACE=0 "$server" --data "$data" publish "$course" 2>&1); then
      echo "run-app: $out" >&2
    else
      echo "run-app: ${course}: $(tail -n 1 <<<"$out" | sed "s/^ *//")" >&2
    fi
  done
  # A demo organisation and learner (made once, ids kept beside the data) and a fresh one-time
  # enrollment code for the app's first-run screen.
  if [[ ! -s $data/demo-learner ]]; then
    org=$(RUST_LOG=warn "$server" --data "$data" create-org "城关镇职业技能培训中心 (演示)") &&
      learner=$(RUST_LOG=warn "$server" --data "$data" add-learner --org "$org" --name 王小明 \
        --national-id 110101199003071234) &&
      echo "$org" >"$data/demo-org" && echo "$learner" >"$data/demo-learner" || true
  fi
  if [[ -s $data/demo-learner ]]; then
    if code=$(RUST_LOG=warn "$server" --data "$data" issue-code --org "$(cat "$data/demo-org")" \
      --learner "$(cat "$data/demo-learner")" 2>/dev/null); then
      echo "run-app: enrollment code for the demo learner 王小明: $code (service http://$listen)" >&2
    fi
  fi
  # A demo class for a classroom kiosk (made once): the trainer 王老师 (PIN 2468), the class
  # 电工一班 with 李娜 (PIN 1111) and 张伟 (PIN 2222), and a fresh kiosk code for that class. A
  # kiosk holds the PIN verifiers of its classes' people only, so its code names the class.
  if [[ -s $data/demo-org && ! -s $data/demo-class ]]; then
    local org trainer class
    org=$(cat "$data/demo-org")
    trainer=$(RUST_LOG=warn "$server" --data "$data" add-trainer --org "$org" --name 王老师 \
      --pin 2468 | sed -n 's/^user //p') &&
      class=$(RUST_LOG=warn "$server" --data "$data" add-class --trainer "$trainer" --name 电工一班) &&
      RUST_LOG=warn "$server" --data "$data" add-learner --org "$org" --name 李娜 \
        --national-id 110101199202023456 --class "$class" --pin 1111 >/dev/null &&
      RUST_LOG=warn "$server" --data "$data" add-learner --org "$org" --name 张伟 \
        --national-id 110101199505051235 --class "$class" --pin 2222 >/dev/null &&
      echo "$class" >"$data/demo-class" || true
  fi
  if [[ -s $data/demo-class ]]; then
    if code=$(RUST_LOG=warn "$server" --data "$data" issue-code --org "$(cat "$data/demo-org")" \
      --class "$(cat "$data/demo-class")" 2>/dev/null); then
      echo "run-app: enrollment code for a classroom kiosk of 电工一班 (王老师 PIN 2468, 李娜 1111, 张伟 2222): $code" >&2
    fi
  fi
  # A demo administrator for the web console (issue #15), made once; the password is a demo's,
  # printed here on purpose. The console's pages are console/dist (make console builds them).
  local console_login=admin console_password=hearth-demo-2026
  if [[ -s $data/demo-org && ! -s $data/demo-admin ]]; then
    admin=$(RUST_LOG=warn "$server" --data "$data" add-admin --org "$(cat "$data/demo-org")" \
      --name 演示管理员 | sed -n 's/^user //p') &&
      echo "$console_password" | RUST_LOG=warn "$server" --data "$data" set-password \
        --user "$admin" --login "$console_login" >/dev/null &&
      echo "$admin" >"$data/demo-admin" || true
  fi
  "$server" --data "$data" serve --listen "$listen" --console-dir console/dist &
  service_pid=$!
  echo "run-app: central service on http://$listen (data in $data)" >&2
  if [[ -s $data/demo-admin ]]; then
    echo "run-app: web console http://$listen/console/ — sign in as $console_login / $console_password" >&2
  fi
}
stop_services() {
  if [[ -n $service_pid ]]; then
    kill "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
}
trap stop_services EXIT
start_services
# -----------------------------------------------------------------------------------------------

if [[ -z ${DISPLAY:-} && -z ${WAYLAND_DISPLAY:-} ]]; then
  echo "run-app: no display found; opening the window on a virtual display (Xvfb)." >&2
  echo "run-app: to see it, run 'make run' from a desktop session." >&2
  xvfb-run -a -s "-screen 0 1280x800x24" "$app" "$@"
  exit
fi
"$app" "$@"
