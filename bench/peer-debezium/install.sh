#!/usr/bin/env bash
# Resolves the Debezium harness's jars (bench/peer-debezium/pom.xml) from Maven Central into
# .tandem/peer-debezium/lib, installing Java and Maven first if they are missing. Idempotent: the
# jars are cached by the sha256 of the pom (a stamp sits next to them), so a second run only checks.
#
#   bash bench/peer-debezium/install.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=../../scripts/lib.sh
source "$HERE/../../scripts/lib.sh"

POM="$HERE/pom.xml"
DIR="$TANDEM_DIR/peer-debezium"
LIB="$DIR/lib"
STAMP="$LIB/.pom.sha256"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(file_sha256 "$POM")" ]] && compgen -G "$LIB/debezium-embedded-*.jar" >/dev/null; then
  exit 0
fi
command -v java >/dev/null 2>&1 || bash "$SCRIPTS_DIR/install.sh" kafka
command -v mvn >/dev/null 2>&1 || {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends maven >/dev/null ||
    die "apt-get install maven failed"
}
log "resolving Debezium jars from Maven Central (${POM#"$REPO_ROOT"/}) into ${LIB#"$REPO_ROOT"/}"
mkdir -p "$DIR"
tmp="$DIR/lib.tmp"
rm -rf "$tmp"
if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DoutputDirectory="$tmp" >"$DIR/mvn.log" 2>&1; then
  tail -n 30 "$DIR/mvn.log" >&2
  die "mvn dependency:copy-dependencies failed (full log: $DIR/mvn.log)"
fi
file_sha256 "$POM" >"$tmp/.pom.sha256"
rm -rf "$LIB"
mv "$tmp" "$LIB"
log "Debezium jars ready: $(find "$LIB" -name '*.jar' | wc -l) jars"
