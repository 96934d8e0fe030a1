#!/usr/bin/env bash
# scripts/bench-keyless.sh [RUNS]: what keyless signing costs. Paired, interleaved runs of
# `cargo provenance build --builder native` on examples/hello-service (cargo's output cached),
# signed with a key and signed keyless against the local Sigstore stack (GitHub Actions
# emulation), in the same loop. Prints the mean wall time of each, the difference, and the
# keyless breakdown `build -v` reports: waiting for the token, Fulcio, Rekor+TSA (concurrent),
# and our own work (ephemeral key, signatures, bundle assembly, verifying every bundle against
# the trusted root). Set CARGO_PROVENANCE=path to time a given binary (default: a release
# build of this checkout).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10}
eval "$(bash "$here/../shared/tools/sigstore-stack.sh" env)"
bin=${CARGO_PROVENANCE:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin cargo-provenance
  bin=$here/target/release/cargo-provenance
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/examples/hello-service" "$work/repo"
rm -rf "$work/repo/target"
(cd "$work/repo" && git init -q -b main && git add -A &&
  git -c user.email=bench@example.com -c user.name=bench commit -q -m bench &&
  git remote add origin https://github.com/example/hello-service)
sha=$(git -C "$work/repo" rev-parse HEAD)
(cd "$work" && COSIGN_PASSWORD=bench "$bin" provenance keygen >/dev/null 2>&1)
export CARGO_TARGET_DIR=$work/target COSIGN_PASSWORD=bench
gh_env=(GITHUB_ACTIONS=true GITHUB_SERVER_URL=https://github.com GITHUB_REPOSITORY=example/hello-service
  GITHUB_SHA=$sha GITHUB_REF=refs/heads/main
  GITHUB_WORKFLOW_REF=example/hello-service/.github/workflows/release.yml@refs/heads/main
  GITHUB_RUN_ID=1 GITHUB_RUN_ATTEMPT=1
  "ACTIONS_ID_TOKEN_REQUEST_URL=$ACTIONS_ID_TOKEN_REQUEST_URL&repository=example/hello-service&workflow_file=.github/workflows/release.yml&ref=refs/heads/main&sha=$sha")
key() { (cd "$work/repo" && "$bin" provenance build --builder native --offline --key "$work/cosign.key" --output-dir "$work/out-key" -q); }
keyless() {
  (cd "$work/repo" && env "${gh_env[@]}" "$bin" provenance build --builder native --offline --keyless \
    --signing-config "$SIGSTORE_STACK_SIGNING_CONFIG" --trusted-root "$SIGSTORE_STACK_TRUSTED_ROOT" \
    --output-dir "$work/out-keyless" -v 2>&1 | grep 'Keyless .* signature(s):' >>"$work/timings")
}
key; keyless; : >"$work/timings"   # warm-up: cargo's cache, the stack
now() { date +%s%N; }
tk=0; tl=0
for _ in $(seq "$runs"); do
  a=$(now); key; b=$(now); keyless; c=$(now)
  tk=$((tk + b - a)); tl=$((tl + c - b))
done
awk -v runs="$runs" -v tk="$tk" -v tl="$tl" '
  { for (i = 1; i <= NF; i++) {
      if ($i == "token") tok += $(i+1); if ($i == "Fulcio") ful += $(i+1);
      if ($i == "Rekor+TSA") log_ += $(i+1); if ($i == "work") own += $(i+1);
      if ($i == "bundles") ver += $(i+1); if ($i == "Keyless") n = $(i+1)
      if ($i == "key" && $(i-1) == "ephemeral") key += $(i+1) } }
  END {
    printf "runs: %d pairs, %d signatures per keyless build\n", runs, n
    printf "build --key:     %8.1f ms mean wall\n", tk / runs / 1e6
    printf "build --keyless: %8.1f ms mean wall (ratio %.2f)\n", tl / runs / 1e6, tl / tk
    printf "keyless breakdown (means): token %.1f ms, Fulcio %.1f ms, Rekor+TSA %.1f ms (services)\n", tok/runs, ful/runs, log_/runs
    printf "                           our own work %.1f ms, of which the ephemeral key %.1f ms, verifying the bundles %.1f ms\n", own/runs, key/runs, ver/runs
  }' "$work/timings"
