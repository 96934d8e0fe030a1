#!/usr/bin/env bash
# scripts/python-env.sh: a Python venv under target/pyenv with the packages the tests use
# (the in-toto attestation framework's protobuf bindings). Prints the venv's python path.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/pyenv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import in_toto_attestation' 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check in-toto-attestation >&2
fi
echo "$PWD/$venv/bin/python"
