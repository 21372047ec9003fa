#!/usr/bin/env bash
# Restores, builds and starts `basalt serve` on 127.0.0.1:8700 with the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")"
dotnet build src/Basalt.Cli -c Release -nologo -v quiet
exec dotnet src/Basalt.Cli/bin/Release/net10.0/basalt.dll serve "$@"
