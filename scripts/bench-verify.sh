#!/usr/bin/env bash
# scripts/bench-verify.sh [RUNS]: times `cargo provenance verify` on one image with its
# referrers, read from an OCI layout and from the local registry (127.0.0.1:5000, fallback
# tags), beside `cosign verify-attestation` on the same image and the same attestation, in
# the same run. Prints the mean wall time per verification and the ratios.
#
# The image is the peers' local/busybox:1.35 pushed to a fresh repository; cosign attests it
# (SLSA v1 predicate with our buildType, bundle referrer, no transparency log); `push` copies
# image and referrer into a layout. Set CARGO_PROVENANCE=path to time a given binary
# (default: a release build of this checkout).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10}
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

mean_ms() { # runs the command $runs times (after one warm-up) and prints the mean in ms
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@" >&2 || true; exit 1; }
  local start end
  start=$(date +%s%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null 2>&1; done
  end=$(date +%s%N)
  echo $(( (end - start) / runs / 1000000 ))
}
a=$(mean_ms "${ours_layout[@]}")
b=$(mean_ms "${ours_registry[@]}")
c=$(mean_ms "${theirs[@]}")
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y == 0) print "n/a"; else printf "%.2f", x / y }'; }
echo "verify one image + 1 attestation referrer, mean of $runs runs"
printf '%-52s %6s ms\n' "cargo provenance verify (OCI layout)" "$a"
printf '%-52s %6s ms\n' "cargo provenance verify (registry, fallback tag)" "$b"
printf '%-52s %6s ms\n' "cosign verify-attestation (registry)" "$c"
echo "ratio ours(layout)/cosign:   $(ratio "$a" "$c")"
echo "ratio ours(registry)/cosign: $(ratio "$b" "$c")"
