#!/usr/bin/env bash
# Restores, builds and starts `basalt serve` on 127.0.0.1:8700 with the embedded defaults: SQLite state
# under ./data, an admin key created on first start (its path is logged), and the local engine.
# With no basalt.yaml, the local engine serves Basalt's own default model, models/basalt-tiny.gguf, as
# "basalt-tiny" (committed, so a fresh clone needs no network), and ../shared/models/stories260K.gguf as
# "stories260k" when that file is present. Extra arguments go to `basalt serve` (for example --model NAME=PATH.gguf).
set -euo pipefail
cd "$(dirname "$0")"
dotnet build src/Basalt.Cli -c Release -nologo -v quiet
args=(serve)
if [ ! -f basalt.yaml ] && [ -z "${BASALT_CONFIG:-}" ]; then
  if [ -f models/basalt-tiny.gguf ]; then
    args+=(--model "basalt-tiny=models/basalt-tiny.gguf")
  fi
  if [ -f ../shared/models/stories260K.gguf ]; then
    args+=(--model "stories260k=../shared/models/stories260K.gguf")
  fi
fi
exec dotnet src/Basalt.Cli/bin/Release/net10.0/basalt.dll "${args[@]}" "$@"
