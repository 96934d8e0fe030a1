#!/usr/bin/env bash
# scripts/bench-auditable.sh: the build-time cost of the cargo-auditable data. Wall time of
# `cargo provenance build --builder native --no-sign` on examples/hello-service with the data
# (the default) and with `--no-auditable`, paired and interleaved in the same run (the order
# alternates each round), each side with its own target directory. Prints each run, the
# medians and the ratio.
#
# SCENARIO=incremental (default): each run first touches src/main.rs, so every run
# recompiles and relinks the binary crate while dependencies stay cached (the case where the
# fixed cost of resolving the crates and running the wrapper weighs most).
# Env: RUNS (default 9), SCENARIO, CP_BIN (our binary; default: `cargo build --release` of
# this repository). Needs no peer.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-9}
SCENARIO=${SCENARIO:-incremental}
[ "$SCENARIO" = incremental ] || { echo "error: SCENARIO=$SCENARIO: only incremental" >&2; exit 2; }

if [ -z "${CP_BIN:-}" ]; then
  (cd "$here" && cargo build --release --quiet --locked --bin cargo-provenance)
  CP_BIN="$here/target/release/cargo-provenance"
fi

W=$(mktemp -d /tmp/bench-auditable.XXXXXX)
trap 'rm -rf "$W"' EXIT
cp -r "$here/examples/hello-service" "$W/app"
rm -rf "$W/app/target"
cd "$W/app"
git init -q && git add -A
GIT_COMMITTER_DATE=2024-01-02T03:04:05Z GIT_AUTHOR_DATE=2024-01-02T03:04:05Z \
  git -c user.name=bench -c user.email=bench@example.com commit -qm bench
export SOURCE_DATE_EPOCH=1704164645
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS RUSTC_WORKSPACE_WRAPPER

run() { # side -> seconds
  local side=$1 extra=()
  [ "$side" = off ] && extra=(--no-auditable)
  touch src/main.rs
  local t0 t1
  t0=$(date +%s.%N)
  CARGO_TARGET_DIR="$W/target-$side" "$CP_BIN" provenance build -q --builder native --no-sign \
    --offline --output-dir "$W/out-$side" "${extra[@]}" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}

# Warm-up: both target directories compiled once.
run on >/dev/null
run off >/dev/null

on=() off=()
for i in $(seq 1 "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then
    a=$(run on); b=$(run off)
  else
    b=$(run off); a=$(run on)
  fi
  on+=("$a"); off+=("$b")
  printf 'run %2d  auditable %6.3fs  --no-auditable %6.3fs\n' "$i" "$a" "$b"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
m_on=$(median "${on[@]}")
m_off=$(median "${off[@]}")
printf 'median  auditable %.3fs  --no-auditable %.3fs  ratio %.3f  (+%.3fs)\n' \
  "$m_on" "$m_off" "$(echo "$m_on / $m_off" | bc -l)" "$(echo "$m_on - $m_off" | bc -l)"
