#!/usr/bin/env bash
# Removes the Kit License Server service, binaries and kit-server command. Configuration, data (the database of the
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
# An embedded PostgreSQL that a server which stopped abnormally left running stops too: nothing else would stop it.
cluster="$data/pgsql"
if [ -f "$cluster/postmaster.pid" ] && [ -f "$cluster/PG_VERSION" ]; then
  pg_ctl="/usr/lib/postgresql/$(cat "$cluster/PG_VERSION")/bin/pg_ctl"
  [ -x "$pg_ctl" ] || pg_ctl=$(command -v pg_ctl || true)
  if [ -n "$pg_ctl" ]; then runuser -u "$(stat -c %U "$cluster")" -- "$pg_ctl" stop -D "$cluster" -m fast -w >/dev/null 2>&1 || true; fi
fi
rm -rf "$dest"
# The kit-server command install.sh made (a file of that name that is not ours stays).
command="$root/usr/local/bin/kit-server"
if [ -f "$command" ] && grep -q "Kit License Server's command line" "$command"; then rm -f "$command"; fi
if [ $purge -eq 1 ]; then
  rm -rf "$root/etc/kit-license-server" "$data" "$root/var/log/kit-license-server"
  [ -z "$root" ] && { userdel kit 2>/dev/null || true; }
  echo "Kit License Server removed, with its configuration, data and logs."
else
  echo "Kit License Server removed. Configuration, data and logs are kept in $root/etc/kit-license-server, $data and $root/var/log/kit-license-server (--purge removes them)."
fi
