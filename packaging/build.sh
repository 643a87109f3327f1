#!/usr/bin/env bash
# Builds the release artefacts of Kit License Server (I3), versioned from <Version> in Directory.Build.props:
#   kit-license-server-<version>-linux-x64.tar.gz   self-contained server + installer/linux + the systemd unit
#   kit-license-server-<version>-win-x64.zip        self-contained server + installer/windows
#   kit-license-server_<version>_amd64.deb          the same layout as install.sh, with the unit
#
#   bash packaging/build.sh [--targets linux,windows,deb] [--out DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
targets="linux,windows,deb" out="$root/artifacts"
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) targets=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "build.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -1)
[ -n "$version" ] || { echo "build.sh: no <Version> in Directory.Build.props" >&2; exit 1; }
name="kit-license-server-$version"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

publish() { # publish RID DIR
  # KitReleaseBuild: the shipped server refuses demo mode, whatever its settings say.
  dotnet publish "$root/src/LicenseServer.Web" -c Release -r "$1" --self-contained true -p:Version="$version" -p:KitReleaseBuild=true \
    -p:DebugType=none -p:GenerateDocumentationFile=false -nologo -v q -o "$2" >/dev/null
}
has() { [[ ",$targets," == *",$1,"* ]]; }

if has linux || has deb; then
  echo "Publishing linux-x64..."
  publish linux-x64 "$work/linux/server"
fi

if has linux; then
  stage="$work/tar/$name"
  mkdir -p "$stage"
  cp -a "$work/linux/server" "$stage/server"
  cp "$root/installer/linux/install.sh" "$root/installer/linux/uninstall.sh" "$root/packaging/kit-license-server.service" \
     "$root/appsettings.sample.json" "$root/README.md" "$root/LICENSE" "$stage/"
  tar -C "$work/tar" -czf "$out/$name-linux-x64.tar.gz" "$name"
  echo "Wrote $out/$name-linux-x64.tar.gz"
fi

if has windows; then
  echo "Publishing win-x64..."
  stage="$work/zip/$name"
  mkdir -p "$stage"
  publish win-x64 "$stage/server"
  cp "$root/installer/windows/install.ps1" "$root/installer/windows/uninstall.ps1" "$root/installer/windows/KitInstall.psm1" \
     "$root/src/LicenseServer.Web/Hosting/nlog.config" "$root/appsettings.sample.json" "$root/README.md" "$root/LICENSE" "$stage/"
  (cd "$work/zip" && python3 -m zipfile -c "$out/$name-win-x64.zip" "$name")
  echo "Wrote $out/$name-win-x64.zip"
fi

if has deb; then
  deb="$work/deb"
  mkdir -p "$deb/DEBIAN" "$deb/opt/kit-license-server" "$deb/lib/systemd/system" "$deb/etc/kit-license-server"
  cp -a "$work/linux/server" "$deb/opt/kit-license-server/bin"
  cp "$root/README.md" "$root/LICENSE" "$root/appsettings.sample.json" "$deb/opt/kit-license-server/"
  sed -e 's#@DEST@#/opt/kit-license-server#g; s#@CONFIG@#/etc/kit-license-server#g; s#@DATA@#/var/lib/kit-license-server#g; s#@LOGS@#/var/log/kit-license-server#g' \
    "$root/packaging/kit-license-server.service" > "$deb/lib/systemd/system/kit-license-server.service"
  cat > "$deb/etc/kit-license-server/appsettings.json" <<'JSON'
{
  "Urls": "http://0.0.0.0:8080",
  "Kit": {
    "ServerUrl": "http://localhost:8080",
    "DataDirectory": "/var/lib/kit-license-server",
    "Database": { "Url": "" },
    "Logs": { "Directory": "/var/log/kit-license-server", "ConsoleLevel": "Warn" }
  }
}
JSON
  size=$(du -sk "$deb" | cut -f1)
  cat > "$deb/DEBIAN/control" <<CONTROL
Package: kit-license-server
Version: $version
Section: net
Priority: optional
Architecture: amd64
Maintainer: Kit Software <support@kit.example>
Depends: libc6, libssl3 | libssl1.1, zlib1g, adduser
Recommends: postgresql
Installed-Size: $size
Homepage: https://kit.example/license-server
Description: Kit License Server
 A self-hosted license server: activated with a vendor-signed .lic, it hands out the
 vendor's per-user and floating licenses to an organization's people and clients.
CONTROL
  echo "/etc/kit-license-server/appsettings.json" > "$deb/DEBIAN/conffiles"
  cat > "$deb/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
  id kit >/dev/null 2>&1 || adduser --system --group --home /var/lib/kit-license-server --no-create-home --shell /usr/sbin/nologin kit
  install -d -m 0750 -o kit -g kit /var/lib/kit-license-server /var/log/kit-license-server
  chown root:kit /etc/kit-license-server /etc/kit-license-server/appsettings.json
  chmod 0750 /etc/kit-license-server; chmod 0640 /etc/kit-license-server/appsettings.json
  # The secrets key file encrypts the server's secrets in the database: made once, the kit user's alone, never replaced.
  key=$(sed -n 's/.*"KeyFile": *"\([^"]*\)".*/\1/p' /etc/kit-license-server/appsettings.json | head -1)
  [ -n "$key" ] || key=/var/lib/kit-license-server/secrets.key
  if [ ! -e "$key" ]; then
    (umask 077; { echo "kit-secrets-key/1"; head -c 32 /dev/urandom | base64 -w0; echo; } > "$key.new")
    chown kit:kit "$key.new"; chmod 0600 "$key.new"; mv -n "$key.new" "$key"; rm -f "$key.new"
    echo "Kit License Server: made the secrets key file $key (readable by the kit user only). It encrypts the server's"
    echo "secrets in the database, and backups do not hold it: back it up now, apart from the backups, and copy it to every"
    echo "other node of this installation (same path, owner kit, mode 600). On a second node, put the first node's file in"
    echo "its place and restart the service."
  fi
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable kit-license-server >/dev/null
    systemctl restart kit-license-server || true
  fi
  if [ -z "$2" ]; then
    echo "Kit License Server: open http://<this machine>:8080/Activate to activate it. After activation, the Setup page"
    echo "asks for a one-time setup code to create the server admin account: sudo cat /var/lib/kit-license-server/setup-code"
  fi
fi
SCRIPT
  cat > "$deb/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = "remove" ]; then systemctl disable --now kit-license-server || true; fi
SCRIPT
  cat > "$deb/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = "purge" ]; then
  rm -rf /var/lib/kit-license-server /var/log/kit-license-server
  deluser --system kit >/dev/null 2>&1 || true
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
SCRIPT
  chmod 0755 "$deb/DEBIAN/postinst" "$deb/DEBIAN/prerm" "$deb/DEBIAN/postrm"
  dpkg-deb --root-owner-group -Zgzip --build "$deb" "$out/kit-license-server_${version}_amd64.deb" >/dev/null
  echo "Wrote $out/kit-license-server_${version}_amd64.deb"
fi
