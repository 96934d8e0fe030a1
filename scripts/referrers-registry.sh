#!/usr/bin/env bash
# scripts/referrers-registry.sh install|start|stop|env: a second local registry WITH the OCI 1.1
# referrers API (ferro-oci-server from crates.io) for the referrers tests' API path. The
# shared distribution 2.8 registry on 127.0.0.1:5000 has no referrers API (fallback tags).
#   install: cargo install ferro-oci-server when missing: into $FERRO_ROOT/bin when FERRO_ROOT is
#            set, else into cargo's own bin directory (~/.cargo/bin), which a CI machine may keep
#            between runs, so that a clean clone does not compile it again
#   start:   runs it on 127.0.0.1:${FERRO_PORT:-5077} (idempotent), in-memory storage
#   stop:    stops the instance this script started (by its pid file)
#   env:     prints FERRO_REG=127.0.0.1:PORT
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
port=${FERRO_PORT:-5077}
if [ -n "${FERRO_ROOT:-}" ]; then
  root=$FERRO_ROOT
  install_root=(--root "$root")
  bin=$root/bin/ferro-oci-server
else
  # The binary lives in cargo's bin directory; the pid file, lock and log in target/ferro.
  root=$here/target/ferro
  install_root=()
  bin=${CARGO_HOME:-$HOME/.cargo}/bin/ferro-oci-server
fi
pidfile=$root/ferro.pid
mkdir -p "$root"
# Concurrent callers (tests run in parallel) install and start it once.
exec 9>"$root/.lock"
flock 9
install() {
  [ -x "$bin" ] || cargo install --locked ferro-oci-server --version 1.0.0 "${install_root[@]}" -j "${JOBS:-1}"
}
case "${1:-}" in
  install)
    install
    ;;
  start)
    install
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
