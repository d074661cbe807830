#!/usr/bin/env bash
# A pg_auto_failover formation on this machine (`make ha`, `make ha-stop`; docs/operations.md,
# "High availability"): a monitor and two PostgreSQL 15 nodes, a primary and a synchronous
# standby, on loopback ports, in .ha/ beside the embedded cluster (which it never touches).
#
#   scripts/ha.sh create   create what is missing (monitor, node1, node2), start it, and create
#                          the role, the database and PostGIS on the primary
#   scripts/ha.sh start    start the three (create first if needed); wait for primary + secondary
#   scripts/ha.sh stop     stop the three (fast shutdown)
#   scripts/ha.sh status   pg_autoctl show state
#   scripts/ha.sh url [DB] the app's multi-host URL (no side effects); owner-url [DB]: the owner's
#   scripts/ha.sh monitor-url
#   scripts/ha.sh node-dir N   the data directory of node N (1 or 2), for drills
#   scripts/ha.sh kill-node N  stop node N at once (`pg_autoctl stop --immediate`: a crash drill)
#   scripts/ha.sh run-node N   start node N's pg_autoctl in the background (after a drill)
#   scripts/ha.sh wait     wait until one node is primary and the other secondary
#
# PostgreSQL refuses to run as root, so as root everything belongs to the `postgres` OS user (as in
# scripts/pg.sh). pg_autoctl keeps its configuration and state in XDG folders: they are pointed
# into .ha/ too, so that the folder is the whole formation (delete it, stopped, to start afresh).
# Role names are parameters: HA_OWNER owns the tables and runs the migrations, HA_APP_ROLE is the
# role the app connects as, owning nothing (gridgov_owner and gridgov, as in scripts/pg.sh; docs/
# operations.md "Database roles").
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd -P)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
base=${HA_DIR:-$here/.ha}
host=127.0.0.1
monitor_port=${HA_MONITOR_PORT:-55431}
node_ports=("${HA_NODE1_PORT:-55432}" "${HA_NODE2_PORT:-55433}")
dbname=${HA_DB:-gridgov}
owner_role=${HA_OWNER:-gridgov_owner}
app_role=${HA_APP_ROLE:-gridgov}
monitor_url="postgres://autoctl_node@$host:$monitor_port/pg_auto_failover?sslmode=disable"

as_pg() {
  # pg_autoctl and psql as the cluster's owner, with pg_autoctl's XDG folders inside .ha/.
  local envs=(XDG_CONFIG_HOME="$base/xdg/config" XDG_DATA_HOME="$base/xdg/data"
    XDG_RUNTIME_DIR="$base/xdg/run" PATH="$PGBIN:$PATH" PG_CONFIG="$PGBIN/pg_config")
  if [[ $(id -u) == 0 ]]; then
    runuser -u postgres -- env "${envs[@]}" "$@"
  else
    env "${envs[@]}" "$@"
  fi
}

node_dir() { echo "$base/node$1"; }

url() {
  # The app's URL (HA_APP_ROLE); `owner-url` is the same for HA_OWNER (migrations, the demo).
  local db=${1:-$dbname} app_role=${2:-$app_role}
  # libpq's own multi-host form (psql and pg_dump read it too); the app also takes host=a:p,b:p.
  echo "postgresql://$app_role@/$db?host=$host,$host&port=${node_ports[0]},${node_ports[1]}&target_session_attrs=read-write&sslmode=disable"
}

running() {
  # Whether the pg_autoctl service of this data directory is up.
  as_pg pg_autoctl status --pgdata "$1" >/dev/null 2>&1
}

run_service() {
  # Start a node's (or the monitor's) pg_autoctl service in the background; it runs postgres.
  local dir=$1 name
  name=$(basename "$dir")
  running "$dir" && return 0
  as_pg setsid nohup pg_autoctl run --pgdata "$dir" >>"$base/$name.log" 2>&1 </dev/null &
  for _ in $(seq 100); do
    running "$dir" && return 0
    sleep 0.3
  done
  echo "pg_autoctl for $name did not start (see $base/$name.log)" >&2
  return 1
}

allow_loopback() {
  # The app and the checks connect over loopback TCP (trust on a development machine; scram with
  # passwords on real servers, docs/operations.md). pg_autoctl adds its own replication rules.
  local hba=$1/pg_hba.conf
  grep -q '^# gridgov: loopback' "$hba" && return 0
  as_pg sh -c "printf '%s\n' '# gridgov: loopback' 'host all all 127.0.0.1/32 trust' >> '$hba'"
}

tune_monitor() {
  # Notice a dead primary in a few seconds rather than the defaults' ~30 s (this is one machine:
  # no network hiccups to ride out; docs/operations.md says what to use between servers).
  as_pg "$PGBIN/psql" -X -q -At -h "$host" -p "$monitor_port" -U postgres -d pg_auto_failover >/dev/null <<'SQL'
ALTER SYSTEM SET pgautofailover.health_check_period = 1000;
ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000;
ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1;
ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500;
ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 4000;
-- How long the monitor waits for an unreachable primary to demote itself before promoting the
-- standby (30 s by default: the keeper of a primary cut off from the monitor demotes itself
-- after its network_partition_timeout, 20 s). Here a node dies, it is not partitioned.
ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 5000;
SELECT pg_reload_conf();
SQL
}

create_monitor() {
  local dir=$base/monitor
  if [[ ! -f $dir/PG_VERSION ]]; then
    echo "==> creating the pg_auto_failover monitor in $dir (port $monitor_port)"
    as_pg pg_autoctl create monitor --pgdata "$dir" --pgport "$monitor_port" --hostname "$host" \
      --pgctl "$PGBIN/pg_ctl" --auth trust --no-ssl >>"$base/monitor.log" 2>&1
    allow_loopback "$dir"
  fi
  run_service "$dir"
  tune_monitor
}

create_node() {
  local n=$1 dir
  dir=$(node_dir "$n")
  if [[ ! -f $dir/PG_VERSION ]] || ! as_pg test -f "$base/xdg/config/pg_autoctl$dir/pg_autoctl.cfg"; then
    echo "==> creating node$n in $dir (port ${node_ports[n - 1]})"
    as_pg pg_autoctl create postgres --pgdata "$dir" --pgport "${node_ports[n - 1]}" \
      --hostname "$host" --listen "$host" --name "node$n" --dbname "$dbname" \
      --pgctl "$PGBIN/pg_ctl" --monitor "$monitor_url" --auth trust --no-ssl \
      --replication-quorum true --candidate-priority 50 >>"$base/node$n.log" 2>&1
    allow_loopback "$dir"
    as_pg sh -c "printf '%s\n' '# gridgov' 'jit = off' 'max_connections = 200' >> '$dir/postgresql.conf'"
  fi
  run_service "$dir"
}

state() { as_pg pg_autoctl show state --pgdata "$base/monitor" 2>/dev/null; }

wait_ready() {
  # Until one node reports primary and the other secondary (the monitor's view), up to 3 minutes.
  local out
  for _ in $(seq 360); do
    out=$(state || true)
    if grep -Eq '\| +primary +\| +primary' <<<"$out" && grep -Eq '\| +secondary +\| +secondary' <<<"$out"; then
      return 0
    fi
    sleep 0.5
  done
  echo "the formation did not reach primary + secondary:" >&2
  echo "$out" >&2
  return 1
}

primary_port() {
  # The port of the current primary, according to the monitor.
  as_pg "$PGBIN/psql" -X -At -h "$host" -p "$monitor_port" -U postgres -d pg_auto_failover \
    -c "SELECT nodeport FROM pgautofailover.node WHERE reportedstate = 'primary' LIMIT 1"
}

database() {
  # The app's roles, database and PostGIS, on the primary (replication carries them over).
  local port
  port=$(primary_port)
  export PGOPTIONS="-c client_min_messages=warning"
  as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U postgres -d postgres <<SQL
SELECT 'CREATE ROLE "$owner_role" LOGIN CREATEDB'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$owner_role') \gexec
SELECT 'CREATE ROLE "$app_role" LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$app_role') \gexec
GRANT pg_signal_backend TO "$owner_role";
ALTER DATABASE "$dbname" OWNER TO "$owner_role";
SQL
  for db in template1 "$dbname"; do
    as_pg "$PGBIN/psql" -X -q -h "$host" -p "$port" -U postgres -d "$db" \
      -c 'CREATE EXTENSION IF NOT EXISTS postgis'
  done
}

create() {
  mkdir -p "$base/xdg/config" "$base/xdg/data" "$base/xdg/run"
  [[ $(id -u) == 0 ]] && chown -R postgres "$base"
  chmod 0700 "$base/xdg/run"
  create_monitor
  create_node 1
  # The first node must be primary before the second one clones it.
  for _ in $(seq 120); do grep -Eq '\| +single +\| +single|\| +primary +\| +primary' <<<"$(state || true)" && break; sleep 0.5; done
  create_node 2
  wait_ready
  # Each commit waits for the standby: it is in the replication quorum, so the primary runs with
  # synchronous_standby_names = 'ANY 1 (...)' (number_sync_standbys stays 0: the monitor accepts 1
  # only with two quorum standbys, and a third node would make 1 the right setting).
  database
  state
}

stop() {
  local dir
  for dir in "$base/node2" "$base/node1" "$base/monitor"; do
    if [[ -f $dir/PG_VERSION ]] && running "$dir"; then
      as_pg pg_autoctl stop --pgdata "$dir" >/dev/null 2>&1 || true
      for _ in $(seq 100); do running "$dir" || break; sleep 0.3; done
      echo "$(basename "$dir") stopped"
    fi
  done
}

case ${1:-} in
  url) url "${2:-}" ;;
  owner-url) url "${2:-}" "$owner_role" ;;
  monitor-url) echo "$monitor_url" ;;
  node-dir) node_dir "${2:?node number}" ;;
  create | start) create ;;
  run-node) run_service "$(node_dir "${2:?node number}")" ;;
  kill-node) as_pg pg_autoctl stop --immediate --pgdata "$(node_dir "${2:?node number}")" ;;
  wait) wait_ready ;;
  stop) stop ;;
  status) state ;;
  *) echo "usage: $0 create|start|stop|status|wait|url [DB]|owner-url [DB]|monitor-url|node-dir N|kill-node N|run-node N" >&2; exit 2 ;;
esac
