#!/usr/bin/env bash
# scripts/referrers-registry.sh install|start|stop|env: a second local registry WITH the OCI 1.1
# referrers API (ferro-oci-server from crates.io) for the referrers tests' API path. The
# shared distribution 2.8 registry on 127.0.0.1:5000 has no referrers API (fallback tags).
#   install: cargo install ferro-oci-server into $FERRO_ROOT (default target/ferro)
#   start:   runs it on 127.0.0.1:${FERRO_PORT:-5077} (idempotent), in-memory storage
#   stop:    stops the instance this script started (by its pid file)
#   env:     prints FERRO_REG=127.0.0.1:PORT
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=${FERRO_ROOT:-$here/target/ferro}
port=${FERRO_PORT:-5077}
bin=$root/bin/ferro-oci-server
pidfile=$root/ferro.pid
mkdir -p "$root"
# Concurrent callers (tests run in parallel) install and start it once.
exec 9>"$root/.lock"
flock 9
case "${1:-}" in
  install)
    [ -x "$bin" ] || cargo install --locked ferro-oci-server --version 1.0.0 --root "$root" -j "${JOBS:-1}"
    ;;
  start)
    [ -x "$bin" ] || cargo install --locked ferro-oci-server --version 1.0.0 --root "$root" -j "${JOBS:-1}"
    if curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then exit 0; fi
    FERRO_OCI_LISTEN=127.0.0.1:$port RUST_LOG=warn nohup "$bin" >"$root/ferro.log" 2>&1 9>&- &
    echo $! >"$pidfile"
    for _ in $(seq 50); do
      curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && exit 0
      sleep 0.2
    done
    echo "error: ferro-oci-server did not answer on 127.0.0.1:$port (see $root/ferro.log)" >&2
    exit 2
    ;;
  stop)
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
    ;;
  env)
    echo "FERRO_REG=127.0.0.1:$port"
    ;;
  *) echo "usage: $0 install|start|stop|env" >&2; exit 2 ;;
esac
