#!/usr/bin/env bash
# Quick start: a running, activated demo server on the embedded PostgreSQL.
#   bash installer/demo.sh            (Ctrl+C stops it, and its PostgreSQL with it)
# Makes a demo vendor key, issues a demo .lic for this installation, activates, creates the admin
# account and a demo organization (every seat, each product assigned to the admin, an API key) once, then
# runs the server in demo mode. State lives in .kit-demo/ (delete it to start over).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
demo=${KIT_DEMO_DIR:-$root/.kit-demo}
port=${KIT_DEMO_PORT:-8080}
db_port=${KIT_DEMO_DB_PORT:-5433}

if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  echo "Installing PostgreSQL from Debian's packages..."
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql >/dev/null
fi

echo "Building..."
dotnet build "$root/src/LicenseServer.Web" -c Release -v q -nologo >/dev/null
dotnet build "$root/src/LicenseServer.Vendor" -c Release -v q -nologo >/dev/null
server=(dotnet "$root/src/LicenseServer.Web/bin/Release/net10.0/kit-server.dll")
vendor=(dotnet "$root/src/LicenseServer.Vendor/bin/Release/net10.0/kit-vendor.dll")

mkdir -p "$demo"
chmod 755 "$demo"
settings=(--Kit:DataDirectory="$demo/data" --Kit:Logs:Directory="$demo/logs" --Kit:Logs:ConsoleLevel=Warn
  --Kit:Database:EmbeddedPort="$db_port" --Kit:Demo:Enabled=true --Kit:Demo:VendorPublicKeyFile="$demo/demo-vendor.pub"
  --Urls="http://127.0.0.1:$port" --Kit:ServerUrl="http://localhost:$port")

# The secrets key file encrypts the server's secrets in its database (Kit:Secrets:KeyFile, default secrets.key in the
# data directory): made once, yours only, never replaced.
mkdir -p "$demo/data"
if [ ! -e "$demo/data/secrets.key" ]; then
  (umask 077; { echo "kit-secrets-key/1"; head -c 32 /dev/urandom | base64 -w0; echo; } > "$demo/data/secrets.key.new")
  mv -n "$demo/data/secrets.key.new" "$demo/data/secrets.key"; rm -f "$demo/data/secrets.key.new"
  echo "Made the secrets key file $demo/data/secrets.key: the database's secrets cannot be decrypted without it. Back it up"
  echo "apart from the server's backups, and copy it to every other node you add."
fi

[ -f "$demo/demo-vendor.key" ] || "${vendor[@]}" keygen --out "$demo/demo-vendor"
if [ ! -f "$demo/demo.lic" ]; then
  "${server[@]}" license-request --company-id DEMO --out "$demo/request.json" "${settings[@]}"
  "${vendor[@]}" issue --key "$demo/demo-vendor.key" --request "$demo/request.json" --customer "Demo Customer" \
    --product "KSE:per-user:10:annual:Studio Enterprise" --product "KRE:floating:5:annual:Runtime Engine" \
    --days 365 --out "$demo/demo.lic"
  "${server[@]}" activate --file "$demo/demo.lic" "${settings[@]}"
fi
email=admin@example.com
# Activation wrote a setup code for the Setup page; this command runs with the server's own settings and
# database, as only whoever runs the server can, so it creates the account without the code (and spends it).
if [ ! -f "$demo/admin-password" ]; then
  (umask 077; head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$demo/admin-password")
  "${server[@]}" create-default-account --email "$email" --password "$(cat "$demo/admin-password")" "${settings[@]}"
fi

# The first organization receives every seat of the license; the admin holds each product, and an API key
# (kept in .kit-demo/api-key, readable by this user only) lets a runtime engine check out KRE.
if [ ! -f "$demo/api-key" ]; then
  out=$("${server[@]}" demo-organization --owner "$email" --name "Demo Organization" "${settings[@]}")
  echo "$out" | grep -v '^API key'
  (umask 077; echo "$out" | sed -n 's/^API key of .* (shown once): //p' > "$demo/api-key")
fi

cat <<MSG

  Kit License Server (demo mode) is starting at http://localhost:$port
  Sign in as   $email
  Password     $(cat "$demo/admin-password")
  Health       http://localhost:$port/health
  Organization Demo Organization (License Management shows its seats)
  API key      $(cat "$demo/api-key")   (X-Api-Key, for a runtime engine's checkout)

MSG
exec "${server[@]}" run "${settings[@]}"
