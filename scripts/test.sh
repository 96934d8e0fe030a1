#!/usr/bin/env bash
# scripts/test.sh: the whole test suite, peers included (the README's test command).
#
# Installs (first time, from Debian packages; about a minute when cached) and starts the real
# peers — dockerd + BuildKit, a registry on 127.0.0.1:5000, cosign, oras, sigstore-go — then
# runs every test, including the ones marked `#[ignore = "needs peers ..."]`, and stops the
# peers it started. Extra arguments go to `cargo test` after `--` (a filter, say: the
# integration tests are one binary, tests/it/, with a module per area, e.g. `verify_tamper::`).
set -euo pipefail
cd "$(dirname "$0")/.."

started=0
status=$(bash scripts/peers.sh status 2>/dev/null || true)
if ! grep -q 'docker: running' <<<"$status" || ! grep -q 'registry: running' <<<"$status"; then
  bash scripts/peers.sh install
  bash scripts/peers.sh start
  started=1
fi
stack_started=0
cleanup() {
  if [ "$stack_started" = 1 ]; then bash ../shared/tools/sigstore-stack.sh stop || true; fi
  bash scripts/referrers-registry.sh stop || true
  if [ "$started" = 1 ]; then bash scripts/peers.sh stop || true; fi
}
trap cleanup EXIT
eval "$(bash scripts/peers.sh env)"

# A second registry, with the OCI referrers API (ferro-oci-server from crates.io).
JOBS=${JOBS:-2} bash scripts/referrers-registry.sh start
eval "$(bash scripts/referrers-registry.sh env)"
export FERRO_REG

# The local Sigstore stack for the keyless tests (Fulcio, Rekor v1, TSA, OIDC; ../shared/tools).
if ! bash ../shared/tools/sigstore-stack.sh status >/dev/null 2>&1; then
  bash ../shared/tools/sigstore-stack.sh install >/dev/null
  bash ../shared/tools/sigstore-stack.sh start
  stack_started=1
fi

# cargo-audit, for the agreement test of `audit` (tests/it/audit/agreement.rs).
if [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-audit" ]; then
  cargo install cargo-audit --locked
fi

# cargo-auditable, to compare the dependency data our binaries carry with its own
# (tests/it/auditable.rs).
if [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-auditable" ]; then
  cargo install cargo-auditable --locked
fi

# The tests build tests/fixtures/audit-vulnerable with --offline; `cargo metadata` reads every
# crate in its Cargo.lock (dev-only and other-target crates too), so a new machine fetches them
# first.
cargo fetch --locked --manifest-path tests/fixtures/audit-vulnerable/Cargo.toml >/dev/null
# So do the corpus workspaces the audit agreement test reads with --offline
# (tests/it/audit/agreement.rs); without this, it passed only when a test that reads them
# online happened to run first.
for corpus in ripgrep uv deno rerun; do
  cargo fetch --quiet --locked --manifest-path "../shared/corpus/$corpus/Cargo.toml" >/dev/null
done

# Python checks (in-toto attestation framework's protobuf definitions) in a venv of our own.
bash scripts/python-env.sh >/dev/null

cargo test --locked --all-targets -- --include-ignored "$@"
