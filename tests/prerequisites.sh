#!/usr/bin/env bash
# Installs what the tests need and a fresh Debian 12 machine with the .NET 10 SDK lacks:
# PostgreSQL (initdb/pg_ctl/psql for the database fixture), Debian's Chromium (browser tests),
# curl, systemd-analyze and lintian (packaging test), promtool (metrics test), the JDK 17 and Gson (the Java client),
# slapd and ldap-utils (directory sign-in), MailDev (mail tests), Redocly CLI (the OpenAPI document's linter) and
# oidc-provider (single sign-on) from npm, and PowerShell from NuGet (Windows installer tests).
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The packaging test: dpkg-deb builds the .deb, install.sh waits with curl, systemd-analyze verifies the unit,
# lintian checks the .deb as Debian would.
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v lintian >/dev/null 2>&1 || missing+=(lintian)
# The Java reference client's tests: the JDK 17 (javac, jar, java) and Gson, the JSON library it is built with.
command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
[ -f /usr/share/java/gson.jar ] || missing+=(libgoogle-gson-java)
# Prometheus's promtool judges /metrics (Debian packages it with the Prometheus server).
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# OpenLDAP's server for the directory sign-in tests (the fixture starts its own slapd on a loopback port; the
# package's own instance is not used), and its tools, with which the tests change the directory.
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || missing+=(slapd)
command -v ldapmodify >/dev/null 2>&1 || missing+=(ldap-utils)
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "Installing ${missing[*]} from Debian's packages..."
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v dotnet >/dev/null 2>&1 || { echo "The .NET 10 SDK is required (dotnet on PATH)." >&2; exit 1; }
# From npm into tests/.tools (ignored by git): MailDev, the real SMTP server the mail tests send to, Redocly CLI,
# the OpenAPI linter that judges docs/openapi.json, and oidc-provider, the OpenID provider the single sign-on tests
# run. One install for all: npm removes what an install does not name.
tools=$(cd "$(dirname "$0")" && pwd)/.tools
if [ ! -x "$tools/node_modules/.bin/maildev" ] || [ ! -x "$tools/node_modules/.bin/redocly" ] || [ ! -f "$tools/node_modules/oidc-provider/package.json" ]; then
  command -v npm >/dev/null 2>&1 || { sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"; $sudo_cmd apt-get update -qq; DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq npm >/dev/null; }
  echo "Installing MailDev, Redocly CLI and oidc-provider from npm..."
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$tools" maildev@3.0.0 @redocly/cli@2.77.0 oidc-provider@9.13.3 >/dev/null
fi
# PowerShell (a .NET tool from NuGet) for the Windows installer's tests: its scripts parse, and its logic runs here.
if [ ! -x "$tools/pwsh/pwsh" ]; then
  echo "Installing PowerShell (dotnet tool) into tests/.tools/pwsh..."
  dotnet tool install PowerShell --version 7.6.10 --tool-path "$tools/pwsh" >/dev/null
fi
