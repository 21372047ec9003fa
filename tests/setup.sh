#!/usr/bin/env bash
# Installs and starts what the tests need beyond NuGet and npm: a PostgreSQL server (the scaled-out state
# store's tests). Prints the connection string for BASALT_TEST_POSTGRES on its last line.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
fi
if ! pg_lsclusters -h 2>/dev/null | grep -q online; then
  service postgresql start >/dev/null
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 && break
  sleep 0.2
done
su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'basalt'\"" >/dev/null
if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='basalt_test'\"" | grep -q 1; then
  su postgres -c "psql -q -c 'CREATE DATABASE basalt_test'" >/dev/null
fi
echo "postgres://postgres:basalt@127.0.0.1:5432/basalt_test"
