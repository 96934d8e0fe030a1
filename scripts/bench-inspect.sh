#!/bin/sh
# bench-inspect.sh [CORPUS]: times `cargo provenance inspect` beside `cargo metadata` on a
# corpus workspace (default: rerun) made a git repository with ../shared/corpus/make-repo.sh,
# in the same run, interleaved, and prints the ratio of the medians and the median of the
# paired (same-round) ratios (goal, issue 19: <= 1.05).
#
#   N=7 scripts/bench-inspect.sh rerun      # runs per command (default 5)
#   BIN=path/to/cargo-provenance ...       # skip building the release binary
#   BEFORE=path/to/other/cargo-provenance  # also time another binary in every round
#                                          # (before/after a change; its paired ratios too)
#
# The ratio comes from a loop in which the two commands alternate, so that load from other
# jobs on a shared machine hits both alike. With HYPERFINE=1 (and hyperfine installed:
# apt-get install hyperfine) hyperfine's statistics are printed as well; hyperfine runs all
# of one command before the other, so its ratio drifts with the machine's load.
# Both commands resolve the same thing: `--locked --all-features`, every platform.
# AS=cargo (default) runs ours as users run it, `cargo provenance inspect` (rustup's cargo
# proxy, cargo's subcommand dispatch, then ours; `cargo metadata` goes through the proxy too),
# so cargo names its toolchain to ours; AS=direct runs the binary itself.
set -eu

name=${1:-rerun}
runs=${N:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=$root/../shared
[ -f "$shared/corpus/make-repo.sh" ] || {
    echo "bench-inspect: $shared/corpus/make-repo.sh not found (shared/ must sit beside the checkout)" >&2
    exit 2
}

if [ -z "${BIN:-}" ]; then
    echo "bench-inspect: building the release binary" >&2
    (cd "$root" && cargo build --release --quiet --bin cargo-provenance)
    BIN=$root/target/release/cargo-provenance
fi
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
BEFORE=${BEFORE:-}
case $BEFORE in /* | "") ;; *) BEFORE=$(pwd)/$BEFORE ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
sh "$shared/corpus/make-repo.sh" "$name" "$work/$name"
manifest=$work/$name/Cargo.toml

case ${AS:-cargo} in cargo | direct) ;; *) echo "bench-inspect: AS=$AS: expected cargo or direct" >&2; exit 2 ;; esac
# How ours is started: through cargo (a PATH of its own with the binary as
# `cargo-provenance`), or directly.
run_as() { # DIR BINARY
    case ${AS:-cargo} in
        cargo) mkdir -p "$work/$1" && ln -sf "$2" "$work/$1/cargo-provenance"
               echo "env PATH=$work/$1:$PATH cargo provenance" ;;
        *) echo "$2" ;;
    esac
}
meta_cmd="cargo metadata --format-version 1 --locked --all-features --manifest-path $manifest"
insp_cmd="$(run_as path "$BIN") inspect --all-features --format json --manifest-path $manifest"
before_cmd="$( [ -z "$BEFORE" ] || run_as path-before "$BEFORE") inspect --all-features --format json --manifest-path $manifest"

# Warm up: downloads crates on the first use, fills the page cache, checks both work.
echo "bench-inspect: warming up on corpus/$name" >&2
$meta_cmd > /dev/null
$insp_cmd > "$work/inspect.json"
$meta_cmd > "$work/metadata.json"

packages=$(grep -c '^name = ' "$work/$name/Cargo.lock" || true)
echo "corpus/$name: $packages Cargo.lock packages; cargo metadata output $(wc -c < "$work/metadata.json") bytes, inspect output $(wc -c < "$work/inspect.json") bytes"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); ours started as: ${AS:-cargo}"

if [ "${HYPERFINE:-0}" = 1 ] && command -v hyperfine > /dev/null 2>&1; then
    hyperfine --style basic --warmup 1 --runs "$runs" \
        --command-name "cargo metadata" "$meta_cmd" \
        --command-name "cargo provenance inspect" "$insp_cmd" \
        --export-json "$work/hyperfine.json" >&2
    python3 - "$work/hyperfine.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
meta, insp = r[0]["median"], r[1]["median"]
print(f"hyperfine median wall: cargo metadata {meta:.3f} s, inspect {insp:.3f} s, ratio {insp / meta:.2f}x")
EOF
fi

# A simple loop: the two commands alternate so that load changes hit both alike.
now() { date +%s.%N; }
: > "$work/meta.times"
: > "$work/insp.times"
: > "$work/before.times"
[ -z "$BEFORE" ] || $before_cmd > /dev/null
i=0
while [ "$i" -lt "$runs" ]; do
    t0=$(now); $meta_cmd > /dev/null; t1=$(now)
    $insp_cmd > /dev/null; t2=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f\n", b - a}' >> "$work/meta.times"
    awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.3f\n", b - a}' >> "$work/insp.times"
    if [ -n "$BEFORE" ]; then
        t3=$(now); $before_cmd > /dev/null; t4=$(now)
        awk -v a="$t3" -v b="$t4" 'BEGIN{printf "%.3f\n", b - a}' >> "$work/before.times"
    fi
    i=$((i + 1))
done
median() { sort -g "$1" | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
m=$(median "$work/meta.times")
s=$(median "$work/insp.times")
echo "runs: $runs each, interleaved"
echo "cargo metadata: $(sort -g "$work/meta.times" | tr '\n' ' ')"
echo "inspect:        $(sort -g "$work/insp.times" | tr '\n' ' ')"
paste -d' ' "$work/insp.times" "$work/meta.times" | awk '{printf "%.3f\n", $1 / $2}' > "$work/ratios"
r=$(median "$work/ratios")
echo "paired ratios:  $(cat "$work/ratios" | tr '\n' ' ')"
if [ -n "$BEFORE" ]; then
    paste -d' ' "$work/before.times" "$work/meta.times" | awk '{printf "%.3f\n", $1 / $2}' > "$work/before.ratios"
    echo "BEFORE:         $(sort -g "$work/before.times" | tr '\n' ' ')"
    echo "BEFORE paired:  $(cat "$work/before.ratios" | tr '\n' ' ')(median $(median "$work/before.ratios")x)"
fi
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (after)"
awk -v m="$m" -v s="$s" -v r="$r" 'BEGIN{printf "median wall: cargo metadata %.3f s, inspect %.3f s, ratio of medians %.2fx; median of paired ratios %.2fx (goal <= 1.05x) %s\n", m, s, s / m, r, (r <= 1.05 ? "ok" : "MISSED")}'
