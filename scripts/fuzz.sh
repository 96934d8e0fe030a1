#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [TARGET...]: builds every fuzz target under fuzz/ and runs each for
# SECONDS (default 10) on a corpus seeded from real files (fuzz/seed.sh). CI runs it with a
# few seconds a target so that none rots; run it with 600 for the ten-minute runs.
#
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer, sancov). This machine has only the
# stable toolchain, so the build sets RUSTC_BOOTSTRAP=1, which lets stable rustc accept them;
# the sanitizer runtimes ship with the stable toolchain's rust-std (librustc-stable_rt.*).
# cargo-fuzz itself is installed from crates.io when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
shift || true
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz (missing)"
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi
bash fuzz/seed.sh
echo "== building ${#targets[@]} fuzz targets"
cargo fuzz build --fuzz-dir fuzz -O 2>&1 | tail -3
for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${secs}s"
  rm -rf "fuzz/artifacts/$t"
  # -rss_limit_mb and -timeout: an input that needs over 1 s or 2 GiB is a finding.
  cargo fuzz run --fuzz-dir fuzz -O "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -timeout=1 -rss_limit_mb=2048 -print_final_stats=1 2>&1 |
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done|==|SUMMARY|ERROR|.*panicked)' || true
  if [ -d "fuzz/artifacts/$t" ] && [ -n "$(ls -A "fuzz/artifacts/$t" 2>/dev/null)" ]; then
    echo "error: fuzz target $t found a crash: fuzz/artifacts/$t" >&2
    exit 1
  fi
done
echo "fuzz: ${#targets[@]} targets ran ${secs}s each without a finding"
