#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, broker+controller) on 127.0.0.1:9092, no Docker.
#
# Usage: scripts/kafka.sh start|stop|restart|reset|status
#
#   start    Download Kafka jars via Maven (first run only), format storage if not yet
#            formatted, launch the broker in the background and wait until :9092
#            accepts connections. No-op if something already listens on :9092.
#   stop     Stop the broker started by this script (by pid) and wait for it to exit.
#            The data dir is kept, so a later `start` sees the same topics/offsets.
#   restart  stop + start (same data dir).
#   reset    stop + delete the data dir (next `start` formats a fresh cluster).
#   status   Exit 0 if :9092 accepts connections, 1 otherwise.
#
# Requirements: bash, Java 17+ (java on PATH or JAVA_HOME), Maven 3 reaching Maven Central.
#
# Environment:
#   KAFKA_DATA_DIR        data/config/log/pid dir      (default /tmp/platform-kafka-data)
#   KAFKA_CACHE_DIR       where jars are downloaded     (default ~/.cache/platform-kafka)
#   KAFKA_START_TIMEOUT   seconds to wait for :9092    (default 90)
#   KAFKA_STOP_TIMEOUT    seconds to wait for exit      (default 60, then SIGKILL)
#   KAFKA_HEAP_OPTS       JVM heap flags                (default "-Xms256m -Xmx512m")
set -euo pipefail

KAFKA_VERSION="3.9.2"
SCALA_BINARY="2.13"
SLF4J_VERSION="1.7.36"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

HOST="127.0.0.1"
PORT="9092"
CONTROLLER_PORT="9093"

CACHE_DIR="${KAFKA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/platform-kafka}/${KAFKA_VERSION}"
LIBS_DIR="$CACHE_DIR/libs"
LIBS_MARKER="$LIBS_DIR/.complete"

DATA_DIR="${KAFKA_DATA_DIR:-/tmp/platform-kafka-data}"
LOG_DIRS="$DATA_DIR/kraft-logs"          # Kafka's log.dirs (the actual topic data)
CONF_DIR="$DATA_DIR/config"
APP_LOG_DIR="$DATA_DIR/logs"             # log4j output
PID_FILE="$DATA_DIR/kafka.pid"
OUT_FILE="$APP_LOG_DIR/kafka.out"        # raw stdout/stderr of the JVM
LOCK_FILE="${TMPDIR:-/tmp}/platform-kafka.lock"

START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-60}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"

if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA="java"
fi

log() { printf '[kafka.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

port_open() {
  # bash /dev/tcp; subshell so the fd is closed right away. `timeout` guards against hangs.
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# Pid from the pid file, only if that process is alive and really is our Kafka.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
  fi
  echo "$pid"
}

show_log_tail() {
  local f
  for f in "$APP_LOG_DIR/server.log" "$OUT_FILE"; do
    if [[ -s "$f" ]]; then
      log "---- last 60 lines of $f ----"
      tail -n 60 "$f" >&2 || true
    fi
  done
}

with_lock() {
  # Serialize concurrent start/stop/reset invocations (e.g. parallel CI steps).
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$LOCK_FILE"
    flock -w 180 9 || die "could not acquire lock $LOCK_FILE within 180s (another kafka.sh running?)"
  fi
  "$@"
}

ensure_libs() {
  if [[ -f "$LIBS_MARKER" ]] && compgen -G "$LIBS_DIR/kafka_${SCALA_BINARY}-${KAFKA_VERSION}.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH (needed to download Kafka jars)"
  mkdir -p "$CACHE_DIR"
  cat >"$CACHE_DIR/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.platform</groupId>
  <artifactId>platform-kafka-runtime</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${SCALA_BINARY}</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>${SLF4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
EOF
  local tmp="$CACHE_DIR/libs.tmp.$$"
  rm -rf "$tmp"
  log "downloading Kafka ${KAFKA_VERSION} jars via Maven into $LIBS_DIR (first run only)..."
  local t0=$SECONDS
  if ! mvn -B -q -f "$CACHE_DIR/pom.xml" \
      "$DEP_PLUGIN:copy-dependencies" \
      -DoutputDirectory="$tmp" -DincludeScope=runtime </dev/null >&2; then
    rm -rf "$tmp"
    die "maven download of Kafka jars failed"
  fi
  compgen -G "$tmp/kafka_${SCALA_BINARY}-${KAFKA_VERSION}.jar" >/dev/null \
    || { rm -rf "$tmp"; die "kafka_${SCALA_BINARY}-${KAFKA_VERSION}.jar missing after download"; }
  touch "$tmp/.complete"
  rm -rf "$LIBS_DIR"
  mv "$tmp" "$LIBS_DIR"
  log "downloaded $(ls "$LIBS_DIR"/*.jar | wc -l) jars in $((SECONDS - t0))s"
}

write_config() {
  mkdir -p "$CONF_DIR" "$LOG_DIRS" "$APP_LOG_DIR"
  cat >"$CONF_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${CONTROLLER_PORT}
listeners=PLAINTEXT://${HOST}:${PORT},CONTROLLER://${HOST}:${CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://${HOST}:${PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${LOG_DIRS}
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=3
auto.create.topics.enable=true
EOF
  cat >"$CONF_DIR/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${APP_LOG_DIR}/server.log
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
EOF
  # Tools (StorageTool) log to stderr at WARN only.
  cat >"$CONF_DIR/tools-log4j.properties" <<EOF
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

run_tool() {
  "$JAVA" -Xmx256m -Dlog4j.configuration="file:$CONF_DIR/tools-log4j.properties" \
    -cp "$LIBS_DIR/*" "$@" </dev/null
}

ensure_formatted() {
  if [[ -f "$LOG_DIRS/meta.properties" ]]; then
    return 0
  fi
  local cluster_id
  cluster_id="$(run_tool kafka.tools.StorageTool random-uuid | tail -n 1 | tr -d '[:space:]')"
  [[ -n "$cluster_id" ]] || die "StorageTool random-uuid returned nothing"
  log "formatting $LOG_DIRS (cluster id $cluster_id)"
  run_tool kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$CONF_DIR/server.properties" --ignore-formatted >&2 \
    || die "StorageTool format failed"
}

do_start() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$PORT"; then
      log "already running (pid $pid) on $HOST:$PORT"
      return 0
    fi
    log "process $pid is running but $HOST:$PORT not up yet; waiting"
  else
    if port_open "$PORT"; then
      log "something is already listening on $HOST:$PORT; assuming it is Kafka (no-op)"
      return 0
    fi
    if port_open "$CONTROLLER_PORT"; then
      die "port $CONTROLLER_PORT (controller) is already in use by another process"
    fi
    command -v "$JAVA" >/dev/null 2>&1 || die "java not found (set JAVA_HOME or put java on PATH)"
    ensure_libs
    write_config
    ensure_formatted

    log "starting Kafka ${KAFKA_VERSION} (data: $DATA_DIR)"
    # setsid + nohup: detach from the CI step's process group / terminal; no stdin.
    # 9>&- : the JVM must NOT inherit the flock fd, or it would hold the lock forever.
    # shellcheck disable=SC2086
    setsid nohup "$JAVA" $HEAP_OPTS \
      -server -XX:+UseG1GC -Djava.awt.headless=true \
      -Dkafka.logs.dir="$APP_LOG_DIR" \
      -Dlog4j.configuration="file:$CONF_DIR/log4j.properties" \
      -cp "$LIBS_DIR/*" kafka.Kafka "$CONF_DIR/server.properties" \
      </dev/null >>"$OUT_FILE" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$PID_FILE"
  fi

  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if port_open "$PORT"; then
      log "Kafka is up on $HOST:$PORT (pid $pid)"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      show_log_tail
      die "Kafka process $pid exited during startup"
    fi
    sleep 0.5
  done
  show_log_tail
  die "Kafka did not accept connections on $HOST:$PORT within ${START_TIMEOUT}s (pid $pid still running; use '$0 stop')"
}

do_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    if port_open "$PORT"; then
      log "WARNING: $HOST:$PORT is open but not owned by this script's pid file; not touching it"
    else
      log "not running"
    fi
    return 0
  fi
  log "stopping Kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "still running after ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.5
  done
  rm -f "$PID_FILE"
  # Make sure the ports are released before returning so an immediate `start` works.
  local i
  for i in $(seq 1 40); do
    port_open "$PORT" || port_open "$CONTROLLER_PORT" || break
    sleep 0.25
  done
  log "stopped"
}

do_reset() {
  do_stop
  log "deleting $DATA_DIR"
  rm -rf "$DATA_DIR"
}

do_restart() {
  do_stop
  do_start
}

do_status() {
  if port_open "$PORT"; then
    local pid
    pid="$(running_pid || true)"
    log "up on $HOST:$PORT${pid:+ (pid $pid)}"
    return 0
  fi
  log "down"
  return 1
}

case "${1:-}" in
  start) with_lock do_start ;;
  stop) with_lock do_stop ;;
  restart) with_lock do_restart ;;
  reset) with_lock do_reset ;;
  status) do_status ;;
  *)
    echo "usage: $0 start|stop|restart|reset|status" >&2
    exit 2
    ;;
esac
