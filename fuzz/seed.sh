#!/usr/bin/env bash
# fuzz/seed.sh: lays out fuzz/corpus/<target>/ from real files: the committed seeds (our own
# outputs: an image index, a platform manifest, a referrer, statements), the Sigstore
# conformance bundles and trusted roots in ../shared, and every Sigstore bundle and OCI
# layout blob the test suite left under target/. Safe to rerun; the corpus is not committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared="$here/../../shared"
corpus="$here/corpus"
mkdir -p "$corpus"
for t in bundle statement oci_document auth_challenge reference trusted_root inclusion_proof policy_file; do
  mkdir -p "$corpus/$t"
  [ -d "$here/seeds/$t" ] && cp -n "$here/seeds/$t"/* "$corpus/$t/" 2>/dev/null || true
done
n=0
if [ -d "$shared/conformance/sigstore/bundle-verify" ]; then
  for d in "$shared"/conformance/sigstore/bundle-verify/*/; do
    n=$((n + 1))
    [ -f "$d/bundle.sigstore.json" ] && cp "$d/bundle.sigstore.json" "$corpus/bundle/conformance-$n.json"
    [ -f "$d/trusted_root.json" ] && cp "$d/trusted_root.json" "$corpus/trusted_root/conformance-$n.json"
  done
fi
for f in "$shared"/sigstore/trusted_root.*.json; do
  [ -f "$f" ] && cp "$f" "$corpus/trusted_root/"
done
# Our own bundles and layout documents from earlier test runs, when there are any.
find "$here/../target" -name '*.sigstore.json' -size -64k 2>/dev/null | head -50 | while read -r f; do
  cp "$f" "$corpus/bundle/own-$(sha256sum "$f" | cut -c1-16).json"
done
echo "fuzz corpus: $(find "$corpus" -type f | wc -l) files in $corpus"
