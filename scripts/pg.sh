#!/usr/bin/env bash
# The embedded, private PostgreSQL cluster used by `make run` and `make test` when no
# DATABASE_URL / TEST_DATABASE_URL is given.
#
#   scripts/pg.sh url [DBNAME]   print the app role's connection URL (no side effects)
#   scripts/pg.sh owner-url [DB] print the owner role's URL (migrations, the test suite)
#   scripts/pg.sh start          create the cluster on first use, start it, create roles/databases
#   scripts/pg.sh stop           stop it
#   scripts/pg.sh status
#   scripts/pg.sh redis-url      print the private Redis's URL (rate-limit counters; see below)
#   scripts/pg.sh redis-start    start only the private Redis (start starts it too)
#
# The cluster listens on a Unix socket only (listen_addresses=''), so it never collides with a
# server on port 5432. initdb refuses to run as root, so as root the cluster belongs to the
# unprivileged `postgres` OS user (created by Debian's postgresql package). When that user cannot
# reach the project folder (a clone inside /root, say), the cluster lives in
# /var/lib/gridgov/<hash of the project path> and `.pg` is a symlink to it.
#
# Two roles (docs/operations.md, "Database roles"): gridgov_owner owns the databases, the schema
# and every table and runs the migrations; gridgov, the app's role, owns nothing and gets only
# the privileges the migrations grant it (app/ops/roles.py). PGDATA_BASE=<dir> runs another,
# throw-away cluster in <dir> (its data, socket and log), e.g. to try this script.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd -P)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
link="$here/.pg"
owner=$(id -un)
[[ $(id -u) == 0 ]] && owner=postgres

as_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

base_dir() {
  # Where the cluster lives: .pg in the project when the owner can write there, else outside.
  if [[ -L $link || -d $link ]]; then
    readlink -f "$link"
    return
  fi
  if [[ $(id -u) != 0 ]] || runuser -u postgres -- test -x "$here" 2>/dev/null; then
    echo "$link"
  else
    echo "/var/lib/gridgov/$(printf '%s' "$here" | sha1sum | cut -c1-12)"
  fi
}

base=${PGDATA_BASE:-$(base_dir)}
data="$base/data"
sock="$base/run"
# A Unix socket path must stay under ~107 bytes.
if ((${#sock} > 80)); then sock="/tmp/gridgov-$(printf '%s' "$base" | sha1sum | cut -c1-12)"; fi
log="$base/postgresql.log"
# A private Redis beside the cluster, started and stopped with it: the rate limiter's counters,
# shared by every gunicorn worker (memory:// would count per worker). Unix socket only, no
# persistence (counters may be lost without harm), owned by whoever runs make.
rdir="$here/var/redis"
[[ -z ${PGDATA_BASE:-} ]] || rdir="$base/redis"
rsock="$rdir/redis.sock"
if ((${#rsock} > 80)); then rsock="/tmp/gridgov-$(printf '%s' "$here" | sha1sum | cut -c1-12)-redis.sock"; fi

url() {
  local db=${1:-gridgov}
  echo "postgresql://gridgov@/$db?host=$sock"
}

owner_url() {
  local db=${1:-gridgov}
  echo "postgresql://gridgov_owner@/$db?host=$sock"
}

psql_su() {
  as_owner "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -U postgres "$@"
}

init() {
  [[ -f $data/PG_VERSION ]] && return 0
  echo "==> creating the embedded PostgreSQL cluster in $base"
  if [[ $base != "$link" ]]; then
    mkdir -p "$base"
    chown "$owner" "$base"
    [[ -n ${PGDATA_BASE:-} ]] || ln -sfn "$base" "$link"
  else
    mkdir -p "$base"
    [[ $(id -u) == 0 ]] && chown postgres "$base"
  fi
  # Collation C (fast, stable sorting); a UTF-8 ctype so that pg_trgm indexes Chinese text.
  as_owner "$PGBIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --lc-collate=C \
    --lc-ctype=C.UTF-8 --lc-messages=C --lc-monetary=C --lc-numeric=C --lc-time=C >/dev/null
  cat >>"$data/postgresql.conf" <<CONF
# GridGov embedded cluster: Unix socket only.
listen_addresses = ''
unix_socket_directories = '$sock'
unix_socket_permissions = 0770
synchronous_commit = off
max_connections = 200
jit = off
CONF
}

start() {
  init
  mkdir -p "$sock"
  [[ $(id -u) == 0 ]] && chown postgres "$sock"
  chmod 0755 "$sock"
  if ! as_owner "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_owner "$PGBIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null
  fi
  # Roles, databases and the PostGIS extension (not a trusted extension: created by the superuser,
  # in template1 too so that scratch databases made by the tests have it).
  psql_su -d postgres <<'SQL'
SELECT 'CREATE ROLE gridgov_owner LOGIN CREATEDB'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridgov_owner') \gexec
SELECT 'CREATE ROLE gridgov LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridgov') \gexec
-- DROP DATABASE ... WITH (FORCE) of a scratch database (the tests, as the owner) must be able to
-- end an autovacuum worker that just connected to it (such a worker has no role: without this
-- the drop fails at random).
GRANT pg_signal_backend TO gridgov_owner;
SELECT 'CREATE DATABASE gridgov OWNER gridgov_owner'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'gridgov') \gexec
SELECT 'CREATE DATABASE gridgov_test OWNER gridgov_owner'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'gridgov_test') \gexec
SQL
  for db in template1 gridgov gridgov_test; do
    psql_su -d "$db" -c 'CREATE EXTENSION IF NOT EXISTS postgis'
  done
  for db in gridgov gridgov_test; do hand_over "$db"; done
  redis_start
}

hand_over() {
  # A database made before the role split belongs to gridgov, tables and all: give it, and
  # every object of ours in it, to gridgov_owner (a no-op once done). The next `flask db
  # upgrade` (as the owner) grants the app role its privileges back.
  psql_su -d "$1" <<'SQL'
DO $$
DECLARE r record;
BEGIN
    IF (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database())
       = 'gridgov' THEN
        EXECUTE format('ALTER DATABASE %I OWNER TO gridgov_owner', current_database());
    END IF;
    -- Tables, views and free-standing sequences (a column's sequence follows its table).
    FOR r IN SELECT c.oid::regclass AS name FROM pg_class c
              WHERE c.relowner = 'gridgov'::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                AND c.relnamespace = 'public'::regnamespace
                AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                   AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO gridgov_owner', r.name);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS sig, p.prokind FROM pg_proc p
              WHERE p.proowner = 'gridgov'::regrole AND p.pronamespace = 'public'::regnamespace
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO gridgov_owner',
                       CASE r.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'
                                      ELSE 'FUNCTION' END, r.sig);
    END LOOP;
    -- Enums, domains and composite types (procrastinate's); a table's row type follows it.
    FOR r IN SELECT t.oid::regtype AS name FROM pg_type t
              WHERE t.typowner = 'gridgov'::regrole AND t.typnamespace = 'public'::regnamespace
                AND t.typtype IN ('e', 'd', 'c') AND t.typelem = 0
                AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
    LOOP
        EXECUTE format('ALTER TYPE %s OWNER TO gridgov_owner', r.name);
    END LOOP;
END $$;
SQL
}

redis_url() {
  echo "redis+unix://$rsock"
}

redis_running() {
  [[ -f $rdir/redis.pid ]] && kill -0 "$(cat "$rdir/redis.pid")" 2>/dev/null
}

redis_start() {
  command -v redis-server >/dev/null || { echo "redis-server is missing (make system-deps)" >&2; return 1; }
  redis_running && return 0
  mkdir -p "$rdir"
  redis-server --port 0 --unixsocket "$rsock" --unixsocketperm 700 --daemonize yes \
    --pidfile "$rdir/redis.pid" --dir "$rdir" --logfile "$rdir/redis.log" \
    --save '' --appendonly no >/dev/null
  for _ in $(seq 50); do [[ -S $rsock ]] && return 0; sleep 0.1; done
  echo "the private Redis did not start (see $rdir/redis.log)" >&2
  return 1
}

redis_stop() {
  if redis_running; then
    kill "$(cat "$rdir/redis.pid")"
    for _ in $(seq 50); do redis_running || break; sleep 0.1; done
    echo "private Redis stopped"
  fi
}

stop() {
  redis_stop
  if [[ -f $data/PG_VERSION ]] && as_owner "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_owner "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    echo "embedded PostgreSQL stopped"
  else
    echo "embedded PostgreSQL is not running"
  fi
}

case ${1:-} in
  url) url "${2:-gridgov}" ;;
  owner-url) owner_url "${2:-gridgov}" ;;
  redis-url) redis_url ;;
  redis-start) redis_start ;;
  start) start ;;
  stop) stop ;;
  status) as_owner "$PGBIN/pg_ctl" -D "$data" status ;;
  *) echo "usage: $0 url [DB] | owner-url [DB] | redis-url | redis-start | start | stop | status" >&2; exit 2 ;;
esac
