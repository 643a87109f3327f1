#!/usr/bin/env bash
# Kit License Server installer for Linux. Installs or upgrades in place.
#
#   sudo ./install.sh [--dest DIR] [--port N] [--db-url URL] [--server-url URL] [--yes]
#                     [--root DIR] [--no-systemd] [--package DIR]
#
#   --dest DIR        where the binaries go (default /opt/kit-license-server)
#   --port N          HTTP port (default 8080)
#   --db-url URL      jdbc:postgresql://host:port/kit?user=...&password=... or an Npgsql connection string;
#                     empty: the embedded PostgreSQL in the data directory (needs Debian's postgresql package)
#   --server-url URL  the address people and clients use (default http://<this host>:<port>)
#   --yes             do not prompt; take the defaults for what is not given
#   --root DIR        install under DIR instead of / (config, data and logs too); for tests and image builds
#   --no-systemd      start the server directly (as the kit user, pid file in the data directory) instead of
#                     through systemd; for machines and containers where systemd does not run
#   --package DIR     the server binaries to install (default: server/ beside this script)
#
# Without flags, in a terminal, it asks for destination directory, port, database URL and server URL.
# An upgrade (the settings file exists) asks nothing: it keeps the settings, and listens where their Urls say.
# Everything is checked before anything is changed: a port in use, a database that does not answer,
# or a destination that cannot be written stops it with the reason.
# It also installs the command kit-server (/usr/local/bin): sudo kit-server backup --out FILE, and so on.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dest="" port="" db_url="" db_url_set=0 server_url="" root="" use_systemd=1 package="$here/server" assume_yes=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) dest=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --db-url) db_url=$2; db_url_set=1; shift 2 ;;
    --server-url) server_url=$2; shift 2 ;;
    --root) root=${2%/}; shift 2 ;;
    --no-systemd) use_systemd=0; shift ;;
    --package) package=$2; shift 2 ;;
    --yes|-y) assume_yes=1; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

fail() { echo "install.sh: $*" >&2; exit 1; }
ask() { # ask VAR "question" default
  local answer
  if [ $assume_yes -eq 0 ] && [ -t 0 ]; then read -r -p "$2 [$3]: " answer; printf -v "$1" '%s' "${answer:-$3}"; else printf -v "$1" '%s' "$3"; fi
}

[ "$(id -u)" -eq 0 ] || fail "run me as root (sudo ./install.sh): I create the kit user and the service."
[ -x "$package/kit-server" ] || fail "no server binaries in $package (expected $package/kit-server)."
[ -r "$here/kit-settings.sh" ] || fail "kit-settings.sh is missing beside me: run me from the unpacked archive."
# shellcheck source=kit-settings.sh
. "$here/kit-settings.sh"

config_dir="$root/etc/kit-license-server"
config="$config_dir/appsettings.json"
upgrade=0; [ -f "$config" ] && upgrade=1
# A setting as the server will read it: the settings file, else the defaults shipped beside the new binaries.
setting() { kit_setting "$config" "$1" || kit_setting "$package/appsettings.json" "$1"; }
is_port() { case "$1" in ''|*[!0-9]*) return 1 ;; esac; [ "${#1}" -le 5 ] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

[ -n "$dest" ] || ask dest "Destination directory" "/opt/kit-license-server"
dest="$root${dest#"$root"}"
if [ $upgrade -eq 1 ]; then
  # An upgrade keeps the configuration; addresses, server URL and database come from it.
  [ -z "$port" ] || echo "install.sh: an upgrade keeps the addresses of $config; --port is not used."
  urls=$(setting Urls) || urls="http://localhost:5000" # what Kestrel listens on when nothing sets Urls
  server_url=$(setting Kit:ServerUrl) || server_url=""
  db_url=$(setting Kit:Database:Url) || db_url=""
else
  [ -n "$port" ] || ask port "HTTP port" "8080"
  [ $db_url_set -eq 1 ] || ask db_url "Database URL (empty: the embedded PostgreSQL)" ""
  case "$port" in ''|*[!0-9]*) fail "the port \"$port\" is not a number." ;; esac
  is_port "$port" || fail "the port $port is not between 1 and 65535."
  [ -n "$server_url" ] || ask server_url "Server URL" "http://$(hostname -f 2>/dev/null || hostname):$port"
  urls="http://0.0.0.0:$port"
fi
data="$root/var/lib/kit-license-server"
logs="$root/var/log/kit-license-server"
unit_dir="$root/etc/systemd/system"
command_dir="$root/usr/local/bin"
pid_file="$data/kit-server.pid"

# --- Checks: nothing is changed before they all pass. ---
# Every address of Urls ("http://0.0.0.0:8080;https://[::]:8443"), each as "scheme host port probe": probe is the
# address this machine reaches it at. Kestrel listens on every interface for *, +, 0.0.0.0 and any name but
# localhost, so those are reached on 127.0.0.1; [::] on [::1]; an IP address on itself.
addresses=()
IFS=';' read -r -a listed <<< "$urls"
for address in "${listed[@]}"; do
  [ -n "$address" ] || continue
  # The server takes each address as it is written: " http://..." stops it at start.
  [[ $address != *[[:space:]]* ]] || fail "Urls in $config has a space in \"$address\", which the server does not accept: remove it."
  case "$address" in
    [hH][tT][tT][pP]://*) scheme=http ;;
    [hH][tT][tT][pP][sS]://*) scheme=https ;;
    *) fail "Urls in $config has an address I cannot read, \"$address\": I know http://HOST:PORT and https://HOST:PORT." ;;
  esac
  authority=${address#*://}; authority=${authority%%/*}
  case "$authority" in
    \[*\]:*) host="${authority%%]:*}]"; listen_port=${authority##*]:} ;;
    \[*\]) host=$authority; listen_port="" ;;
    *:*) host=${authority%%:*}; listen_port=${authority#*:} ;;
    *) host=$authority; listen_port="" ;;
  esac
  [ -n "$listen_port" ] || { if [ $scheme = https ]; then listen_port=443; else listen_port=80; fi; }
  [ "${host,,}" != unix ] || fail "Urls in $config has a Unix socket, \"$address\": I can only wait for the server on a TCP port."
  is_port "$listen_port" || fail "the port \"$listen_port\" of \"$address\" (Urls in $config) is not a number between 1 and 65535."
  if [ "$host" = "[::]" ]; then probe="[::1]"
  elif [ "$host" = 0.0.0.0 ]; then probe=127.0.0.1
  elif [[ $host == \[*\] || $host =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then probe=$host
  else probe=127.0.0.1
  fi
  addresses+=("$scheme $host $listen_port $probe")
done
[ ${#addresses[@]} -gt 0 ] || fail "Urls in $config names no address to listen on."

running_here() { { [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; } || { command -v systemctl >/dev/null && systemctl is-active --quiet kit-license-server 2>/dev/null; }; }
answers() { local h=${1#[}; h=${h%]}; timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$h" "$2" 2>/dev/null; } # answers HOST PORT
if ! { [ $upgrade -eq 1 ] && running_here; }; then
  for address in "${addresses[@]}"; do
    read -r scheme host listen_port probe <<< "$address"
    answers "$probe" "$listen_port" || continue
    if [ $upgrade -eq 1 ]; then fail "port $listen_port is in use by another program ($scheme://$host:$listen_port, in Urls of $config): stop it, or change Urls."
    else fail "port $listen_port is in use by another program. Choose another with --port."
    fi
  done
fi
writable_ancestor() { local d=$1; while [ ! -e "$d" ]; do d=$(dirname "$d"); done; [ -d "$d" ] && [ -w "$d" ] && touch "$d/.kit-write-test" 2>/dev/null && rm -f "$d/.kit-write-test"; }
for dir in "$dest" "$config_dir" "$data" "$logs" "$command_dir"; do writable_ancestor "$dir" || fail "cannot write to $dir (read-only or not permitted)."; done
if [ -n "$db_url" ]; then
  # An upgrade does not ask an external database: its password may be set where I cannot see it (the environment).
  if [ $upgrade -eq 0 ]; then
    reason=$("$package/kit-server" check-database --url "$db_url" 2>&1 >/dev/null) || fail "the database does not answer. $reason"
  fi
else
  if [ $upgrade -eq 0 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
    fail "no database URL was given and PostgreSQL is not installed for the embedded database: apt-get install postgresql, or pass --db-url."
  fi
  # The embedded database: the new server's own check of the PostgreSQL programs it would run (13 or later), with
  # the settings being kept (Kit:Database:PostgresBinDirectory), or none on a first installation.
  if [ $upgrade -eq 1 ]; then check_env=(env "KIT_CONFIG=$config"); else check_env=(env -u KIT_CONFIG); fi
  reason=$("${check_env[@]}" "$package/kit-server" check-database 2>&1 >/dev/null) || fail "the embedded database cannot run here. $reason"
fi
if [ $use_systemd -eq 1 ] && ! { command -v systemctl >/dev/null && [ -d /run/systemd/system ]; }; then
  fail "systemd does not run here. Use --no-systemd to start the server directly."
fi

# --- Install. ---
if [ $upgrade -eq 1 ]; then echo "Upgrading Kit License Server in $dest (configuration and data are kept)"; else echo "Installing Kit License Server in $dest"; fi
id kit >/dev/null 2>&1 || useradd --system --home-dir /var/lib/kit-license-server --no-create-home --shell /usr/sbin/nologin --user-group kit
install -d -m 0755 "$dest"
install -d -m 0750 -o root -g kit "$config_dir"
install -d -m 0750 -o kit -g kit "$data" "$logs"

if [ $use_systemd -eq 1 ]; then systemctl stop kit-license-server 2>/dev/null || true
elif [ -f "$pid_file" ]; then
  start-stop-daemon --stop --quiet --pidfile "$pid_file" --retry TERM/60/KILL/5 || true
  rm -f "$pid_file"
fi

rm -rf "$dest/bin.new"
cp -a "$package" "$dest/bin.new"
chown -R root:root "$dest/bin.new"
chmod -R go-w "$dest/bin.new"
rm -rf "$dest/bin.old"; [ -d "$dest/bin" ] && mv "$dest/bin" "$dest/bin.old"
mv "$dest/bin.new" "$dest/bin"; rm -rf "$dest/bin.old"
for f in uninstall.sh README.md LICENSE appsettings.sample.json; do [ -f "$here/$f" ] && install -m 0644 "$here/$f" "$dest/$f"; done
[ -f "$dest/uninstall.sh" ] && chmod 0755 "$dest/uninstall.sh"
if [ -d "$here/docs" ]; then rm -rf "$dest/docs"; cp -r "$here/docs" "$dest/docs"; chmod -R go-w,a+rX "$dest/docs"; fi

# The kit-server command: this installation's settings, and the kit user's account when root runs it. A file of that
# name that is not ours stays.
command="$command_dir/kit-server"
if [ -e "$command" ] && ! grep -q "Kit License Server's command line" "$command" 2>/dev/null; then
  echo "Kept $command, which is not Kit License Server's: run $dest/bin/kit-server as the kit user, with KIT_CONFIG=$config."
else
  install -d -m 0755 "$command_dir"
  sed -e "s#@DEST@#$dest#g; s#@SETTINGS@#$config#g" "$here/kit-server.sh" > "$command.new"
  chmod 0755 "$command.new"; mv "$command.new" "$command"
fi

if [ $upgrade -eq 0 ]; then
  umask 027
  esc() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
  cat > "$config" <<JSON
{
  "Urls": "http://0.0.0.0:$port",
  "Kit": {
    "ServerUrl": "$(esc "$server_url")",
    "DataDirectory": "$data",
    "Database": { "Url": "$(esc "$db_url")" },
    "Logs": { "Directory": "$logs", "ConsoleLevel": "Warn" }
  }
}
JSON
  chown root:kit "$config"; chmod 0640 "$config"
fi
# The log settings, beside the settings file; kept when IT has changed them.
if [ ! -f "$config_dir/nlog.config" ] && [ -f "$here/nlog.config" ]; then
  install -m 0644 -o root -g kit "$here/nlog.config" "$config_dir/nlog.config"
fi

# The secrets key file encrypts the server's secrets in the database (Kit:Secrets:KeyFile, default secrets.key in the
# data directory). Made once, owner-only for kit; never replaced, since what the database holds could not be decrypted.
secrets_key=$(setting Kit:Secrets:KeyFile) || secrets_key=""
[ -n "$secrets_key" ] || secrets_key="$data/secrets.key"
case "$secrets_key" in /*) ;; *) secrets_key="$dest/bin/$secrets_key" ;; esac
if [ -e "$secrets_key" ]; then
  echo "Kept the secrets key file $secrets_key."
else
  [ -d "$(dirname "$secrets_key")" ] || install -d -m 0750 -o kit -g kit "$(dirname "$secrets_key")"
  (umask 077; { echo "kit-secrets-key/1"; head -c 32 /dev/urandom | base64 -w0; echo; } > "$secrets_key.new")
  chown kit:kit "$secrets_key.new"; chmod 0600 "$secrets_key.new"
  mv -n "$secrets_key.new" "$secrets_key"; rm -f "$secrets_key.new"
  echo "Made the secrets key file $secrets_key (readable by the kit user only). It encrypts the server's secrets in the"
  echo "database, and the server's backups do not hold it: back it up now, apart from the backups, and copy it to every"
  echo "other node of this installation (same path, owner kit, mode 600). On a second node, put the first node's file in"
  echo "its place and start the server again."
fi

if [ $use_systemd -eq 1 ]; then
  sed -e "s#@DEST@#$dest#g; s#@CONFIG@#$config_dir#g; s#@DATA@#$data#g; s#@LOGS@#$logs#g" "$here/kit-license-server.service" > "$unit_dir/kit-license-server.service"
  systemctl daemon-reload
  systemctl enable --now kit-license-server
else
  KIT_CONFIG="$config" DOTNET_CLI_TELEMETRY_OPTOUT=1 start-stop-daemon --start --quiet --background --make-pidfile \
    --pidfile "$pid_file" --chuid kit:kit --chdir "$data" --output "$logs/console.log" --exec "$dest/bin/kit-server" -- run
fi

# Wait for /health/ready on the first http:// address, else on the first https:// one.
probe_url="" trust=() checked_certificate=""
for address in "${addresses[@]}"; do
  read -r scheme host listen_port probe <<< "$address"
  if [ "$scheme" = http ]; then probe_url="http://$probe:$listen_port/health/ready"; break; fi
done
if [ -z "$probe_url" ]; then
  read -r scheme host listen_port probe <<< "${addresses[0]}"
  # Over HTTPS, curl checks the certificate for the name people use (ServerUrl's host, when it is https), while
  # --connect-to sends the request to this machine.
  name=localhost
  if [[ ${server_url,,} == https://* ]]; then
    name=${server_url#*://}; name=${name%%/*}; name=${name##*@}
    if [[ $name == \[* ]]; then name="${name%%]*}]"; else name=${name%%:*}; fi
    [ -n "$name" ] || name=localhost
  fi
  probe_url="https://$name:$listen_port/health/ready"
  trust=(--connect-to "$name:$listen_port:$probe:$listen_port")
  certificate=$(setting Kit:Https:CertificatePath) || certificate=""
  case "$certificate" in ''|/*) ;; *) certificate="$dest/bin/$certificate" ;; esac # relative: from the binaries' folder, as the server
  if [ -n "$certificate" ] && grep -q -- "-----BEGIN CERTIFICATE-----" "$certificate" 2>/dev/null; then
    trust+=(--cacert "$certificate"); checked_certificate=$certificate
  else
    # A PKCS#12 (.pfx) certificate: curl takes only PEM as the authority to trust, and openssl, which would convert it,
    # need not be installed. Not checking the certificate is acceptable for this one request: it goes to this machine's
    # own loopback address, carries no credentials, and only decides whether I say that the server answers.
    trust+=(--insecure)
  fi
fi

echo "Waiting for the server to answer at $probe_url..."
for _ in $(seq 1 180); do
  if outcome=$(curl -fsS --max-time 10 "${trust[@]}" -o /dev/null "$probe_url" 2>&1); then
    echo "Kit License Server is running. Open $server_url/Activate to activate it."
    echo "After activation, the Setup page asks for a one-time setup code to create the server admin account:"
    echo "  sudo cat $data/setup-code    (also in $logs/kit-server.log)"
    echo "Keep a copy of the secrets key file $secrets_key safe, apart from the backups, and copy it to every other node."
    echo "The server's commands run with its settings and as the kit user with: sudo kit-server <command>, e.g."
    echo "  sudo kit-server backup --out /var/backups/kit.tar.gz    (a folder the kit user can write; kit-server --help lists them)"
    exit 0
  else
    status=$?
  fi
  # 60: the certificate is not the configured one, or does not name $name. The server answers, so say so, and go on
  # waiting without checking it (see above why that is acceptable here).
  if [ -n "$checked_certificate" ] && { [ $status -eq 60 ] || [ $status -eq 51 ]; }; then
    echo "Warning: the server's certificate could not be checked against $checked_certificate for the name $name (${outcome%%$'\n'*})."
    echo "  Clients that reach it as $server_url may refuse it: see Kit:Https and Kit:ServerUrl in $config."
    checked_certificate=""
    trust=("${trust[@]:0:2}" --insecure)
    continue
  fi
  # Stopped at start (the secrets key file of another node, a certificate it cannot read...): its own sentence says why.
  if [ $use_systemd -eq 0 ] && ! kill -0 "$(cat "$pid_file" 2>/dev/null)" 2>/dev/null; then
    fail "the server stopped at start: $(tail -n 3 "$logs/console.log" 2>/dev/null)"
  fi
  sleep 1
done
fail "the server did not answer at $probe_url within 3 minutes; see $logs/kit-server.log and $logs/console.log."
