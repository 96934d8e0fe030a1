#!/usr/bin/env bash
# bench-sbom.sh [CORPUS] [RUNS]: wall time and peak RSS of, in one go on the same corpus
# workspace (default rerun), `cargo metadata`, our `cargo provenance sbom --workspace`, and
# cargo-cyclonedx; prints medians, the median of the paired (same-round) ratios, and the
# goals (issues 3 and 19):
#   ours <= 1.05x `cargo metadata` wall (median of paired ratios), our own work after cargo
#   exits <= 50 ms (from `sbom -v`), >= 8x faster than cargo-cyclonedx,
#   our own process <= 100 MiB peak RSS (VmHWM, printed by `sbom -v`; /usr/bin/time counts
#   the largest process of the tree, i.e. the cargo metadata child).
# BEFORE=path times another binary of ours in the same rounds (before/after a change), with
# its own paired ratio and work after cargo; CARGO_PROVENANCE=path times a given binary
# instead of a release build of this checkout.
# cargo-cyclonedx is installed into target/bench-tools with `cargo install --locked` when
# missing (about 5 minutes); GNU time is installed with apt when missing.
set -euo pipefail
corpus=${1:-rerun}
runs=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$root/../shared}
tools=$root/target/bench-tools

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (apt)" >&2
  (apt-get update -qq && apt-get install -y -qq time >/dev/null)
fi
# CYCLONEDX=0 leaves cargo-cyclonedx out (no install, no runs).
# AS=cargo (default) runs ours as users run it, `cargo provenance sbom` (rustup's cargo proxy,
# cargo's subcommand dispatch, then ours, as scripts/bench-build.sh does; `cargo metadata` goes
# through the proxy too); cargo then names its toolchain to ours, whose answers are remembered
# (docs/inspect.md). AS=direct runs the binary itself (no dispatch; rustc is then rustup's
# proxy, asked every time).
cdx=${CYCLONEDX:-1}
if [ "$cdx" = 1 ] && [ ! -x "$tools/bin/cargo-cyclonedx" ]; then
  echo "installing cargo-cyclonedx into $tools (about 5 minutes)" >&2
  cargo install cargo-cyclonedx --locked --root "$tools" >&2
fi
ours=${CARGO_PROVENANCE:-}
if [ -z "$ours" ]; then
  echo "building cargo-provenance (release)" >&2
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  ours=$root/target/release/cargo-provenance
fi
ours=$(realpath "$ours")
before=${BEFORE:+$(realpath "$BEFORE")}
as=${AS:-cargo}
case $as in cargo | direct) ;; *) echo "error: AS=$as: expected cargo or direct" >&2; exit 2 ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# How ours is started: through cargo (a PATH of its own with our binary as
# `cargo-provenance`), or directly.
run_as() { # DIR BINARY: the command that starts BINARY
  case $as in
    cargo) mkdir -p "$work/$1" && ln -sf "$2" "$work/$1/cargo-provenance"
           echo "env PATH=$work/$1:$PATH cargo provenance" ;;
    *) echo "$2" ;;
  esac
}
ours_cmd=$(run_as path "$ours")
before_cmd=${before:+$(run_as path-before "$before")}
sh "$shared/corpus/make-repo.sh" "$corpus" "$work/$corpus"
cd "$work/$corpus"

# One warm-up of each (downloads, caches), not measured.
cargo metadata --format-version 1 --locked --all-features >/dev/null
$ours_cmd sbom --workspace --output "$work/ours.json" -q
if [ "$cdx" = 1 ]; then
  "$tools/bin/cargo-cyclonedx" cyclonedx --format json --spec-version 1.5 --override-filename bom >/dev/null 2>&1 || true
fi
: >"$work/cyclonedx"

# once NAME CMD...: appends "wall_s rss_kib" of one run to $work/NAME.
once() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >/dev/null 2>>"$work/$name.stderr"
  cat "$work/time.out" >>"$work/$name"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Interleaved, so that load from other jobs on the machine hits all three alike.
for _ in $(seq "$runs"); do
  once metadata cargo metadata --format-version 1 --locked
  once ours $ours_cmd sbom --workspace --output "$work/ours.json" -v
  if [ -n "$before" ]; then
    once before $before_cmd sbom --workspace --output "$work/before.json" -v
  fi
  if [ "$cdx" = 1 ]; then
    once cyclonedx "$tools/bin/cargo-cyclonedx" cyclonedx --format json --spec-version 1.5 --override-filename bom
  fi
done

# Our own peak RSS: VmHWM printed by `sbom -v` (the last run's stderr).
self_mib=$("$ours" sbom --workspace --output "$work/ours.json" -v 2>&1 | sed -n 's/.*Peak memory \([0-9]*\) MiB.*/\1/p')

m_wall=$(cut -d' ' -f1 "$work/metadata" | median)
o_wall=$(cut -d' ' -f1 "$work/ours" | median)
c_wall=$(cut -d' ' -f1 "$work/cyclonedx" | median)
c_wall=${c_wall:-0}
m_rss=$(( $(cut -d' ' -f2 "$work/metadata" | median | cut -d. -f1) / 1024 ))
o_rss=$(( $(cut -d' ' -f2 "$work/ours" | median | cut -d. -f1) / 1024 ))
c_kib=$(cut -d' ' -f2 "$work/cyclonedx" | median | cut -d. -f1)
c_rss=$(( ${c_kib:-0} / 1024 ))
c_files=$(find . -name 'bom.json' | wc -l)
c_bytes=$(find . -name 'bom.json' -print0 | xargs -0 cat | wc -c)
o_bytes=$(wc -c <"$work/ours.json")

echo
echo "corpus/$corpus, median of $runs runs (wall s / peak RSS of the process tree)"
printf '%-34s %8s s %6s MiB\n' "cargo metadata" "$m_wall" "$m_rss"
printf '%-34s %8s s %6s MiB   (own process: %s MiB; 1 file, %s bytes)\n' "cargo provenance sbom --workspace" "$o_wall" "$o_rss" "$self_mib" "$o_bytes"
printf '%-34s %8s s %6s MiB   (%s files, %s bytes)\n' "cargo-cyclonedx (json, 1.5)" "$c_wall" "$c_rss" "$c_files" "$c_bytes"
echo "runs (wall s): metadata $(cut -d' ' -f1 "$work/metadata" | tr '\n' ' ')"
echo "               ours     $(cut -d' ' -f1 "$work/ours" | tr '\n' ' ')"
echo "               cyclonedx $(cut -d' ' -f1 "$work/cyclonedx" | tr '\n' ' ')"
# Paired ratios (ours / cargo metadata of the same round), and from `sbom -v`: when cargo
# metadata exited inside ours, and our own work after it.
paired=$(paste -d' ' "$work/ours" "$work/metadata" | awk '{printf "%.3f\n", $1 / $3}')
p_ratio=$(echo "$paired" | median)
inside=$(sed -n 's/.*cargo metadata exited at \([0-9]*\) ms.*/\1/p' "$work/ours.stderr")
after=$(sed -n 's/.*our work after it \([0-9]*\) ms.*/\1/p' "$work/ours.stderr")
i_med=$(echo "$inside" | median)
a_med=$(echo "$after" | median)
echo "paired ratios ours/metadata: $(echo "$paired" | tr '\n' ' ')"
echo "cargo metadata inside ours (ms, exit time): $(echo "$inside" | tr '\n' ' ') (median $i_med; alone median ${m_wall}s)"
echo "our work after cargo exits (ms):            $(echo "$after" | tr '\n' ' ') (median $a_med)"
if [ -n "$before" ]; then
  b_paired=$(paste -d' ' "$work/before" "$work/metadata" | awk '{printf "%.3f\n", $1 / $3}')
  b_after=$(sed -n 's/.*our work after it \([0-9]*\) ms.*/\1/p' "$work/before.stderr")
  echo "BEFORE: paired ratios $(echo "$b_paired" | tr '\n' ' ') (median $(echo "$b_paired" | median))"
  echo "BEFORE: work after cargo exits (ms) $(echo "$b_after" | tr '\n' ' ') (median $(echo "$b_after" | median))"
  cmp -s "$work/ours.json" "$work/before.json" && echo "BEFORE: the same SBOM bytes" || echo "BEFORE: the SBOMs differ"
fi
echo "ours started as: $as"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
awk -v o="$o_wall" -v m="$m_wall" -v c="$c_wall" -v s="$self_mib" -v p="$p_ratio" -v a="$a_med" 'BEGIN {
  r1 = o / m; r2 = c / o;  # c is 0 with CYCLONEDX=0
  printf "ours / cargo metadata   = %.2fx of medians; %.2fx median of paired ratios (goal <= 1.05x)  %s\n", r1, p, (p <= 1.05 ? "ok" : "MISSED");
  printf "our work after cargo    = %d ms median (goal <= 50 ms)  %s\n", a, (a <= 50 ? "ok" : "MISSED");
  printf "cargo-cyclonedx / ours  = %.1fx  (goal >= 8x)    %s\n", r2, (r2 >= 8 ? "ok" : "MISSED");
  printf "our peak RSS            = %d MiB (goal <= 100)   %s\n", s, (s <= 100 ? "ok" : "MISSED");
}'
