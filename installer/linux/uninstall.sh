#!/usr/bin/env bash
# Removes the Kit License Server service and binaries. Configuration, data (the database of the
# embedded PostgreSQL, which holds the plugin packages, and keys) and logs are kept unless --purge is given.
#
#   sudo ./uninstall.sh [--dest DIR] [--root DIR] [--purge]
set -euo pipefail
dest="/opt/kit-license-server" root="" purge=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) dest=$2; shift 2 ;;
    --root) root=${2%/}; shift 2 ;;
    --purge) purge=1; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "uninstall.sh: run me as root." >&2; exit 1; }
dest="$root${dest#"$root"}"
data="$root/var/lib/kit-license-server"
pid_file="$data/kit-server.pid"

if command -v systemctl >/dev/null && [ -f "$root/etc/systemd/system/kit-license-server.service" ]; then
  systemctl disable --now kit-license-server 2>/dev/null || true
  rm -f "$root/etc/systemd/system/kit-license-server.service"
  systemctl daemon-reload 2>/dev/null || true
fi
if [ -f "$pid_file" ]; then
  start-stop-daemon --stop --quiet --pidfile "$pid_file" --retry TERM/60/KILL/5 || true
  rm -f "$pid_file"
fi
rm -rf "$dest"
if [ $purge -eq 1 ]; then
  rm -rf "$root/etc/kit-license-server" "$data" "$root/var/log/kit-license-server"
  [ -z "$root" ] && { userdel kit 2>/dev/null || true; }
  echo "Kit License Server removed, with its configuration, data and logs."
else
  echo "Kit License Server removed. Configuration, data and logs are kept in $root/etc/kit-license-server, $data and $root/var/log/kit-license-server (--purge removes them)."
fi
