#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and benchmarks (issue #13): a primary, and with
# --replica a streaming replica made from it by pg_basebackup, in a temporary folder on private
# Unix sockets (no TCP), trust authentication, user `hearth`.
#
#   scripts/pg-cluster.sh run [--replica] [--fast] -- COMMAND...
#       starts the cluster, runs COMMAND with HEARTH_TEST_DATABASE (the primary's address, database
#       `postgres`) and with --replica HEARTH_TEST_REPLICA in its environment, and stops the
#       cluster and removes its folder afterwards, also when COMMAND fails or is interrupted.
#       --fast: fsync off (tests: nothing here survives the run anyway; benchmarks leave it on).
#
# initdb refuses to run as root: as root the cluster runs as the `postgres` user that the Debian
# package creates. The binaries come from the Debian packages (scripts/install-deps.sh installs
# `postgresql`); nothing is downloaded.
set -euo pipefail

log() { echo "pg-cluster: $*" >&2; }

[[ ${1:-} == run ]] || { sed -n '2,14p' "$0"; exit 2; }
shift
replica=false
fast=false
while [[ $# -gt 0 && $1 != -- ]]; do
  case "$1" in
    --replica) replica=true ;;
    --fast) fast=true ;;
    *) log "unknown argument $1"; exit 2 ;;
  esac
  shift
done
[[ ${1:-} == -- ]] && shift
(($#)) || { log "no command to run"; exit 2; }

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[[ -x $bin/initdb ]] || { log "PostgreSQL is not installed (apt-get install postgresql)"; exit 1; }

T=$(mktemp -d /tmp/hearth-pg.XXXXXX)
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
  chown postgres "$T"
  as_pg=(su postgres -s /bin/bash -c)
else
  as_pg=(bash -c)
fi
pg() { "${as_pg[@]}" "$*"; }

stop() {
  local rc=$?
  [[ -f $T/replica/postmaster.pid ]] && pg "$bin/pg_ctl -D $T/replica -m immediate stop" >/dev/null 2>&1 || true
  [[ -f $T/db/postmaster.pid ]] && pg "$bin/pg_ctl -D $T/db -m fast stop" >/dev/null 2>&1 || true
  rm -rf "$T"
  exit $rc
}
trap stop EXIT
trap 'exit 130' INT TERM

opts="-k $T -c listen_addresses= -c max_connections=400 -c shared_buffers=64MB"
$fast && opts+=" -c fsync=off -c full_page_writes=off"
pg "$bin/initdb -D $T/db -A trust -U hearth -E UTF8 --locale=C.UTF-8 >/dev/null"
pg "$bin/pg_ctl -D $T/db -o '$opts' -l $T/primary.log -w start >/dev/null"
export HEARTH_TEST_DATABASE="host=$T user=hearth dbname=postgres"
log "primary on $T (HEARTH_TEST_DATABASE='$HEARTH_TEST_DATABASE')"

if $replica; then
  mkdir -p "$T/r"
  [[ $(id -u) -eq 0 ]] && chown postgres "$T/r"
  pg "$bin/pg_basebackup -h $T -U hearth -D $T/replica -R -X stream >/dev/null"
  pg "$bin/pg_ctl -D $T/replica -o '-k $T/r -p 5433 -c listen_addresses= -c max_connections=400 -c hot_standby=on' -l $T/replica.log -w start >/dev/null" || { cat "$T/replica.log" >&2; exit 1; }
  export HEARTH_TEST_REPLICA="host=$T/r port=5433 user=hearth dbname=postgres"
  log "replica on $T/r (HEARTH_TEST_REPLICA='$HEARTH_TEST_REPLICA')"
fi

"$@"
