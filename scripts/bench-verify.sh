#!/usr/bin/env bash
# scripts/bench-verify.sh [RUNS]: times `cargo provenance verify` on one image with its
# referrers, read from an OCI layout and from the local registry (127.0.0.1:5000, fallback
# tags), beside cosign 3.1 `verify-attestation` on the same image and the same attestation, in
# the same run; then (BENCH_BUILT=1, the default) the same on examples/hello-service built,
# signed and pushed by ours. Prints the median wall time per verification and the ratios.
#
# The image is the peers' local/busybox:1.35 pushed to a fresh repository; cosign attests it
# (SLSA v1 predicate with our buildType, bundle referrer, no transparency log); `push` copies
# image and referrer into a layout. Set CARGO_PROVENANCE=path to time a given binary
# (default: a release build of this checkout); BEFORE=path times another binary of ours in
# the same runs (before/after a change). Runs are paired and interleaved (see below).
#
# Keyless case (needs the local Sigstore stack, ../shared/tools/sigstore-stack.sh start): cosign
# 3.1 attests the same image, pushed to a second repository, keyless with a GitHub Actions token of the stack (a bundle
# referrer with a Fulcio certificate, Rekor v1 entry and TSA timestamp); then `verify` with
# the identity flags and the stack's --trusted-root (layout and registry) and cosign 3.1
# `verify-attestation` with the same flags run in pairs, interleaved (ours, cosign, ours, ...),
# and the mean of each and the ratio cosign/ours are printed. BENCH_KEYLESS=0 skips it.
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

# The same comparison on an image built, signed and pushed by ours (`build --builder native
# --key --push` of examples/hello-service): our referrers carry the referrer manifest inline in
# the fallback index and the bundle inline in the manifest (docs/referrers.md), so verify reads
# both from the listing. Ours verifies all of it (provenance, SBOM and image signature on the
# index and the platform manifest); cosign 3.1 the provenance on the index. BENCH_BUILT=0 skips.
built=${BENCH_BUILT:-1}
if [ "$built" = 1 ]; then
  COSIGN_PASSWORD=bench "$bin" build -q --manifest-path "$here/examples/hello-service/Cargo.toml" \
    --builder native --key "$work/cosign.key" --output-dir "$work/built" --push --image "$repo-built:v1" >/dev/null
fi

ours_layout=("$bin" verify "oci:$work/oci:v1" --key "$work/cosign.pub" --builder-id https://cargo-provenance.dev/builders/local/v1 -q)
ours_registry=("$bin" verify "$repo:v1" --key "$work/cosign.pub" --builder-id https://cargo-provenance.dev/builders/local/v1 -q)
# The issue's peer: cosign 3.1 ($COSIGN3 from setup-peers.sh; `cosign` on PATH is 2.5).
theirs=("${COSIGN3:?cosign 3.1 not found: run scripts/peers.sh install}" verify-attestation --key "$work/cosign.pub" --type slsaprovenance1 --new-bundle-format
  --trusted-root "$work/root.json" --insecure-ignore-tlog=true --allow-http-registry "$repo:v1")

# Wall time from bash's $EPOCHREALTIME (a builtin: no `date` process inside the timed span,
# whose two forks added ~2-3 ms to every command and flattened the ratios).
ms_of() { # one run of the command, in ms (fractional)
  local t0 t1
  t0=$EPOCHREALTIME
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@" >&2 || true; exit 1; }
  t1=$EPOCHREALTIME
  echo "scale=3; (${t1/./} - ${t0/./}) / 1000" | bc
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Paired, interleaved: every run times each command once, in an order shuffled afresh each run
# (seeded by the run's number, so an invocation is repeatable), and the ratios are taken within
# the run; medians of the times and of the per-run ratios are printed. Shuffled, not rotated: a
# rotation keeps every command behind the same one, and what ran just before (cosign's 40 ms
# of requests, or ours) moved a command's median by up to 4 ms, always the same way.
names=("ours-layout" "ours-registry" "cosign")
cmds=("ours_layout" "ours_registry" "theirs")
if [ -n "${BEFORE:-}" ]; then
  before_layout=("$BEFORE" "${ours_layout[@]:1}")
  before_registry=("$BEFORE" "${ours_registry[@]:1}")
  names+=("before-layout" "before-registry")
  cmds+=("before_layout" "before_registry")
fi
if [ "$built" = 1 ]; then
  ours_built=("$bin" verify "$repo-built:v1" --key "$work/cosign.pub" --builder-id https://cargo-provenance.dev/builders/local/v1 -q)
  theirs_built=("${theirs[@]}")
  theirs_built[-1]="$repo-built:v1"
  names+=("ours-registry-built" "cosign-built")
  cmds+=("ours_built" "theirs_built")
  if [ -n "${BEFORE:-}" ]; then
    before_built=("$BEFORE" "${ours_built[@]:1}")
    names+=("before-registry-built")
    cmds+=("before_built")
  fi
fi
shuffled() { # 0..$1-1 in an order seeded by $2 (Fisher-Yates)
  awk -v n="$1" -v seed="$2" 'BEGIN { srand(seed); for (k = 0; k < n; k++) a[k] = k
    for (k = n - 1; k > 0; k--) { j = int(rand() * (k + 1)); t = a[k]; a[k] = a[j]; a[j] = t }
    for (k = 0; k < n; k++) print a[k] }'
}
index_of() { local k; for k in "${!names[@]}"; do [ "${names[$k]}" = "$1" ] && echo "$k"; done; return 0; }
run_named() { local -n arr=$1; ms_of "${arr[@]}"; }
for c in "${cmds[@]}"; do run_named "$c" >/dev/null; done # warm-up
declare -A T
declare -a R_LAYOUT R_REGISTRY R_BEFORE R_BUILT R_BEFORE_BUILT
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start" >&2
n=${#cmds[@]}
for i in $(seq "$runs"); do
  declare -A t=()
  for j in $(shuffled "$n" "$i"); do
    t[$j]=$(run_named "${cmds[$j]}")
    T[$j]="${T[$j]:-} ${t[$j]}"
  done
  R_LAYOUT+=("$(echo "scale=4; ${t[2]} / ${t[0]}" | bc)")
  R_REGISTRY+=("$(echo "scale=4; ${t[2]} / ${t[1]}" | bc)")
  [ -n "${BEFORE:-}" ] && R_BEFORE+=("$(echo "scale=4; ${t[4]} / ${t[1]}" | bc)")
  if [ "$built" = 1 ]; then
    ob=$(index_of ours-registry-built)
    R_BUILT+=("$(echo "scale=4; ${t[$(index_of cosign-built)]} / ${t[$ob]}" | bc)")
    [ -n "${BEFORE:-}" ] && R_BEFORE_BUILT+=("$(echo "scale=4; ${t[$(index_of before-registry-built)]} / ${t[$ob]}" | bc)")
  fi
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
if [ "$built" = 1 ]; then
  echo "cosign / ours (registry, image built by ours): $(median "${R_BUILT[@]}")x faster"
  [ -n "${BEFORE:-}" ] && echo "before / ours (registry, image built by ours): $(median "${R_BEFORE_BUILT[@]}")x"
fi
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end" >&2

ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y == 0) print "n/a"; else printf "%.2f", x / y }'; }

[ "${BENCH_KEYLESS:-1}" = 0 ] && exit 0
stack=$here/../shared/tools/sigstore-stack.sh
eval "$(bash "$stack" env)"
[ -f "$SIGSTORE_STACK_TRUSTED_ROOT" ] || { echo "the Sigstore stack is not running: $stack start" >&2; exit 1; }
sha=0123456789abcdef0123456789abcdef01234567
bash "$stack" token --github example/hello-service .github/workflows/release.yml refs/heads/main "$sha" >"$work/gh.tok"
# The same image in a repository of its own, so that its only attestation is the keyless one.
repo=$repo-keyless
docker tag local/busybox:1.35 "$repo:v1"
docker push -q "$repo:v1" >/dev/null
docker rmi -f "$repo:v1" >/dev/null 2>&1 || true
"$COSIGN3" attest --yes --signing-config "$SIGSTORE_STACK_SIGNING_CONFIG" \
  --trusted-root "$SIGSTORE_STACK_TRUSTED_ROOT" --identity-token "$work/gh.tok" \
  --type slsaprovenance1 --predicate "$work/predicate.json" --allow-http-registry "$repo@$digest" >/dev/null 2>&1
"$bin" push -q "$repo:v1" "oci:$work/oci-keyless:v1"
identity=(--certificate-identity https://github.com/example/hello-service/.github/workflows/release.yml@refs/heads/main
  --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root "$SIGSTORE_STACK_TRUSTED_ROOT")
k_layout=("$bin" verify "oci:$work/oci-keyless:v1" "${identity[@]}" --builder-id https://cargo-provenance.dev/builders/local/v1 -q)
k_registry=("$bin" verify "$repo:v1" "${identity[@]}" --builder-id https://cargo-provenance.dev/builders/local/v1 -q)
k_theirs=("$COSIGN3" verify-attestation "${identity[@]}" --type slsaprovenance1 --allow-http-registry "$repo@$digest")

us() { # one run, wall time in microseconds on stdout; fails loudly
  local start end
  start=$EPOCHREALTIME
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@" >&2 || true; exit 1; }
  end=$EPOCHREALTIME
  echo $(( ${end/./} - ${start/./} ))
}
paired() { # paired interleaved runs of OURS... -- THEIRS...; prints "ours_mean theirs_mean"
  local -a ours=() theirs=()
  while [ "$1" != -- ]; do ours+=("$1"); shift; done
  shift
  theirs=("$@")
  us "${ours[@]}" >/dev/null; us "${theirs[@]}" >/dev/null # warm-up
  local so=0 st=0
  for _ in $(seq "$runs"); do
    so=$(( so + $(us "${ours[@]}") ))
    st=$(( st + $(us "${theirs[@]}") ))
  done
  # Means in ms, to a tenth (whole milliseconds truncated ours, ~7 ms, by up to 14%).
  awk -v o="$so" -v t="$st" -v n="$runs" 'BEGIN { printf "%.1f %.1f\n", o / n / 1000, t / n / 1000 }'
}
read -r kl kc < <(paired "${k_layout[@]}" -- "${k_theirs[@]}")
read -r kr kc2 < <(paired "${k_registry[@]}" -- "${k_theirs[@]}")
echo
echo "keyless (local Sigstore stack, cosign 3.1), $runs paired interleaved runs each"
printf '%-52s %6s ms\n' "cargo provenance verify (OCI layout)" "$kl"
printf '%-52s %6s ms\n' "  cosign 3.1 verify-attestation (registry), paired" "$kc"
printf '%-52s %6s ms\n' "cargo provenance verify (registry, fallback tag)" "$kr"
printf '%-52s %6s ms\n' "  cosign 3.1 verify-attestation (registry), paired" "$kc2"
echo "speedup cosign/ours (layout):   $(ratio "$kc" "$kl")x"
echo "speedup cosign/ours (registry): $(ratio "$kc2" "$kr")x"
