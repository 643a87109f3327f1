#!/usr/bin/env bash
# Builds the release artefacts of Kit License Server, versioned from <Version> in Directory.Build.props:
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
  # The SDK leaves many files 0744: only the two programs are executable; libraries and assemblies are only read.
  find "$2" -type d -exec chmod 0755 {} +
  find "$2" -type f -exec chmod 0644 {} +
  for program in kit-server createdump; do [ -f "$2/$program" ] && chmod 0755 "$2/$program"; done
  return 0
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
  cp "$root/installer/linux/install.sh" "$root/installer/linux/uninstall.sh" "$root/installer/linux/kit-settings.sh" \
     "$root/packaging/kit-license-server.service" "$root/packaging/kit-server.sh" "$root/src/LicenseServer.Web/Hosting/nlog.config" \
     "$root/appsettings.sample.json" "$root/README.md" "$root/LICENSE" "$stage/"
  cp -r "$root/docs" "$stage/docs"
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
  cp -r "$root/docs" "$stage/docs"
  (cd "$work/zip" && python3 -m zipfile -c "$out/$name-win-x64.zip" "$name")
  echo "Wrote $out/$name-win-x64.zip"
fi

if has deb; then
  # The layout of install.sh (binaries in /opt/kit-license-server, the same unit), a kit-server command, and Debian's
  # own parts (copyright, changelog, manual page, md5sums); lintian passes it (see packaging/deb/lintian-overrides for
  # the findings kept, each with its reason). The settings file is made by the postinst, for this host.
  deb="$work/deb"
  pkg=kit-license-server
  doc="$deb/usr/share/doc/$pkg"
  mkdir -p "$deb/DEBIAN" "$deb/opt/$pkg" "$deb/lib/systemd/system" "$deb/usr/bin" "$deb/usr/share/man/man1" "$doc" "$deb/usr/share/lintian/overrides"
  cp -a "$work/linux/server" "$deb/opt/$pkg/bin"
  install -m 0644 "$root/appsettings.sample.json" "$deb/opt/$pkg/"
  sed -e "s#@DEST@#/opt/$pkg#g; s#@CONFIG@#/etc/$pkg#g; s#@DATA@#/var/lib/$pkg#g; s#@LOGS@#/var/log/$pkg#g" \
    "$root/packaging/kit-license-server.service" > "$deb/lib/systemd/system/$pkg.service"
  sed -e "s#@DEST@#/opt/$pkg#g; s#@SETTINGS@#/etc/$pkg/appsettings.json#g" "$root/packaging/kit-server.sh" > "$deb/usr/bin/kit-server"
  sed -e "s#@VERSION@#$version#g" "$root/packaging/deb/kit-server.1" | gzip -9n > "$deb/usr/share/man/man1/kit-server.1.gz"
  gzip -9n < "$root/README.md" > "$doc/README.md.gz"
  # The customer documents beside it; pictures are left out (the Markdown reads without them).
  for f in "$root"/docs/*.md; do gzip -9n < "$f" > "$doc/$(basename "$f").gz"; done
  { echo "Kit License Server"; echo; cat "$root/LICENSE"; } > "$doc/copyright"
  # A native package's changelog: this version, dated from the last commit (the same bytes for the same sources).
  when=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}
  maintainer="Kit Software <support@kit.example>"
  { echo "$pkg ($version) stable; urgency=medium"; echo
    echo "  * Kit License Server $version. What changed, and how to upgrade: the section"
    echo "    Upgrading of /usr/share/doc/$pkg/install.md.gz."; echo
    echo " -- $maintainer  $(LC_ALL=C date -u -R -d "@$when")"; } | gzip -9n > "$doc/changelog.gz"
  install -m 0644 "$root/packaging/deb/lintian-overrides" "$deb/usr/share/lintian/overrides/$pkg"
  # The postinst reads the settings as install.sh does (kit-settings.sh), with the function copied in.
  awk -v settings="$root/installer/linux/kit-settings.sh" '$0 == "#KIT_SETTINGS#" { while ((getline line < settings) > 0) print line; next } { print }' \
    "$root/packaging/deb/postinst" > "$deb/DEBIAN/postinst"
  cp "$root/packaging/deb/prerm" "$root/packaging/deb/postrm" "$deb/DEBIAN/"
  find "$deb" -path "$deb/opt/$pkg/bin" -prune -o -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
  chmod 0755 "$deb/usr/bin/kit-server" "$deb/DEBIAN/postinst" "$deb/DEBIAN/prerm" "$deb/DEBIAN/postrm"
  size=$(du -sk --exclude=DEBIAN "$deb" | cut -f1)
  # Depends: what the self-contained .NET runtime links against (glibc 2.27 symbols, libstdc++ GLIBCXX_3.4.22,
  # libgcc_s) and loads (OpenSSL 3, or 1.1); no ICU (invariant globalization) and no zlib (the runtime holds its own).
  # adduser makes the kit user; runuser (util-linux), deb-systemd-helper and hostname are essential.
  # Recommends: postgresql for the embedded database (an external one needs none), ca-certificates for TLS to mail
  # servers and webhooks.
  cat > "$deb/DEBIAN/control" <<CONTROL
Package: $pkg
Version: $version
Section: net
Priority: optional
Architecture: amd64
Maintainer: $maintainer
Installed-Size: $size
Depends: libc6 (>= 2.27), libgcc-s1, libstdc++6 (>= 6), libssl3 | libssl3t64 | libssl1.1, adduser
Recommends: postgresql (>= 13), ca-certificates
Homepage: https://kit.example/license-server
Description: on-premise license server for a vendor's software licenses
 Kit License Server hands out a software vendor's per-user and floating
 licenses to the people and clients of one or more organizations, inside
 the customer's own network. It is activated with the license file (.lic)
 that the vendor signs, and keeps its data in PostgreSQL: an external
 server, or an embedded cluster that it runs itself with this machine's
 PostgreSQL programs (version 13 or later).
 .
 This package installs the server in /opt/kit-license-server, the
 kit-license-server service (systemd), which runs as the kit user, and the
 kit-server command. On its first installation it writes the settings to
 /etc/kit-license-server/appsettings.json, starts the service and prints
 the address of the Activate page.
CONTROL
  (cd "$deb" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum > DEBIAN/md5sums)
  chmod 0644 "$deb/DEBIAN/control" "$deb/DEBIAN/md5sums"
  dpkg-deb --root-owner-group -Zgzip --build "$deb" "$out/${pkg}_${version}_amd64.deb" >/dev/null
  echo "Wrote $out/${pkg}_${version}_amd64.deb"
fi
