#!/usr/bin/env bash
# bench-audit.sh [CORPUS] [RUNS]: wall time of the vulnerability gate, side by side on the
# shared RustSec snapshot (../shared/advisory-db), medians of RUNS (default 5), interleaved:
#   1. on corpus/CORPUS (default rerun): `cargo metadata` vs our `audit --workspace`
#      (goal: <= 1.2x cargo metadata) and `cargo audit` on the same Cargo.lock;
#   2. on an image: `audit REF` (reads the image's verified SBOM referrer, no cargo
#      metadata) of a signed build of examples/hello-service in an OCI layout vs `cargo audit`
#      on the same lockfile (goal: faster).
# cargo-audit is installed into ~/.cargo/bin with `cargo install --locked` when missing.
set -euo pipefail
corpus=${1:-rerun}
runs=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$root/../shared}
db=$shared/advisory-db
cargo_home=${CARGO_HOME:-$HOME/.cargo}

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (apt)" >&2
  (apt-get update -qq && apt-get install -y -qq time >/dev/null)
fi
if [ ! -x "$cargo_home/bin/cargo-audit" ]; then
  echo "installing cargo-audit (cargo install --locked)" >&2
  cargo install cargo-audit --locked >&2
fi
audit_bin=$cargo_home/bin/cargo-audit
echo "building cargo-provenance (release)" >&2
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
ours=$root/target/release/cargo-provenance

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sh "$shared/corpus/make-repo.sh" "$corpus" "$work/$corpus"

# The image: a signed build of hello-service (native builder, OCI layout).
cp -r "$root/examples/hello-service" "$work/hello"
rm -rf "$work/hello/target"
(cd "$work/hello" && git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm b)
export COSIGN_PASSWORD=bench
"$ours" keygen --output-dir "$work/keys" -q
(cd "$work/hello" && CARGO_TARGET_DIR="$work/hello-target" "$ours" build --builder native --offline \
  --key "$work/keys/cosign.key" --output-dir "$work/out" -q)
ref="oci:$work/out/oci"

once() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >/dev/null 2>"$work/$name.stderr" || {
    local rc=$?; [ "$rc" = 1 ] || { cat "$work/$name.stderr" >&2; exit "$rc"; }; }
  cat "$work/time.out" >>"$work/$name"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

cd "$work/$corpus"
# Warm-up (caches), not measured.
cargo metadata --format-version 1 --locked >/dev/null
"$ours" audit --workspace --offline --advisory-db "$db" -q >/dev/null || true
"$audit_bin" audit --no-fetch --db "$db" --json >/dev/null 2>&1 || true
"$ours" audit "$ref" --key "$work/keys/cosign.pub" --offline --advisory-db "$db" -q >/dev/null || true

for _ in $(seq "$runs"); do
  once metadata cargo metadata --format-version 1 --locked
  once ours "$ours" audit --workspace --offline --advisory-db "$db" --format json
  once cargo_audit "$audit_bin" audit --no-fetch --db "$db" --json
  once ours_ref "$ours" audit "$ref" --key "$work/keys/cosign.pub" --offline --advisory-db "$db" --format json
  once cargo_audit_hello "$audit_bin" audit --no-fetch --db "$db" --json --file "$work/hello/Cargo.lock"
done

m=$(cut -d' ' -f1 "$work/metadata" | median)
o=$(cut -d' ' -f1 "$work/ours" | median)
a=$(cut -d' ' -f1 "$work/cargo_audit" | median)
r=$(cut -d' ' -f1 "$work/ours_ref" | median)
h=$(cut -d' ' -f1 "$work/cargo_audit_hello" | median)
echo
echo "median of $runs runs, wall s (advisory database: $db)"
printf '%-52s %8s s\n' "cargo metadata (corpus/$corpus)" "$m"
printf '%-52s %8s s\n' "cargo provenance audit --workspace (corpus/$corpus)" "$o"
printf '%-52s %8s s\n' "cargo audit (corpus/$corpus Cargo.lock)" "$a"
printf '%-52s %8s s\n' "cargo provenance audit REF (hello-service image)" "$r"
printf '%-52s %8s s\n' "cargo audit (hello-service Cargo.lock)" "$h"
echo "runs: metadata $(cut -d' ' -f1 "$work/metadata" | tr '\n' ' ')"
echo "      ours     $(cut -d' ' -f1 "$work/ours" | tr '\n' ' ')"
echo "      ours REF $(cut -d' ' -f1 "$work/ours_ref" | tr '\n' ' ')"
echo
awk -v o="$o" -v m="$m" -v a="$a" -v r="$r" -v h="$h" 'BEGIN {
  r1 = o / m; r2 = h / r; r3 = a / o;
  printf "audit / cargo metadata          = %.2fx  (goal <= 1.2x)  %s\n", r1, (r1 <= 1.2 ? "ok" : "MISSED");
  printf "cargo audit / audit REF         = %.2fx  (goal > 1x)     %s\n", r2, (r2 > 1 ? "ok" : "MISSED");
  printf "cargo audit / audit (project)   = %.2fx  (for information)\n", r3;
}'
