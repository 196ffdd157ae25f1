#!/usr/bin/env bash
# Installs whatever the local services need and is missing. Idempotent: a second
# run only checks (a few seconds at most) and changes nothing.
#
#   bash scripts/install.sh [all|pg|kafka|browser|test]   (default: all)
#
#   pg     PostgreSQL 15 binaries (apt), pgvector built from Debian trixie's
#          source package into /usr/share/postgresql/15 (only if vector.control
#          is missing), the private cluster folder .tandem/pg.
#   kafka  Java + Maven (apt, only if missing), Kafka 3.9 jars from Maven Central
#          into .tandem/kafka/lib (cached by the sha256 of scripts/kafka/pom.xml).
#   browser  Debian's chromium (apt, only if /usr/bin/chromium is missing), for the status-page
#          browser test (playwright-core drives it; no browser download).
#   test   browser, plus the command-line tools the tests call (openssl: the admin API's TLS
#          test makes a self-signed certificate; minimal Debian images do not ship it).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TRIXIE_SRC_LIST=/etc/apt/sources.list.d/tandem-trixie-src.list

# ---------------------------------------------------------------- apt helpers
# Two clones setting up at once (or an unattended upgrade) contend for dpkg's and apt's lists locks:
# wait for them instead of failing at once.
APT_LOCK_WAIT=(-o DPkg::Lock::Timeout=600)
apt_get() {
  as_root env DEBIAN_FRONTEND=noninteractive flock --wait 900 /var/lock/tandem-apt.lock apt-get "${APT_LOCK_WAIT[@]}" "$@"
}

APT_UPDATED=no
apt_update_once() {
  [[ $APT_UPDATED == yes ]] && return
  log "apt-get update"
  apt_get update -qq || die "apt-get update failed"
  APT_UPDATED=yes
}

deb_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# apt_install PKG... — installs the packages that are not installed yet.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    deb_installed "$pkg" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  apt_update_once
  log "apt-get install ${missing[*]}"
  local apt_log="$TANDEM_DIR/apt-install.log"
  mkdir -p "$TANDEM_DIR"
  if ! apt_get install -y -q --no-install-recommends "${missing[@]}" >"$apt_log" 2>&1; then
    tail -n 20 "$apt_log" >&2
    die "apt-get install ${missing[*]} failed (full log: $apt_log)"
  fi
}

# ---------------------------------------------------------------- PostgreSQL
install_pg_binaries() {
  if [[ -x "$PG_BIN/postgres" && -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" && -x "$PG_BIN/psql" ]]; then
    return
  fi
  log "PostgreSQL 15 binaries missing in $PG_BIN: installing postgresql-15 postgresql-client-15"
  apt_install postgresql-15 postgresql-client-15
  [[ -x "$PG_BIN/postgres" ]] || die "postgresql-15 installed but $PG_BIN/postgres is still missing"
}

# The URL of Debian's main archive as configured on this machine (deb822 or one-line format).
debian_mirror_url() {
  local url
  url="$(grep -hs -E '^\s*URIs:\s*\S+/debian/?\s*$' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    head -n 1 | awk '{print $2}')"
  if [[ -z "$url" ]]; then
    url="$(grep -hs -E '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      grep -oE 'https?://[^ ]+/debian/?(\s|$)' | head -n 1 | tr -d '[:space:]')"
  fi
  echo "${url:-http://deb.debian.org/debian}"
}

add_trixie_source_list() {
  [[ -f "$TRIXIE_SRC_LIST" ]] && return
  local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg opts=""
  mirror="$(debian_mirror_url)"
  [[ -f "$keyring" ]] && opts="[signed-by=$keyring] "
  log "adding $TRIXIE_SRC_LIST (deb-src ${mirror} trixie main) to build pgvector from Debian's source package"
  printf '# Added by tandem scripts/install.sh: source package of pgvector (not packaged for Debian 12).\n' |
    as_root tee "$TRIXIE_SRC_LIST" >/dev/null
  printf 'deb-src %s%s trixie main\n' "$opts" "$mirror" | as_root tee -a "$TRIXIE_SRC_LIST" >/dev/null
  APT_UPDATED=no # the new source needs a fresh index
}

install_pgvector() {
  if [[ -f "$PGVECTOR_CONTROL" ]]; then
    return
  fi
  log "pgvector missing ($PGVECTOR_CONTROL): building it from Debian trixie's source package"
  add_trixie_source_list # first, so that a single apt-get update covers both steps
  apt_install build-essential dpkg-dev postgresql-server-dev-15
  apt_update_once

  local src_root="$BUILD_DIR/pgvector" src
  rm -rf "$src_root"
  mkdir -p "$src_root"
  log "apt-get source pgvector into ${src_root#"$REPO_ROOT"/}"
  if ! (cd "$src_root" && apt-get source pgvector) >"$src_root/source.log" 2>&1; then
    tail -n 20 "$src_root/source.log" >&2
    die "apt-get source pgvector failed (full log: $src_root/source.log)"
  fi
  src="$(find "$src_root" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n 1)"
  [[ -n "$src" ]] || die "no pgvector-* source folder in $src_root"

  log "building $(basename "$src") against $PG_BIN/pg_config (make with_llvm=no)"
  local build_log="$src_root/build.log"
  if ! make -C "$src" -j"$(nproc)" PG_CONFIG="$PG_BIN/pg_config" with_llvm=no >"$build_log" 2>&1 ||
    ! as_root make -C "$src" PG_CONFIG="$PG_BIN/pg_config" with_llvm=no install >>"$build_log" 2>&1; then
    tail -n 30 "$build_log" >&2
    die "pgvector build failed (full log: $build_log)"
  fi
  [[ -f "$PGVECTOR_CONTROL" ]] || die "pgvector installed but $PGVECTOR_CONTROL is missing"
  log "pgvector $(sed -nE "s/^default_version = '([^']*)'.*/\1/p" "$PGVECTOR_CONTROL") installed"
}

# The `postgres` user must reach .tandem/pg: every ancestor needs the x bit for it.
ensure_pg_path_traversable() {
  is_root || return 0
  local dir="$PG_DIR"
  local -a chain=()
  while [[ "$dir" != "/" ]]; do
    chain=("$dir" "${chain[@]}")
    dir="$(dirname "$dir")"
  done
  for dir in "${chain[@]}"; do
    [[ -d "$dir" ]] || continue
    if ! runuser -u "$PG_OS_USER" -- test -x "$dir" 2>/dev/null; then
      log "user '$PG_OS_USER' cannot traverse $dir (mode $(stat -c %A "$dir")): running chmod o+x $dir so the private PostgreSQL cluster can live under the repo"
      chmod o+x "$dir"
    fi
  done
}

prepare_pg_dir() {
  mkdir -p "$PG_DIR" "$PG_SOCKET_DIR" "$(dirname "$PG_LOG")"
  if is_root; then
    id -u "$PG_OS_USER" >/dev/null 2>&1 ||
      die "system user '$PG_OS_USER' is missing (it comes with postgresql-common): apt-get install postgresql-common"
    # Only chown when needed so that a second run changes nothing.
    if [[ -n "$(find "$PG_DIR" \( ! -user "$PG_OS_USER" -o ! -group "$PG_OS_USER" \) -print -quit 2>/dev/null)" ]]; then
      chown -R "$PG_OS_USER:$PG_OS_USER" "$PG_DIR"
    fi
    ensure_pg_path_traversable
  fi
}

install_pg() {
  install_pg_binaries
  install_pgvector
  prepare_pg_dir
}

# ---------------------------------------------------------------- Kafka
install_java_and_maven() {
  command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null 2>&1 || apt_install maven
}

kafka_jars_current() {
  [[ -f "$KAFKA_LIB_STAMP" ]] &&
    [[ "$(cat "$KAFKA_LIB_STAMP")" == "$(file_sha256 "$KAFKA_POM")" ]] &&
    compgen -G "$KAFKA_LIB/kafka_2.13-*.jar" >/dev/null &&
    compgen -G "$KAFKA_LIB/kafka-tools-*.jar" >/dev/null
}

install_kafka() {
  if kafka_jars_current; then
    command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
    return
  fi
  install_java_and_maven
  log "resolving Kafka jars from Maven Central (${KAFKA_POM#"$REPO_ROOT"/}) into ${KAFKA_LIB#"$REPO_ROOT"/}"
  local start tmp="$KAFKA_DIR/lib.tmp" mvn_log="$KAFKA_DIR/mvn.log"
  start="$(now)"
  mkdir -p "$KAFKA_DIR"
  rm -rf "$tmp"
  if ! (cd "$REPO_ROOT" && mvn -q -B -Dstyle.color=never -f "$KAFKA_POM" \
    dependency:copy-dependencies -DoutputDirectory="$tmp") >"$mvn_log" 2>&1; then
    tail -n 30 "$mvn_log" >&2
    die "mvn dependency:copy-dependencies failed (full log: $mvn_log)"
  fi
  file_sha256 "$KAFKA_POM" >"$tmp/.pom.sha256"
  rm -rf "$KAFKA_LIB"
  mv "$tmp" "$KAFKA_LIB"
  log "Kafka jars ready: $(find "$KAFKA_LIB" -name '*.jar' | wc -l) jars in $(elapsed_since "$start")s"
}

# ---------------------------------------------------------------- browser
install_browser() {
  command -v chromium >/dev/null 2>&1 && [[ -x /usr/bin/chromium ]] && return
  log "chromium missing: installing Debian's chromium for the status-page browser test"
  apt_install chromium
  [[ -x /usr/bin/chromium ]] || die "chromium installed but /usr/bin/chromium is missing"
}

# ---------------------------------------------------------------- test tools
install_test_tools() {
  install_browser
  command -v openssl >/dev/null 2>&1 && return
  log "openssl missing: installing it for the admin API's TLS test (self-signed certificate)"
  apt_install openssl
}

# ---------------------------------------------------------------- main
main() {
  local what=${1:-all}
  case "$what" in
    all) install_pg && install_kafka ;;
    pg) install_pg ;;
    kafka) install_kafka ;;
    browser) install_browser ;;
    test) install_test_tools ;;
    *) die "usage: $0 [all|pg|kafka|browser|test]" ;;
  esac
}

main "$@"
