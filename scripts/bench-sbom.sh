#!/usr/bin/env bash
# bench-sbom.sh [CORPUS] [RUNS]: wall time and peak RSS of, in one go on the same corpus
# workspace (default rerun), `cargo metadata`, our `cargo provenance sbom --workspace`, and
# cargo-cyclonedx; prints medians and the ratios against the goals (issue 3):
#   ours <= 1.2x `cargo metadata` wall, >= 8x faster than cargo-cyclonedx,
#   our own process <= 100 MiB peak RSS (VmHWM, printed by `sbom -v`; /usr/bin/time counts
#   the largest process of the tree, i.e. the cargo metadata child).
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
if [ ! -x "$tools/bin/cargo-cyclonedx" ]; then
  echo "installing cargo-cyclonedx into $tools (about 5 minutes)" >&2
  cargo install cargo-cyclonedx --locked --root "$tools" >&2
fi
echo "building cargo-provenance (release)" >&2
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
ours=$root/target/release/cargo-provenance

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sh "$shared/corpus/make-repo.sh" "$corpus" "$work/$corpus"
cd "$work/$corpus"

# One warm-up of each (downloads, caches), not measured.
cargo metadata --format-version 1 --locked --all-features >/dev/null
"$ours" sbom --workspace --output "$work/ours.json" -q
"$tools/bin/cargo-cyclonedx" cyclonedx --format json --spec-version 1.5 --override-filename bom >/dev/null 2>&1 || true

# once NAME CMD...: appends "wall_s rss_kib" of one run to $work/NAME.
once() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >/dev/null 2>"$work/$name.stderr"
  cat "$work/time.out" >>"$work/$name"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Interleaved, so that load from other jobs on the machine hits all three alike.
for _ in $(seq "$runs"); do
  once metadata cargo metadata --format-version 1 --locked
  once ours "$ours" sbom --workspace --output "$work/ours.json"
  once cyclonedx "$tools/bin/cargo-cyclonedx" cyclonedx --format json --spec-version 1.5 --override-filename bom
done

# Our own peak RSS: VmHWM printed by `sbom -v` (the last run's stderr).
self_mib=$("$ours" sbom --workspace --output "$work/ours.json" -v 2>&1 | sed -n 's/.*Peak memory \([0-9]*\) MiB.*/\1/p')

m_wall=$(cut -d' ' -f1 "$work/metadata" | median)
o_wall=$(cut -d' ' -f1 "$work/ours" | median)
c_wall=$(cut -d' ' -f1 "$work/cyclonedx" | median)
m_rss=$(( $(cut -d' ' -f2 "$work/metadata" | median | cut -d. -f1) / 1024 ))
o_rss=$(( $(cut -d' ' -f2 "$work/ours" | median | cut -d. -f1) / 1024 ))
c_rss=$(( $(cut -d' ' -f2 "$work/cyclonedx" | median | cut -d. -f1) / 1024 ))
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
echo
awk -v o="$o_wall" -v m="$m_wall" -v c="$c_wall" -v s="$self_mib" 'BEGIN {
  r1 = o / m; r2 = c / o;
  printf "ours / cargo metadata   = %.2fx  (goal <= 1.2x)  %s\n", r1, (r1 <= 1.2 ? "ok" : "MISSED");
  printf "cargo-cyclonedx / ours  = %.1fx  (goal >= 8x)    %s\n", r2, (r2 >= 8 ? "ok" : "MISSED");
  printf "our peak RSS            = %d MiB (goal <= 100)   %s\n", s, (s <= 100 ? "ok" : "MISSED");
}'
