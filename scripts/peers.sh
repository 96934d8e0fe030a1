#!/usr/bin/env bash
# scripts/peers.sh install|start|stop|env: the real peers for the tests (dockerd + BuildKit,
# distribution registry on 127.0.0.1:5000, cosign, oras, sigstore-go), through
# ../shared/tools/setup-peers.sh, which installs them from Debian packages.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
setup="$here/../shared/tools/setup-peers.sh"
[ -x "$setup" ] || { echo "error: $setup not found: ../shared must sit beside the checkout" >&2; exit 2; }
exec bash "$setup" "$@"
