#!/usr/bin/env bash
# Local services for development and tests: a private PostgreSQL 15 cluster
# (logical WAL + pgvector) and a single-node Kafka 3.9 broker in KRaft mode.
# Everything lives in <repo>/.tandem (git-ignored).
#
#   bash scripts/services.sh start [pg|kafka]    install what is missing, start (idempotent)
#   bash scripts/services.sh stop [pg|kafka]     stop
#   bash scripts/services.sh status [pg|kafka]   show state (exit 0 when all run, 3 otherwise)
#   bash scripts/services.sh env                 print `export TANDEM_...=...` lines (eval "$(... env)")
#   bash scripts/services.sh topics ARGS...      Kafka's TopicCommand against the broker,
#                                                e.g. `topics --list`, `topics --create --topic t1`
#   bash scripts/services.sh start-cluster       PostgreSQL + a three-broker Kafka cluster instead of
#                                                the single broker (same as TANDEM_KAFKA_BROKERS_COUNT=3 start)
#   bash scripts/services.sh stop-cluster        stop the cluster's brokers (PostgreSQL keeps running)
#   bash scripts/services.sh status-cluster      show the state of each broker of the cluster
#
# Kafka cluster (TANDEM_KAFKA_BROKERS_COUNT=3, or start-cluster): three combined broker+controller
# nodes (a 3-voter KRaft quorum), replication factor 3, min.insync.replicas=2, transaction state
# log replication 3 / min ISR 2, 384 MB heap each; data under .tandem/kafka-cluster/node<N>.
# Node 1 listens on TANDEM_KAFKA_PORT / TANDEM_KAFKA_CONTROLLER_PORT, node N>1 on the two ports
# after node N-1's controller port (defaults: 59092/59093, 59094/59095, 59096/59097). While the
# cluster runs, `env` exports all three brokers (without the variable set too).
#
# External services: when TANDEM_SOURCE_URL and TANDEM_TARGET_URL are both set,
# no local PostgreSQL is started; when TANDEM_KAFKA_BROKERS is set, no local Kafka.
#
#   PostgreSQL  127.0.0.1:55432  user tandem / password tandem (trust auth), dbs legacy + target
#   Kafka       127.0.0.1:59092  (controller 127.0.0.1:59093)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rel() { echo "${1#"$REPO_ROOT"/}"; }

# ================================================================ PostgreSQL
PG_PID_FILE="$PG_DATA/postmaster.pid"
# Shown in the server processes' titles ("postgres: tandem-55432: checkpointer").
PG_CLUSTER_NAME="tandem-$PG_PORT"

# Run a command as the cluster owner (`postgres` when we are root).
as_pg_owner() {
  if is_root; then
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
  else
    "$@"
  fi
}

# Run a PostgreSQL 15 binary as the cluster owner: pg_run initdb ARGS...
pg_run() {
  local bin=$1
  shift
  as_pg_owner "$PG_BIN/$bin" "$@"
}

# psql as the bootstrap superuser over TCP: pg_psql DB ARGS...
pg_psql() {
  local db=$1
  shift
  pg_run psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_OS_USER" -d "$db" "$@"
}

pg_running() { check_pidfile postgres "$PG_PID_FILE" postgres; }

pg_initdb() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && return
  if [[ -e "$PG_DATA" ]]; then
    log "postgres: removing incomplete data folder $(rel "$PG_DATA") (no PG_VERSION)"
    rm -rf "$PG_DATA"
  fi
  log "postgres: initdb $(rel "$PG_DATA")"
  # (initdb's log stays outside .tandem/pg, which belongs to the postgres user)
  pg_run initdb -D "$PG_DATA" -U "$PG_OS_USER" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$SERVICES_DIR/pg-initdb.log" 2>&1 ||
    {
      cat "$SERVICES_DIR/pg-initdb.log" >&2
      die "initdb failed"
    }
}

# Our settings live in data/tandem.conf (included from postgresql.conf) and are
# rewritten on every start, so moving the clone or editing this script just works.
pg_write_config() {
  local socket_dir="$PG_SOCKET_DIR"
  # A unix socket path is limited to 107 bytes; fall back to TCP only when too deep.
  if ((${#socket_dir} + 16 > 107)); then
    warn "postgres: $socket_dir is too long for a unix socket; listening on TCP only"
    socket_dir=""
  fi
  as_pg_owner tee "$PG_DATA/tandem.conf" >/dev/null <<EOF
# Written by scripts/services.sh on every start; edits are overwritten.
listen_addresses = '$PG_HOST'
port = $PG_PORT
cluster_name = '$PG_CLUSTER_NAME'
unix_socket_directories = '$socket_dir'
wal_level = logical
# Also the number of replication origins that can hold progress (failback and the projector mark
# their writes with one per projection and topic prefix): a whole test run creates more than 20, and
# the next one then fails with "could not find free replication state slot".
max_replication_slots = 64
max_wal_senders = 20
log_min_messages = warning
EOF
  as_pg_owner tee "$PG_DATA/pg_hba.conf" >/dev/null <<EOF
# Written by scripts/services.sh: local development cluster, trust everything local.
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  trust
host    all          all   127.0.0.1/32   trust
host    all          all   ::1/128        trust
local   replication  all                  trust
host    replication  all   127.0.0.1/32   trust
host    replication  all   ::1/128        trust
EOF
  if ! grep -q "^include_if_exists = 'tandem.conf'" "$PG_DATA/postgresql.conf"; then
    printf "\n# tandem: local settings (scripts/services.sh)\ninclude_if_exists = 'tandem.conf'\n" |
      as_pg_owner tee -a "$PG_DATA/postgresql.conf" >/dev/null
  fi
}

# Role `tandem`, databases legacy + target, extension vector: created when missing.
pg_ensure_databases() {
  local db
  pg_psql postgres <<EOF
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
    CREATE ROLE $PG_ROLE LOGIN SUPERUSER REPLICATION PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
EOF
  for db in "${PG_DATABASES[@]}"; do
    pg_psql postgres <<EOF
SELECT 'CREATE DATABASE $db OWNER $PG_ROLE'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \gexec
EOF
    pg_psql "$db" -c 'SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS vector;'
  done
}

# After a crash the unix socket's lock file may survive; PostgreSQL refuses to
# start while the pid in it still exists (even as a not yet reaped zombie).
pg_remove_stale_socket_lock() {
  local lock="$PG_SOCKET_DIR/.s.PGSQL.$PG_PORT.lock" pid
  [[ -f "$lock" ]] || return 0
  pid="$(pidfile_pid "$lock")"
  pid_matches "$pid" postgres && return 0
  log "postgres: removing stale socket lock $(rel "$lock") (pid ${pid:-?} is not running)"
  rm -f "$lock" "$PG_SOCKET_DIR/.s.PGSQL.$PG_PORT"
}

# Server processes of a crashed postmaster, if any (identified by cluster_name).
pg_orphans() { pgrep -f "^postgres: $PG_CLUSTER_NAME: " || true; }
pg_no_orphans() { [[ -z "$(pg_orphans)" ]]; }

# Never start a new server while processes of a killed one still use the data folder.
pg_wait_for_orphans() {
  pg_no_orphans && return 0
  log "postgres: waiting for leftover processes of the previous server to exit"
  wait_until 20 "leftover postgres processes to exit" pg_no_orphans ||
    die "postgres: leftover server processes still running (pids: $(pg_orphans | tr '\n' ' ')); stop them first"
}

pg_start() {
  if pg_running; then
    log "postgres: already running (pid $(pidfile_pid "$PG_PID_FILE")) on $PG_HOST:$PG_PORT"
  else
    require_port_free "$PG_PORT" "PostgreSQL"
    pg_wait_for_orphans
    pg_remove_stale_socket_lock
    pg_initdb
    pg_write_config
    log "postgres: starting on $PG_HOST:$PG_PORT (log $(rel "$PG_LOG"))"
    if ! pg_run pg_ctl -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -s start; then
      tail -n 20 "$PG_LOG" >&2 || true
      die "postgres failed to start (log: $PG_LOG)"
    fi
  fi
  pg_ensure_databases
  log "postgres: ready ($LOCAL_SOURCE_URL, $LOCAL_TARGET_URL)"
}

pg_stop() {
  if ! pg_running; then
    log "postgres: not running"
    return
  fi
  log "postgres: stopping (pg_ctl stop -m fast)"
  pg_run pg_ctl -D "$PG_DATA" -m fast -w -t 60 -s stop
  log "postgres: stopped"
}

pg_status() {
  if pg_is_external; then
    echo "[services] postgres: external (TANDEM_SOURCE_URL / TANDEM_TARGET_URL are set)"
  elif pg_running; then
    echo "[services] postgres: running (pid $(pidfile_pid "$PG_PID_FILE")) on $PG_HOST:$PG_PORT, data $(rel "$PG_DATA")"
  else
    echo "[services] postgres: stopped"
    return 1
  fi
}

# ================================================================ Kafka
kafka_running() { check_pidfile kafka "$KAFKA_PID_FILE" kafka.Kafka; }

# Run a Kafka/JDK main class with the broker's classpath (for CLI tools).
kafka_tool() {
  mkdir -p "$KAFKA_LOGS/tools"
  java -Xshare:auto -XX:TieredStopAtLevel=1 -Xmx512m \
    -Dlog4j.configuration="file:$KAFKA_LOG4J" -Dkafka.logs.dir="$KAFKA_LOGS/tools" \
    -cp "$KAFKA_LIB/*" "$@"
}

kafka_write_config() {
  mkdir -p "$KAFKA_STATE_DIR" "$KAFKA_DATA" "$KAFKA_LOGS"
  local replication=1 min_isr=1 voters="1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT" layout="Single node"
  if ((KAFKA_NODES > 1)); then
    replication=3
    min_isr=2
    voters="$(kafka_cluster_voters)"
    layout="Node $KAFKA_NODE_ID of a $KAFKA_NODES-node cluster"
  fi
  cat >"$KAFKA_CONFIG" <<EOF
# Written by scripts/services.sh on every start; edits are overwritten.
# $layout, KRaft mode, combined broker + controller.
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
controller.quorum.voters=$voters
log.dirs=$KAFKA_DATA
num.partitions=3
default.replication.factor=$replication
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$replication
transaction.state.log.replication.factor=$replication
transaction.state.log.min.isr=$min_isr
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
transaction.max.timeout.ms=900000
EOF
}

# Format the storage once; the cluster id is kept in .tandem/kafka/cluster.id.
kafka_format_if_needed() {
  [[ -f "$KAFKA_DATA/meta.properties" ]] && return
  local cluster_id
  if [[ -s "$KAFKA_CLUSTER_ID_FILE" ]]; then
    cluster_id="$(cat "$KAFKA_CLUSTER_ID_FILE")"
  else
    cluster_id="$(kafka_tool kafka.tools.StorageTool random-uuid | tail -n 1)"
    [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka: could not generate a cluster id (got '$cluster_id')"
    echo "$cluster_id" >"$KAFKA_CLUSTER_ID_FILE"
  fi
  log "kafka: formatting storage $(rel "$KAFKA_DATA") (cluster id $cluster_id)"
  kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_CONFIG" >"$KAFKA_LOGS/format.log" 2>&1 ||
    {
      cat "$KAFKA_LOGS/format.log" >&2
      die "kafka: storage format failed"
    }
}

KAFKA_LOG_OFFSET=0

# Start the broker in the background (own session, nohup) and return at once.
kafka_launch() {
  kafka_write_config
  kafka_format_if_needed
  KAFKA_LOG_OFFSET=$(stat -c %s "$KAFKA_SERVER_LOG" 2>/dev/null || echo 0)
  log "kafka: starting on $KAFKA_HOST:$KAFKA_PORT (log $(rel "$KAFKA_SERVER_LOG"))"
  # The inner shell writes its own pid and then execs java, so the pid file
  # holds the JVM's pid whether or not setsid had to fork.
  # shellcheck disable=SC2016
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PID_FILE" \
    java "${KAFKA_HEAP_OPTS[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KAFKA_LOG4J" -Dkafka.logs.dir="$KAFKA_LOGS" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_CONFIG" \
    </dev/null >>"$KAFKA_OUT" 2>&1 &
  wait_until 10 "kafka pid file" test -s "$KAFKA_PID_FILE" || die "kafka: no pid file written"
}

# True once this run of the broker logged "Kafka Server started" (it has then
# registered with the controller and been unfenced, i.e. it serves metadata).
kafka_logged_started() {
  local size offset=$KAFKA_LOG_OFFSET
  [[ -f "$KAFKA_SERVER_LOG" ]] || return 1
  size=$(stat -c %s "$KAFKA_SERVER_LOG")
  ((size >= offset)) || offset=0 # the log rolled over meanwhile
  # (not grep -q: tail would die of SIGPIPE after an early match in a long log, failing the pipeline)
  tail -c +$((offset + 1)) "$KAFKA_SERVER_LOG" | grep 'Kafka Server started' >/dev/null
}

kafka_ready_check() {
  local pid
  pid="$(pidfile_pid "$KAFKA_PID_FILE")"
  if ! pid_matches "$pid" kafka.Kafka; then
    tail -n 20 "$KAFKA_OUT" >&2 || true
    tail -n 20 "$KAFKA_SERVER_LOG" >&2 || true
    rm -f "$KAFKA_PID_FILE"
    die "kafka: broker exited during startup (logs: $KAFKA_OUT, $KAFKA_SERVER_LOG)"
  fi
  kafka_logged_started && port_accepts "$KAFKA_PORT"
}

kafka_wait_ready() {
  if ! wait_until 90 "kafka broker on $KAFKA_HOST:$KAFKA_PORT" kafka_ready_check; then
    die "kafka: broker not ready after 90s (logs: $KAFKA_OUT, $KAFKA_SERVER_LOG)"
  fi
  log "kafka: ready ($LOCAL_KAFKA_BROKERS)"
}

kafka_stop() {
  if ! kafka_running; then
    log "kafka: not running"
    return
  fi
  local pid
  pid="$(pidfile_pid "$KAFKA_PID_FILE")"
  log "kafka: stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until 60 "kafka to exit" eval "! kill -0 $pid 2>/dev/null"; then
    warn "kafka: still running after 60s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_until 10 "kafka to exit" eval "! kill -0 $pid 2>/dev/null" || true
  fi
  rm -f "$KAFKA_PID_FILE"
  log "kafka: stopped"
}

kafka_status() {
  if kafka_is_external; then
    echo "[services] kafka: external (TANDEM_KAFKA_BROKERS=$TANDEM_KAFKA_BROKERS)"
  elif kafka_running; then
    local state="accepting connections"
    port_accepts "$KAFKA_PORT" || state="NOT accepting connections yet"
    echo "[services] kafka: running (pid $(pidfile_pid "$KAFKA_PID_FILE")) on $KAFKA_HOST:$KAFKA_PORT, $state"
  else
    echo "[services] kafka: stopped"
    return 1
  fi
}

# ================================================================ Kafka cluster
# The cluster's nodes reuse the single broker's functions: kafka_use_node points the KAFKA_*
# variables (ports, folders, pid file) at one node.
KAFKA_NODES="${TANDEM_KAFKA_BROKERS_COUNT:-1}"
KAFKA_NODE_ID=1
KAFKA_CLUSTER_DIR="$SERVICES_DIR/kafka-cluster"
KAFKA_FIRST_PORT=$KAFKA_PORT
KAFKA_FIRST_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT

kafka_check_nodes() {
  [[ "$KAFKA_NODES" == 1 || "$KAFKA_NODES" == 3 ]] ||
    die "TANDEM_KAFKA_BROKERS_COUNT must be 1 (one broker) or 3 (a three-broker cluster), not '$KAFKA_NODES'"
}

# Broker and controller port of node $1 (1-based).
kafka_node_port() { if (($1 == 1)); then echo "$KAFKA_FIRST_PORT"; else echo $((KAFKA_FIRST_CONTROLLER_PORT + 2 * $1 - 3)); fi; }
kafka_node_controller_port() { if (($1 == 1)); then echo "$KAFKA_FIRST_CONTROLLER_PORT"; else echo $((KAFKA_FIRST_CONTROLLER_PORT + 2 * $1 - 2)); fi; }

kafka_cluster_voters() {
  local i voters=()
  for ((i = 1; i <= KAFKA_NODES; i++)); do voters+=("$i@$KAFKA_HOST:$(kafka_node_controller_port "$i")"); done
  (IFS=,; echo "${voters[*]}")
}

# Every broker's host:port, comma-separated.
kafka_cluster_brokers() {
  local i brokers=()
  for ((i = 1; i <= KAFKA_NODES; i++)); do brokers+=("$KAFKA_HOST:$(kafka_node_port "$i")"); done
  (IFS=,; echo "${brokers[*]}")
}

kafka_use_node() {
  KAFKA_NODE_ID=$1
  KAFKA_PORT="$(kafka_node_port "$1")"
  KAFKA_CONTROLLER_PORT="$(kafka_node_controller_port "$1")"
  KAFKA_STATE_DIR="$KAFKA_CLUSTER_DIR/node$1"
  KAFKA_DATA="$KAFKA_STATE_DIR/data"
  KAFKA_LOGS="$KAFKA_STATE_DIR/logs"
  KAFKA_CONFIG="$KAFKA_STATE_DIR/server.properties"
  KAFKA_CLUSTER_ID_FILE="$KAFKA_CLUSTER_DIR/cluster.id" # one id for every node
  KAFKA_PID_FILE="$KAFKA_STATE_DIR/kafka.pid"
  KAFKA_OUT="$KAFKA_LOGS/kafka.out"
  KAFKA_SERVER_LOG="$KAFKA_LOGS/server.log"
  KAFKA_HEAP_OPTS=(-Xmx384m -Xms128m)
  LOCAL_KAFKA_BROKERS="$(kafka_cluster_brokers)"
}

# Starts the nodes that are not running: all are launched before any is awaited, because a node
# only becomes ready once a majority of the quorum is up.
kafka_cluster_start() {
  local i entry launched=()
  mkdir -p "$KAFKA_CLUSTER_DIR"
  for ((i = 1; i <= KAFKA_NODES; i++)); do
    kafka_use_node "$i"
    if kafka_running; then
      log "kafka node $i: already running (pid $(pidfile_pid "$KAFKA_PID_FILE")) on $KAFKA_HOST:$KAFKA_PORT"
    else
      require_port_free "$KAFKA_PORT" "Kafka node $i"
      require_port_free "$KAFKA_CONTROLLER_PORT" "the controller of Kafka node $i"
    fi
  done
  for ((i = 1; i <= KAFKA_NODES; i++)); do
    kafka_use_node "$i"
    kafka_running && continue
    kafka_launch
    launched+=("$i:$KAFKA_LOG_OFFSET")
  done
  for entry in "${launched[@]}"; do
    kafka_use_node "${entry%%:*}"
    KAFKA_LOG_OFFSET="${entry#*:}"
    kafka_wait_ready
  done
}

# All nodes are signalled at once: a node stopped after the others would wait for a quorum that is gone.
kafka_cluster_stop() {
  local i pid pids=()
  for ((i = KAFKA_NODES; i >= 1; i--)); do
    kafka_use_node "$i"
    if kafka_running; then
      pid="$(pidfile_pid "$KAFKA_PID_FILE")"
      log "kafka node $i: stopping (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    else
      log "kafka node $i: not running"
    fi
  done
  for pid in "${pids[@]}"; do
    if ! wait_until 60 "kafka pid $pid to exit" eval "! kill -0 $pid 2>/dev/null"; then
      warn "kafka: pid $pid still running after 60s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for ((i = 1; i <= KAFKA_NODES; i++)); do rm -f "$KAFKA_CLUSTER_DIR/node$i/kafka.pid"; done
  log "kafka: cluster stopped"
}

kafka_cluster_status() {
  local i rc=0
  for ((i = 1; i <= KAFKA_NODES; i++)); do
    kafka_use_node "$i"
    kafka_status | sed "s/^\[services\] kafka:/[services] kafka node $i:/" || rc=1
  done
  return $rc
}

# Without TANDEM_KAFKA_BROKERS_COUNT: the cluster when its first node runs and the single broker does not.
kafka_detect_cluster() {
  [[ -n "${TANDEM_KAFKA_BROKERS_COUNT:-}" ]] && return 0
  check_pidfile kafka "$KAFKA_PID_FILE" kafka.Kafka 2>/dev/null && return 0
  if pid_matches "$(pidfile_pid "$KAFKA_CLUSTER_DIR/node1/kafka.pid")" kafka.Kafka; then
    KAFKA_NODES=3
  fi
}

# ================================================================ commands
# Which services a command acts on: `all` (default), `pg` or `kafka`.
SELECT_PG=yes
SELECT_KAFKA=yes
select_services() {
  case "${1:-all}" in
    all) ;;
    pg | postgres) SELECT_KAFKA=no ;;
    kafka) SELECT_PG=no ;;
    *) die "unknown service '$1' (expected: all, pg or kafka)" ;;
  esac
}

# A PostgreSQL on our port that has our role, our databases and logical WAL: another checkout's.
pg_served_elsewhere() {
  port_in_use "$PG_PORT" && [[ -x "$PG_BIN/psql" ]] &&
    [[ "$("$PG_BIN/psql" -X -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ROLE" -d target -Atc "SELECT current_setting('wal_level')" 2>/dev/null)" == logical ]]
}

# A Kafka broker (kafka.Kafka main class) on our port: another checkout's.
kafka_served_elsewhere() {
  local pid
  port_in_use "$KAFKA_PORT" || return 1
  pid="$(port_pid "$KAFKA_PORT")"
  [[ -n "$pid" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'
}

cmd_start() {
  local start want_pg=$SELECT_PG want_kafka=$SELECT_KAFKA kafka_launched=no
  start="$(now)"
  if [[ $want_pg == yes ]] && pg_is_external; then
    log "postgres: TANDEM_SOURCE_URL and TANDEM_TARGET_URL are set: not starting a local PostgreSQL"
    want_pg=no
  fi
  if [[ $want_kafka == yes ]] && kafka_is_external; then
    log "kafka: TANDEM_KAFKA_BROKERS is set: not starting a local Kafka"
    want_kafka=no
  fi
  if [[ $want_pg == no && $want_kafka == no ]]; then
    log "nothing to start locally"
    return
  fi

  # Another checkout of this repository (e.g. a CI clone) may already serve the same ports: use it.
  if [[ $want_pg == yes ]] && ! pg_running && pg_served_elsewhere; then
    log "postgres: a Tandem PostgreSQL from another checkout already serves $PG_HOST:$PG_PORT; using it"
    want_pg=no
  fi
  if [[ $want_kafka == yes ]] && ((KAFKA_NODES == 1)) && ! kafka_running && kafka_served_elsewhere; then
    log "kafka: a Tandem Kafka from another checkout already serves $KAFKA_HOST:$KAFKA_PORT; using it"
    want_kafka=no
  fi
  if [[ $want_pg == no && $want_kafka == no ]]; then
    log "services ready in $(elapsed_since "$start")s (use: eval \"\$(bash scripts/services.sh env)\")"
    return
  fi

  local component=all
  [[ $want_pg == no ]] && component=kafka
  [[ $want_kafka == no ]] && component=pg
  bash "$SCRIPTS_DIR/install.sh" "$component"

  # Check every port first so that a conflict fails before anything starts.
  if [[ $want_pg == yes ]] && ! pg_running; then
    require_port_free "$PG_PORT" "PostgreSQL"
  fi
  if [[ $want_kafka == yes ]] && ((KAFKA_NODES > 1)); then
    want_kafka=cluster # started after PostgreSQL
  elif [[ $want_kafka == yes ]]; then
    if kafka_running; then
      log "kafka: already running (pid $(pidfile_pid "$KAFKA_PID_FILE")) on $KAFKA_HOST:$KAFKA_PORT"
    else
      require_port_free "$KAFKA_PORT" "Kafka"
      require_port_free "$KAFKA_CONTROLLER_PORT" "the Kafka controller"
      kafka_launch # the JVM boots while PostgreSQL starts
      kafka_launched=yes
    fi
  fi

  [[ $want_pg == yes ]] && pg_start
  if [[ $want_kafka == cluster ]]; then
    kafka_cluster_start
  elif [[ $kafka_launched == yes ]]; then
    kafka_wait_ready
  elif [[ $want_kafka == yes ]]; then
    wait_until 30 "kafka on $KAFKA_HOST:$KAFKA_PORT" port_accepts "$KAFKA_PORT" ||
      die "kafka: running but not accepting connections on $KAFKA_PORT (logs: $KAFKA_SERVER_LOG)"
  fi
  log "services ready in $(elapsed_since "$start")s (use: eval \"\$(bash scripts/services.sh env)\")"
}

cmd_stop() {
  if [[ $SELECT_KAFKA == yes ]]; then
    if ((KAFKA_NODES > 1)); then kafka_cluster_stop; else kafka_stop; fi
  fi
  [[ $SELECT_PG == no ]] || pg_stop
}

cmd_status() {
  local rc=0
  if [[ $SELECT_PG == yes ]]; then pg_status || rc=3; fi
  if [[ $SELECT_KAFKA == yes ]] && ((KAFKA_NODES > 1)); then
    kafka_cluster_status || rc=3
  elif [[ $SELECT_KAFKA == yes ]]; then
    kafka_status || rc=3
  fi
  return $rc
}

cmd_env() {
  kafka_detect_cluster
  ((KAFKA_NODES == 1)) || kafka_use_node 1
  printf 'export TANDEM_SOURCE_URL=%q\n' "${TANDEM_SOURCE_URL:-$LOCAL_SOURCE_URL}"
  printf 'export TANDEM_TARGET_URL=%q\n' "${TANDEM_TARGET_URL:-$LOCAL_TARGET_URL}"
  printf 'export TANDEM_KAFKA_BROKERS=%q\n' "${TANDEM_KAFKA_BROKERS:-$LOCAL_KAFKA_BROKERS}"
}

cmd_topics() {
  kafka_detect_cluster
  ((KAFKA_NODES == 1)) || kafka_use_node 1
  [[ -f "$KAFKA_LIB_STAMP" ]] || die "kafka jars not installed: run bash scripts/install.sh kafka"
  kafka_tool org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "${TANDEM_KAFKA_BROKERS:-$LOCAL_KAFKA_BROKERS}" "$@"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  [[ $# -gt 0 ]] && shift
  kafka_check_nodes
  case "$cmd" in
    start-cluster | stop-cluster | status-cluster)
      KAFKA_NODES=3
      select_services "$@"
      [[ $cmd == start-cluster ]] || SELECT_PG=no
      "cmd_${cmd%-cluster}"
      ;;
    start | stop | status)
      select_services "$@"
      "cmd_$cmd"
      ;;
    env) cmd_env ;;
    topics) cmd_topics "$@" ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
