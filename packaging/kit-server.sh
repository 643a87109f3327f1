#!/bin/sh
# kit-server: Kit License Server's command line, for the server installed in @DEST@.
# The installers fill in @DEST@ and @SETTINGS@ (install.sh: /usr/local/bin/kit-server; the .deb: /usr/bin/kit-server).
#
# It uses the installation's settings, @SETTINGS@, unless KIT_CONFIG names other ones. Started by root
# (sudo kit-server backup --out FILE), it runs the server's program as the service's user, kit: what the command
# writes (a backup, the setup code, the embedded PostgreSQL's files) then belongs to the service, as the service
# needs, and not to root. Paths on its command line are read and written as kit.
server=@DEST@/bin/kit-server
KIT_CONFIG=${KIT_CONFIG:-@SETTINGS@}
DOTNET_CLI_TELEMETRY_OPTOUT=1
export KIT_CONFIG DOTNET_CLI_TELEMETRY_OPTOUT

if [ "$(id -u)" -eq 0 ]; then
  exec runuser -u kit -- "$server" "$@"
fi
if [ ! -r "$KIT_CONFIG" ]; then
  case "${1:-}" in
    version|--version|--help|-h|'-?') ;;
    *) echo "kit-server: $(id -un) cannot read the settings $KIT_CONFIG: run it as root (sudo kit-server ...), which runs it as the kit user." >&2
       exit 1 ;;
  esac
fi
exec "$server" "$@"
