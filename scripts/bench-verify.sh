#!/usr/bin/env bash
# scripts/bench-verify.sh [RUNS]: times `cargo provenance verify` on one image with its
# referrers, read from an OCI layout and from the local registry (127.0.0.1:5000, fallback
# tags), beside `cosign verify-attestation` on the same image and the same attestation, in
# the same run. Prints the mean wall time per verification and the ratios.
#
# The image is the peers' local/busybox:1.35 pushed to a fresh repository; cosign attests it
# (SLSA v1 predicate with our buildType, bundle referrer, no transparency log); `push` copies
# image and referrer into a layout. Set CARGO_PROVENANCE=path to time a given binary
# (default: a release build of this checkout); BEFORE=path times another binary of ours in
# the same runs (before/after a change). Runs are paired and interleaved (see below).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-15}
eval "$(bash "$here/../shared/tools/setup-peers.sh" env)"
bin=${CARGO_PROVENANCE:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin cargo-provenance
  bin=$here/target/release/cargo-provenance
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo=127.0.0.1:5000/bench-verify-$$-$RANDOM

docker tag local/busybox:1.35 "$repo:v1"
docker push -q "$repo:v1" >/dev/null
docker rmi -f "$repo:v1" >/dev/null 2>&1 || true
digest=$(oras resolve --plain-http "$repo:v1")
(cd "$work" && COSIGN_PASSWORD=bench cosign generate-key-pair >/dev/null 2>&1)
cat >"$work/predicate.json" <<JSON
{"buildDefinition": {"buildType": "https://cargo-provenance.dev/build/v1",
  "externalParameters": {"source": {"uri": "git+https://github.com/example/hello-service",
    "ref": "refs/heads/main", "commit": "0123456789abcdef0123456789abcdef01234567"},
    "packages": ["hello-service"], "binaries": ["hello-service"], "profile": "release",
    "target": "x86_64-unknown-linux-gnu", "builder": "native", "baseImage": "scratch",
    "platforms": ["linux/amd64"]},
  "resolvedDependencies": []},
 "runDetails": {"builder": {"id": "https://cargo-provenance.dev/builders/local/v1"}}}
JSON
COSIGN_PASSWORD=bench cosign attest --yes --key "$work/cosign.key" --type slsaprovenance1 \
  --predicate "$work/predicate.json" --new-bundle-format --tlog-upload=false \
  --allow-http-registry "$repo@$digest" >/dev/null 2>&1
echo '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"certificateAuthorities":[],"ctlogs":[],"timestampAuthorities":[]}' >"$work/root.json"
"$bin" push -q "$repo:v1" "oci:$work/oci:v1"

ours_layout=("$bin" verify "oci:$work/oci:v1" --key "$work/cosign.pub" --builder-id https://cargo-provenance.dev/builders/local/v1 -q)
ours_registry=("$bin" verify "$repo:v1" --key "$work/cosign.pub" --builder-id https://cargo-provenance.dev/builders/local/v1 -q)
theirs=(cosign verify-attestation --key "$work/cosign.pub" --type slsaprovenance1 --new-bundle-format
  --trusted-root "$work/root.json" --insecure-ignore-tlog=true --allow-http-registry "$repo:v1")

ms_of() { # one run of the command, in ms (fractional)
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@" >&2 || true; exit 1; }
  t1=$(date +%s%N)
  echo "scale=3; ($t1 - $t0) / 1000000" | bc
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Paired, interleaved: every run times each command once, in an order that rotates, and the
# ratios are taken within the run; medians of the times and of the per-run ratios are printed.
names=("ours-layout" "ours-registry" "cosign")
cmds=("ours_layout" "ours_registry" "theirs")
if [ -n "${BEFORE:-}" ]; then
  before_layout=("$BEFORE" "${ours_layout[@]:1}")
  before_registry=("$BEFORE" "${ours_registry[@]:1}")
  names+=("before-layout" "before-registry")
  cmds+=("before_layout" "before_registry")
fi
run_named() { local -n arr=$1; ms_of "${arr[@]}"; }
for c in "${cmds[@]}"; do run_named "$c" >/dev/null; done # warm-up
declare -A T
declare -a R_LAYOUT R_REGISTRY R_BEFORE
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start" >&2
n=${#cmds[@]}
for i in $(seq "$runs"); do
  declare -A t=()
  for k in $(seq 0 $((n - 1))); do
    j=$(( (k + i) % n ))
    t[$j]=$(run_named "${cmds[$j]}")
    T[$j]="${T[$j]:-} ${t[$j]}"
  done
  R_LAYOUT+=("$(echo "scale=4; ${t[2]} / ${t[0]}" | bc)")
  R_REGISTRY+=("$(echo "scale=4; ${t[2]} / ${t[1]}" | bc)")
  [ -n "${BEFORE:-}" ] && R_BEFORE+=("$(echo "scale=4; ${t[4]} / ${t[1]}" | bc)")
  unset t
done
echo "verify one image + 1 attestation referrer, $runs paired runs (medians)"
for k in $(seq 0 $((n - 1))); do
  # shellcheck disable=SC2086
  printf '%-20s %8.1f ms\n' "${names[$k]}" "$(median ${T[$k]})"
done
echo "cosign / ours (layout):   $(median "${R_LAYOUT[@]}")x faster (goal: layout <= 10 ms)"
echo "cosign / ours (registry): $(median "${R_REGISTRY[@]}")x faster (goal >= 5x)"
[ -n "${BEFORE:-}" ] && echo "before / ours (registry): $(median "${R_BEFORE[@]}")x"
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end" >&2
