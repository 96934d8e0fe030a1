#!/usr/bin/env bash
# scripts/bench-build.sh: wall time of `cargo provenance build --builder buildx` beside the same
# work done by hand (cargo build + docker buildx build) on examples/hello-service, in the same
# run, same machine. Prints each run, the medians and the ratio (goal: overhead <= 5%).
#
# BUILDER=native: `cargo provenance build --builder native` (no daemon) beside plain
# `cargo build` with the same flags (goal, incremental: <= 1.10x). COMPRESSION=gzip|zstd|none
# passes --compression (unset: the default). APP=big replaces hello-service by a generated crate
# whose binary carries ~28 MiB of static data (the start of this toolchain's
# librustc_driver, i.e. real machine code) to show the layer step on a large binary.
#
# SCENARIO=incremental (default): each run first touches src/main.rs, so every run recompiles
# the binary crate while dependencies stay cached (the worst case for our fixed overhead).
# SCENARIO=clean: each run starts from an empty target directory (a CI release build).
# Both sides use the same flags (static, x86_64-unknown-linux-gnu) and their own target dir.
#
# KEY=path/to/cosign.key (password in COSIGN_PASSWORD) measures a signed release on both
# sides: ours runs with `--key "$KEY"` (signs its SBOM, its provenance and BuildKit's
# statements); the by-hand side then also signs what a hand-run release would sign, BuildKit's
# provenance statement from its OCI output (the in-toto blob of the attestation manifest), with
# the real cosign, offline: `cosign attest-blob --key "$KEY" --type <the statement's
# predicateType: slsaprovenance02 for BuildKit's default v0.2> --predicate <its predicate>
# --new-bundle-format --bundle out-hand.sigstore.json --tlog-upload=false --yes <the image
# index blob>` (BuildKit leaves the statement's subject empty; the image index, whose digest
# is the image's, is the subject; `--type slsaprovenance1` would be refused: cosign checks the
# predicate against the type). The bundle verifies offline with `cosign verify-blob-attestation
# --key cosign.pub --new-bundle-format --insecure-ignore-tlog --trusted-root <empty root>`.
# Without KEY: ours runs with --no-sign, nothing is signed.
#
# BEFORE=path times another binary of ours in the same rounds (before/after a change): it
# builds its own copy of the app (own target directory, so neither binary's runs disturb
# cargo's caches of the other's), and its median and per-run ratios to the by-hand side are
# printed beside ours.
#
# FLOOR=1 (BUILDER=native) also times, in the same rounds, the least any cargo subcommand that
# runs `cargo build` can cost: a generated `cargo-provenance` that only `exec`s `$CARGO build`
# with the by-hand flags (own copy of the app, own target directory), run as
# `cargo provenance build`. Its ratio to the by-hand side is cargo's dispatch alone (rustup's
# proxy, cargo's start and subcommand search, the exec), which the goal's 10% must cover too.
# In the same rounds it also times "floor + resolution": the same subcommand (own copy of the
# app, own target directory) that runs the full `cargo metadata` ours runs for the SBOM and
# the cargo-auditable data (`--format-version 1 --locked`, its answer read) beside that
# `cargo build`, both started at once: the least a subcommand costs that asks cargo for the
# dependency graph on every build, as a correct SBOM does without remembering an answer.
#
# AUDITABLE=1 (BUILDER=native) also times, in the same rounds, the peer that does one part of
# ours' job: `cargo auditable build` (cargo-auditable, `cargo install cargo-auditable --locked`)
# with the by-hand flags, own copy of the app and own target directory. It embeds the same
# kind of dependency data in the binary, and nothing else. The floors and this peer run after
# ours and the by-hand build in every round (the two floors in alternating order).
#
# Needs the peers (dockerd + buildx, cosign when KEY is set): `scripts/peers.sh start`. Env:
# RUNS (default 9), SCENARIO, CP_BIN (our binary; default: `cargo build --release` of this
# repository), KEY.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-9}
SCENARIO=${SCENARIO:-incremental}
BUILDER=${BUILDER:-buildx}
COMPRESSION=${COMPRESSION:-}
APP=${APP:-hello-service}
if [ "$BUILDER" = buildx ]; then
  eval "$(bash "$here/../shared/tools/setup-peers.sh" env)"
  docker info >/dev/null 2>&1 || { echo "error: dockerd not answering: run scripts/peers.sh start" >&2; exit 2; }
elif [ "$BUILDER" != native ]; then
  echo "error: BUILDER=$BUILDER: expected buildx or native" >&2; exit 2
fi

# Relative paths are meant from here, not from the app directory the runs happen in.
if [ -n "${BEFORE:-}" ]; then
  [ -x "$BEFORE" ] || { echo "error: BEFORE=$BEFORE: not an executable" >&2; exit 2; }
  BEFORE=$(realpath "$BEFORE")
fi
[ -z "${CP_BIN:-}" ] || CP_BIN=$(realpath "$CP_BIN")
[ -z "${KEY:-}" ] || [ ! -f "$KEY" ] || KEY=$(realpath "$KEY")
# Each side uses the target directory of its own copy of the app (the by-hand side sets its own).
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
if [ -z "${CP_BIN:-}" ]; then
  (cd "$here" && cargo build --release --quiet --bin cargo-provenance)
  CP_BIN="$here/target/release/cargo-provenance"
fi

W=$(mktemp -d /tmp/bench-build.XXXXXX)
trap 'rm -rf "$W"' EXIT
BIN=hello-service
if [ "$APP" = big ]; then
  # A binary with ~28 MiB of static data: real machine code from the toolchain.
  BIN=big-service
  mkdir -p "$W/app/src"
  driver=$(ls "$(rustc --print sysroot)"/lib/librustc_driver-*.so | head -1)
  head -c 29360128 "$driver" > "$W/app/data.bin"
  printf '[package]\nname = "big-service"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n' > "$W/app/Cargo.toml"
  cat > "$W/app/src/main.rs" <<'RS'
static DATA: &[u8] = include_bytes!("../data.bin");
fn main() {
    let d = std::hint::black_box(DATA);
    println!("{} bytes, middle byte {}", d.len(), d[d.len() / 2]);
}
RS
  (cd "$W/app" && cargo generate-lockfile --offline -q)
elif [ "$APP" = hello-service ]; then
  cp -r "$here/examples/hello-service" "$W/app"
  # As in this repository (and as `cargo new` writes it): the target directory is ignored, so
  # that git's status does not list cargo's output as untracked source.
  printf '/target\n' > "$W/app/.gitignore"
else
  echo "error: APP=$APP: expected hello-service or big" >&2; exit 2
fi
rm -rf "$W/app/target"
cd "$W/app"
git init -q && git add -A
GIT_COMMITTER_DATE=2024-01-02T03:04:05Z GIT_AUTHOR_DATE=2024-01-02T03:04:05Z \
  git -c user.name=bench -c user.email=bench@example.com commit -qm bench
export SOURCE_DATE_EPOCH=1704164645
TRIPLE=x86_64-unknown-linux-gnu

mkdir -p "$W/ctx"
sed "s|{{ENTRYPOINT}}|ENTRYPOINT [\"/usr/local/bin/$BIN\"]|" "$here/templates/Dockerfile.scratch" > "$W/ctx/Dockerfile"

if [ -n "${KEY:-}" ]; then
  [ -f "$KEY" ] || { echo "error: KEY=$KEY: no such file" >&2; exit 2; }
  [ -n "${COSIGN_PASSWORD+set}" ] || { echo "error: KEY is set: set COSIGN_PASSWORD too" >&2; exit 2; }
  command -v cosign >/dev/null || { echo "error: cosign not found: run scripts/peers.sh start" >&2; exit 2; }
  command -v jq >/dev/null || { echo "error: KEY is set: jq is needed to read BuildKit's statement" >&2; exit 2; }
  KEY=$(cd "$(dirname "$KEY")" && pwd)/$(basename "$KEY")
  SIGN=(--key "$KEY")
else
  SIGN=(--no-sign)
fi
# Ours runs as users run it, `cargo provenance build` (through rustup's cargo proxy and cargo's
# subcommand dispatch, as the by-hand `cargo build` goes through the proxy too).
mkdir -p "$W/path" && ln -s "$CP_BIN" "$W/path/cargo-provenance"
if [ -n "${BEFORE:-}" ]; then
  cp -r "$W/app" "$W/app-before"
  mkdir -p "$W/path-before" && ln -s "$BEFORE" "$W/path-before/cargo-provenance"
fi
if [ -n "${FLOOR:-}" ]; then
  [ "$BUILDER" = native ] || { echo "error: FLOOR=1 needs BUILDER=native" >&2; exit 2; }
  mkdir -p "$W/floor/src" "$W/path-floor"
  printf '[package]\nname = "cargo-provenance"\nversion = "0.0.0"\nedition = "2021"\n' > "$W/floor/Cargo.toml"
  cat > "$W/floor/src/main.rs" <<RS
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
fn main() {
    let cargo = std::env::var_os("CARGO").expect("run as a cargo subcommand");
    let with_metadata = std::env::var_os("FLOOR_METADATA").is_some();
    let target = if with_metadata { "$W/target-floor-meta" } else { "$W/target-floor" };
    let mut build = Command::new(&cargo);
    build
        .args(["build", "--release", "--locked", "--quiet", "--target", "$TRIPLE"])
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_INCREMENTAL", "0")
        .env("RUSTFLAGS", "-Ctarget-feature=+crt-static");
    if !with_metadata {
        panic!("{}", build.exec());
    }
    let mut metadata = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("cargo metadata");
    let mut out = metadata.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut answer = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut answer).map(|_| answer.len())
    });
    let built = build.status().expect("cargo build");
    let read = reader.join().unwrap().expect("reading cargo metadata");
    assert!(metadata.wait().expect("cargo metadata").success() && read > 0);
    std::process::exit(built.code().unwrap_or(1));
}
RS
  (cd "$W/floor" && cargo build --release --quiet --offline)
  ln -s "$W/floor/target/release/cargo-provenance" "$W/path-floor/cargo-provenance"
  cp -r "$W/app" "$W/app-floor"
  cp -r "$W/app" "$W/app-floor-meta"
fi
if [ -n "${AUDITABLE:-}" ]; then
  [ "$BUILDER" = native ] || { echo "error: AUDITABLE=1 needs BUILDER=native" >&2; exit 2; }
  command -v cargo-auditable >/dev/null \
    || { echo "error: AUDITABLE=1: cargo-auditable not found: cargo install cargo-auditable --locked" >&2; exit 2; }
  cp -r "$W/app" "$W/app-auditable"
fi
export PATH="$W/path:$PATH"
# The native builder runs with -v: its `Layer` line gives the time of the layer step (tar,
# compression, both hashes), collected in $W/layer-times.
if [ "$BUILDER" = native ]; then VERBOSITY=-v; else VERBOSITY=--quiet; fi
ours() {
  cargo provenance build --builder "$BUILDER" ${COMPRESSION:+--compression "$COMPRESSION"} "${SIGN[@]}" $VERBOSITY \
    --output-dir "$W/out-ours" >/dev/null 2>"$W/ours.log" \
    || { cat "$W/ours.log" >&2; exit 1; }
  sed -n 's/.*Layer.* bytes of tar, \([0-9]*\) bytes .* in \([0-9.]*\) s, \([0-9.?]*\) CPU s.*/\2 \1 \3/p' "$W/ours.log" >> "$W/layer-times"
}
# BEFORE's build, in its own copy of the app.
before() {
  (cd "$W/app-before" && PATH="$W/path-before:$PATH" cargo provenance build --builder "$BUILDER" \
    ${COMPRESSION:+--compression "$COMPRESSION"} "${SIGN[@]}" $VERBOSITY \
    --output-dir "$W/out-before" >/dev/null 2>"$W/before.log") || { cat "$W/before.log" >&2; exit 1; }
}
# FLOOR's subcommand, in its own copy of the app.
floor() {
  (cd "$W/app-floor" && PATH="$W/path-floor:$PATH" cargo provenance build)
}
# `cargo auditable build` with the by-hand flags, in its own copy of the app.
auditable() {
  (cd "$W/app-auditable" && CARGO_TARGET_DIR="$W/target-auditable" CARGO_INCREMENTAL=0 \
    RUSTFLAGS="-Ctarget-feature=+crt-static" cargo auditable build --release --locked --quiet --target "$TRIPLE")
}
# The same with `cargo metadata` beside the build, in its own copy of the app.
floor_meta() {
  (cd "$W/app-floor-meta" && FLOOR_METADATA=1 PATH="$W/path-floor:$PATH" cargo provenance build)
}
by_hand() {
  CARGO_TARGET_DIR="$W/target-hand" CARGO_INCREMENTAL=0 RUSTFLAGS="-Ctarget-feature=+crt-static" \
    cargo build --release --locked --quiet --target "$TRIPLE"
  [ "$BUILDER" = native ] && return 0
  mkdir -p "$W/bins/linux/amd64"
  cp "$W/target-hand/$TRIPLE/release/$BIN" "$W/bins/linux/amd64/"
  rm -rf "$W/out-hand"
  docker buildx build --quiet --platform linux/amd64 --build-context "bins=$W/bins" \
    --build-arg SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH --provenance mode=max \
    --output "type=oci,dest=$W/out-hand,tar=false,rewrite-timestamp=true" \
    --metadata-file "$W/meta.json" "$W/ctx" >/dev/null 2>"$W/hand.log" \
    || { cat "$W/hand.log" >&2; exit 1; }
  if [ -n "${KEY:-}" ]; then sign_by_hand; fi
}
# With KEY: signs BuildKit's provenance statement of the hand build (see the header).
sign_by_hand() {
  local blobs="$W/out-hand/blobs/sha256" index att stmt ptype type
  index=$(jq -r '.manifests[0].digest' "$W/out-hand/index.json")
  att=$(jq -r '.manifests[] | select(.annotations["vnd.docker.reference.type"] == "attestation-manifest")
    | .digest' "$blobs/${index#sha256:}")
  stmt=$(jq -r '.layers[] | select(.annotations["in-toto.io/predicate-type"] // "" | startswith("https://slsa.dev/provenance/"))
    | .digest' "$blobs/${att#sha256:}")
  [ -n "$stmt" ] && [ "$(wc -l <<<"$stmt")" = 1 ] \
    || { echo "error: expected one BuildKit provenance statement in $W/out-hand, found: ${stmt:-none}" >&2; exit 1; }
  ptype=$(jq -r .predicateType "$blobs/${stmt#sha256:}")
  case "$ptype" in
    https://slsa.dev/provenance/v0.2) type=slsaprovenance02 ;;
    https://slsa.dev/provenance/v1) type=slsaprovenance1 ;;
    *) type=$ptype ;;
  esac
  jq .predicate "$blobs/${stmt#sha256:}" > "$W/hand-predicate.json"
  rm -f "$W/out-hand.sigstore.json"
  cosign attest-blob --key "$KEY" --type "$type" --predicate "$W/hand-predicate.json" \
    --new-bundle-format --bundle "$W/out-hand.sigstore.json" --tlog-upload=false --yes \
    "$blobs/${index#sha256:}" >/dev/null 2>"$W/hand-sign.log" \
    || { cat "$W/hand-sign.log" >&2; exit 1; }
}
now() { date +%s.%N; }

echo "warming up (first builds compile the dependencies)..." >&2
ours; by_hand
if [ -n "${BEFORE:-}" ]; then before; fi
if [ -n "${FLOOR:-}" ]; then floor; floor_meta; fi
if [ -n "${AUDITABLE:-}" ]; then auditable; fi

declare -a T_OURS T_HAND R T_BEFORE RB T_FLOOR RF T_FLOORM RFM T_AUD RA
if [ "$BUILDER" = native ]; then HAND="cargo build"; GOAL=10; else HAND="cargo build + docker buildx build by hand"; GOAL=5; fi
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start; builder $BUILDER, compression ${COMPRESSION:-default}, app $APP, $SCENARIO" >&2
prepare() {
  if [ "$SCENARIO" = clean ]; then
    rm -rf "$W/app/target" "$W/target-hand" "$W/app-before/target" "$W/target-floor" "$W/target-floor-meta" \
      "$W/target-auditable"
  else
    touch src/main.rs; [ ! -d "$W/app-before" ] || touch "$W/app-before/src/main.rs"
    [ ! -d "$W/app-floor" ] || touch "$W/app-floor/src/main.rs" "$W/app-floor-meta/src/main.rs"
    [ ! -d "$W/app-auditable" ] || touch "$W/app-auditable/src/main.rs"
  fi
}
timed() { local t0 t1; prepare; t0=$(now); "$@"; t1=$(now); echo "$t1 - $t0" | bc -l; }
# The two sides take turns going first, so that neither always follows the other's build
# (the daemon may still be cleaning up after a build).
# With BEFORE, it runs last in odd rounds and first in even ones.
for i in $(seq 1 "$RUNS"); do
  c=
  if [ -n "${BEFORE:-}" ] && (( i % 2 == 0 )); then c=$(timed before); fi
  if (( i % 2 )); then a=$(timed ours); b=$(timed by_hand); else b=$(timed by_hand); a=$(timed ours); fi
  if [ -n "${BEFORE:-}" ] && [ -z "$c" ]; then c=$(timed before); fi
  f=
  fm=
  if [ -n "${FLOOR:-}" ]; then
    # The two floors in either order, by round.
    if (( i % 2 )); then f=$(timed floor); fm=$(timed floor_meta); else fm=$(timed floor_meta); f=$(timed floor); fi
    T_FLOOR+=("$f"); RF+=("$(echo "$f / $b" | bc -l)")
    T_FLOORM+=("$fm"); RFM+=("$(echo "$fm / $b" | bc -l)")
  fi
  au=
  if [ -n "${AUDITABLE:-}" ]; then au=$(timed auditable); T_AUD+=("$au"); RA+=("$(echo "$au / $b" | bc -l)"); fi
  T_OURS+=("$a"); T_HAND+=("$b"); R+=("$(echo "$a / $b" | bc -l)")
  printf 'run %d: cargo provenance build %6.2fs | %s %6.2fs' "$i" "$a" "$HAND" "$b"
  if [ -n "$c" ]; then
    T_BEFORE+=("$c"); RB+=("$(echo "$c / $b" | bc -l)")
    printf ' | BEFORE %6.2fs' "$c"
  fi
  if [ -n "$f" ]; then printf ' | floor %6.2fs | floor + resolution %6.2fs' "$f" "$fm"; fi
  if [ -n "$au" ]; then printf ' | cargo auditable build %6.2fs' "$au"; fi
  echo
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mo=$(median "${T_OURS[@]}"); mh=$(median "${T_HAND[@]}"); mr=$(median "${R[@]}")
printf '%s, %s, ' "$SCENARIO" "$BUILDER"
printf 'median: ours %.2fs, by hand %.2fs, ratio %.3f (overhead %+.1f%%; goal <= %d%%); median of the per-run ratios %.3f\n' \
  "$mo" "$mh" "$(echo "$mo / $mh" | bc -l)" "$(echo "($mo / $mh - 1) * 100" | bc -l)" "$GOAL" "$mr"
if [ -n "${BEFORE:-}" ]; then
  mb=$(median "${T_BEFORE[@]}")
  printf 'BEFORE (%s): median %.2fs, ratio of medians %.3f; median of the per-run ratios %.3f\n' \
    "$BEFORE" "$mb" "$(echo "$mb / $mh" | bc -l)" "$(median "${RB[@]}")"
fi
if [ -n "${FLOOR:-}" ]; then
  mf=$(median "${T_FLOOR[@]}")
  printf 'floor (a subcommand that only execs cargo build): median %.2fs, ratio of medians %.3f; median of the per-run ratios %.3f\n' \
    "$mf" "$(echo "$mf / $mh" | bc -l)" "$(median "${RF[@]}")"
  mf=$(median "${T_FLOORM[@]}")
  printf 'floor + resolution (the same, with cargo metadata beside cargo build): median %.2fs, ratio of medians %.3f; median of the per-run ratios %.3f\n' \
    "$mf" "$(echo "$mf / $mh" | bc -l)" "$(median "${RFM[@]}")"
fi
if [ -n "${AUDITABLE:-}" ]; then
  ma=$(median "${T_AUD[@]}")
  printf 'cargo auditable build (the same flags): median %.2fs, ratio of medians %.3f; median of the per-run ratios %.3f\n' \
    "$ma" "$(echo "$ma / $mh" | bc -l)" "$(median "${RA[@]}")"
fi
if [ -s "$W/layer-times" ]; then
  # shellcheck disable=SC2046
  printf 'layer step (tar + compression + hashes), median of %d: %.3f s wall, %s CPU s (all threads) for a %s-byte binary, blob %s bytes\n' \
    "$(wc -l < "$W/layer-times")" "$(median $(cut -d' ' -f1 "$W/layer-times"))" \
    "$(median $(cut -d' ' -f3 "$W/layer-times"))" \
    "$(stat -c %s "$W/out-ours/bin/linux/amd64/$BIN")" "$(tail -1 "$W/layer-times" | cut -d' ' -f2)"
fi
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end" >&2
