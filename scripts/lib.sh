# shellcheck shell=bash disable=SC2034  # (variables are used by the scripts sourcing this file)
# Shared helpers for scripts/install.sh and scripts/services.sh.
# Source it; do not run it. Everything lives under <repo>/.tandem (git-ignored),
# located from this file's own path so any clone works.
#
# A second set of services (e.g. the soak's, which kills and restarts them) can run beside the
# default one: TANDEM_SERVICES_DIR (default <repo>/.tandem) holds its data, logs and pid files,
# TANDEM_PG_PORT (55432), TANDEM_KAFKA_PORT (59092) and TANDEM_KAFKA_CONTROLLER_PORT (59093) its
# ports. Installed software (Kafka jars, pgvector build) is always shared under <repo>/.tandem.

# ---------------------------------------------------------------- locations
SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPTS_DIR/.." && pwd -P)"
TANDEM_DIR="$REPO_ROOT/.tandem"
BUILD_DIR="$TANDEM_DIR/build"
SERVICES_DIR="${TANDEM_SERVICES_DIR:-$TANDEM_DIR}"

# PostgreSQL 15: private cluster, run as the `postgres` system user when we are root.
PG_BIN="/usr/lib/postgresql/15/bin"
PG_PORT="${TANDEM_PG_PORT:-55432}"
PG_HOST=127.0.0.1
PG_DIR="$SERVICES_DIR/pg"
PG_DATA="$PG_DIR/data"
PG_SOCKET_DIR="$PG_DIR/run"
PG_LOG="$PG_DIR/log/postgres.log"
PG_OS_USER=postgres
PG_ROLE=tandem
PG_PASSWORD=tandem
PG_DATABASES=(legacy target)
PGVECTOR_CONTROL="/usr/share/postgresql/15/extension/vector.control"

# Kafka 3.9 (KRaft, combined broker+controller) from Maven Central jars.
KAFKA_HOST=127.0.0.1
KAFKA_PORT="${TANDEM_KAFKA_PORT:-59092}"
KAFKA_CONTROLLER_PORT="${TANDEM_KAFKA_CONTROLLER_PORT:-59093}"
KAFKA_POM="$SCRIPTS_DIR/kafka/pom.xml"
KAFKA_LOG4J="$SCRIPTS_DIR/kafka/log4j.properties"
KAFKA_DIR="$TANDEM_DIR/kafka" # the jars (installed once)
KAFKA_LIB="$KAFKA_DIR/lib"
KAFKA_LIB_STAMP="$KAFKA_LIB/.pom.sha256"
KAFKA_STATE_DIR="$SERVICES_DIR/kafka" # one broker's data, logs, config and pid file
KAFKA_DATA="$KAFKA_STATE_DIR/data"
KAFKA_LOGS="$KAFKA_STATE_DIR/logs"
KAFKA_CONFIG="$KAFKA_STATE_DIR/server.properties"
KAFKA_CLUSTER_ID_FILE="$KAFKA_STATE_DIR/cluster.id"
KAFKA_PID_FILE="$KAFKA_STATE_DIR/kafka.pid"
KAFKA_OUT="$KAFKA_LOGS/kafka.out"
KAFKA_SERVER_LOG="$KAFKA_LOGS/server.log"
KAFKA_HEAP_OPTS=(-Xmx1g -Xms256m)

# Connection strings handed to the application / tests.
LOCAL_SOURCE_URL="postgres://$PG_ROLE:$PG_PASSWORD@$PG_HOST:$PG_PORT/legacy"
LOCAL_TARGET_URL="postgres://$PG_ROLE:$PG_PASSWORD@$PG_HOST:$PG_PORT/target"
LOCAL_KAFKA_BROKERS="$KAFKA_HOST:$KAFKA_PORT"

# ---------------------------------------------------------------- logging
log() { printf '[services] %s\n' "$*" >&2; }
warn() { printf '[services] WARNING: %s\n' "$*" >&2; }
die() {
  printf '[services] ERROR: %s\n' "$*" >&2
  exit 1
}

# Seconds (with milliseconds) since the epoch, for timing messages.
now() { date +%s.%N; }
elapsed_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

is_root() { [[ $EUID -eq 0 ]]; }

# Run a command as root (directly, or through sudo when available).
as_root() {
  if is_root; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $*"
  fi
}

# ---------------------------------------------------------------- ports
# True when something listens on TCP port $1 (any local address).
port_in_use() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

# True when 127.0.0.1:$1 accepts a TCP connection right now.
port_accepts() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Human description of whoever listens on port $1, e.g. `python3 (pid 1234)`.
port_owner() {
  local port=$1 line users
  command -v ss >/dev/null 2>&1 || { echo "unknown process (ss not available)"; return; }
  line="$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n 1)"
  users="$(grep -o 'users:(.*)' <<<"$line" || true)"
  if [[ -z "$users" ]]; then
    echo "unknown process (ss -ltnp could not tell; try as root)"
    return
  fi
  # users:(("python3",pid=1234,fd=3),...) -> python3 (pid 1234)
  sed -E 's/^users:\(\("([^"]*)",pid=([0-9]+).*/\1 (pid \2)/' <<<"$users"
}

# The pid listening on port $1, if ss can tell.
port_pid() {
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2
}

# Fail with a clear message when port $1 is taken (by someone other than us).
require_port_free() {
  local port=$1 what=$2
  if port_in_use "$port"; then
    die "port $port needed by $what is already in use by $(port_owner "$port"); stop that process or set the TANDEM_* variables to use external services"
  fi
}

# ---------------------------------------------------------------- pid files
# True when process $1 is alive and its command line contains $2.
pid_matches() {
  local pid=$1 pattern=$2 cmdline
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"$pattern"* ]]
}

# First line of pid file $1 (empty when missing).
pidfile_pid() {
  if [[ -f "$1" ]]; then head -n 1 "$1" | tr -d '[:space:]'; fi
}

# check_pidfile NAME PIDFILE PATTERN
#   returns 0 when the pid file points at a live process matching PATTERN;
#   removes a stale pid file (with a message) and returns 1 otherwise.
check_pidfile() {
  local name=$1 file=$2 pattern=$3 pid
  [[ -f "$file" ]] || return 1
  pid="$(pidfile_pid "$file")"
  if pid_matches "$pid" "$pattern"; then
    return 0
  fi
  log "$name: removing stale pid file $file (pid ${pid:-?} is not running)"
  rm -f "$file"
  return 1
}

# wait_until SECONDS DESCRIPTION COMMAND...  (polls every 0.2 s)
wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

# sha256 of file $1.
file_sha256() { sha256sum "$1" | cut -d' ' -f1; }

# ---------------------------------------------------------------- which services are local
# The user may point the project at external services; each group is independent.
pg_is_external() { [[ -n "${TANDEM_SOURCE_URL:-}" && -n "${TANDEM_TARGET_URL:-}" ]]; }
kafka_is_external() { [[ -n "${TANDEM_KAFKA_BROKERS:-}" ]]; }
