#!/usr/bin/env bash
# scripts/python-env.sh: a Python venv under target/pyenv with the packages the tests use
# (the in-toto attestation framework's protobuf bindings). Prints the venv's python path.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/pyenv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import in_toto_attestation' 2>/dev/null; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >&2; then
    # Debian's python3 ships venv without ensurepip: that is the python3-venv package.
    rm -rf "$venv"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
    python3 -m venv "$venv" >&2
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check in-toto-attestation >&2
fi
echo "$PWD/$venv/bin/python"
