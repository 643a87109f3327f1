#!/usr/bin/env bash
# Builds kit-client.jar with the JDK alone (javac and jar; no Maven): the client's classes and Gson's, taken from
# Debian's libgoogle-gson-java, in one jar that runs with java -jar. Usage: build.sh [OUT_DIR] (default: build/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:-$here/build}" && cd "${1:-$here/build}" && pwd)
gson=${GSON_JAR:-/usr/share/java/gson.jar}
[ -f "$gson" ] || { echo "Gson is missing: apt-get install libgoogle-gson-java (or set GSON_JAR)." >&2; exit 1; }
rm -rf "$out/classes" && mkdir -p "$out/classes"
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -cp "$gson" -d "$out/classes" $(find "$here/src" -name '*.java')
(cd "$out/classes" && jar xf "$gson" com && rm -rf META-INF)
jar --create --file "$out/kit-client.jar" --main-class kit.client.Main -C "$out/classes" .
echo "$out/kit-client.jar"
