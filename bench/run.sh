#!/usr/bin/env bash
# Builds Release and runs the load benchmark: bash bench/run.sh [--smoke] [--seconds N] [--clients N] [--scale N] [--out FILE.json] [--keep-data]
# Results go to bench/results/latest.json (and .md) unless --out says otherwise. Exit 0 also when a target is
# MISSED (see the table); non-zero only when the harness fails or seats were over-allocated.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build LicenseServer.sln -c Release -nologo -v q >&2
exec dotnet bench/LicenseServer.Bench/bin/Release/net10.0/kit-bench.dll "$@"
