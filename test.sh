#!/usr/bin/env bash
# Runs every test suite (.NET and JavaScript) and ends with one line: "N passed, M failed".
# Installs what the tests need: NuGet packages (restore), npm packages for the conformance tests,
# and Debian packages for test servers.
set -uo pipefail
cd "$(dirname "$0")"
root=$(pwd)
log_dir=$(mktemp -d)
passed=0
failed=0
fail_setup=0

say() { printf '== %s\n' "$*"; }

# --- setup ------------------------------------------------------------------
say "setup (PostgreSQL for the scaled-out store's tests)"
if pg_url=$(tests/setup.sh | tail -1) && [ -n "$pg_url" ]; then
  export BASALT_TEST_POSTGRES="$pg_url"
else
  echo "setup failed: PostgreSQL could not be installed or started"; fail_setup=1
fi

say "build"
if ! dotnet build Basalt.slnx -c Release -nologo -v quiet 2>&1 | tee "$log_dir/build.log" | grep -E " error |Build succeeded" | sort -u; then
  :
fi
if ! grep -q "Build succeeded" "$log_dir/build.log"; then
  echo "build failed; see above"
  echo "0 passed, 1 failed"
  exit 1
fi

# --- .NET suites ------------------------------------------------------------
for proj in tests/*/*.Tests.csproj; do
  name=$(basename "$proj" .csproj)
  say "$name"
  out="$log_dir/$name.log"
  dotnet test "$proj" -c Release --no-build -nologo 2>&1 | tee "$out" | grep -E "Passed!|Failed!|SKIPPED" | head -200
  line=$(grep -E "(Passed|Failed)!\s+- Failed:" "$out" | tail -1)
  if [ -z "$line" ] && grep -q "No test is available" "$out"; then continue; fi
  if [ -z "$line" ]; then
    echo "$name: no result line (crashed?)"; tail -20 "$out"; failed=$((failed + 1)); continue
  fi
  grep -E -A12 "^\s+Failed [A-Za-z]" "$out" | grep -vE "^\s+at (System|Microsoft|Xunit)\." | head -80
  p=$(sed -E 's/.*Passed:\s+([0-9]+).*/\1/' <<<"$line")
  f=$(sed -E 's/.*Failed:\s+([0-9]+),.*/\1/' <<<"$line")
  passed=$((passed + p)); failed=$((failed + f))
done

# --- JavaScript suites (official SDKs against a real basalt serve) -----------
if [ -x tests/conformance/run.sh ]; then
  say "conformance (node)"
  out="$log_dir/conformance.log"
  tests/conformance/run.sh 2>&1 | tee "$out" | grep -vE "^\s*$" | tail -200
  p=$(grep -E "^# pass " "$out" | awk '{s+=$3} END {print s+0}')
  f=$(grep -E "^# fail " "$out" | awk '{s+=$3} END {print s+0}')
  if ! grep -qE "^# pass " "$out"; then f=$((f + 1)); echo "conformance: no result line"; fi
  passed=$((passed + p)); failed=$((failed + f))
fi

failed=$((failed + fail_setup))
rm -rf "$log_dir"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
