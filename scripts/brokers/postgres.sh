# PostgreSQL for the tests, sourced by scripts/brokers.sh (which defines ensure_packages and pid_alive).
#
# The server runs as the `postgres` user (it refuses root) from the newest /usr/lib/postgresql/<version>,
# listens on 127.0.0.1 only, and keeps its data, socket and log under one folder. A second, private
# instance (for a test that restarts its server) is the same script with other values:
#
#   MESSAGING_POSTGRES_PORT   TCP port                       (default 55432)
#   MESSAGING_POSTGRES_DIR    data, socket and log folder    (default $MESSAGING_BROKERS_DIR/postgres-<port>)
#
# It creates the role and database the tests use; their connection string is
#   Host=127.0.0.1;Port=55432;Username=messaging;Password=messaging;Database=messaging
# (the tests read MESSAGING_POSTGRES_CONNECTION and default to that).

postgres_port() { echo "${MESSAGING_POSTGRES_PORT:-55432}"; }
postgres_dir() { echo "${MESSAGING_POSTGRES_DIR:-$MESSAGING_BROKERS_DIR/postgres-$(postgres_port)}"; }
postgres_pidfile() { echo "$(postgres_dir)/data/postmaster.pid"; }

postgres_bin() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  [ -n "$bin" ] && [ -x "$bin/pg_ctl" ] || return 1
  echo "$bin"
}

postgres_as() { runuser -u postgres -- "$@"; }

postgres_start() {
  local port dir bin
  port="$(postgres_port)"
  dir="$(postgres_dir)"
  postgres_bin >/dev/null || ensure_packages postgresql
  bin="$(postgres_bin)" || { echo "postgres: no server under /usr/lib/postgresql/*/bin" >&2; return 1; }

  # The folder chain must be traversable by the postgres user; the data folder is its own, mode 0700.
  mkdir -p "$dir/socket"
  chmod 0755 "$dir"
  chown postgres:postgres "$dir/socket"
  if [ ! -s "$dir/data/PG_VERSION" ]; then
    rm -rf "$dir/data"
    install -d -o postgres -g postgres -m 0700 "$dir/data"
    postgres_as "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; return 1; }
    # Durability as users run it (fsync and synchronous_commit stay on); only the bind is changed.
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/socket'
max_connections = 300
EOF
  fi

  if pid_alive "$(postgres_pidfile)"; then
    echo "postgres: already running on 127.0.0.1:$port"
  else
    touch "$dir/postgres.log" && chown postgres:postgres "$dir/postgres.log"
    postgres_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null \
      || { tail -n 20 "$dir/postgres.log" >&2; return 1; }
    echo "postgres: started on 127.0.0.1:$port"
  fi

  # The tests' roles and database (idempotent), over the server's own socket. messaging_peer owns nothing: the
  # tests use it as a second service's role.
  postgres_as "$bin/psql" -h "$dir/socket" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q >/dev/null <<'SQL'
SELECT 'CREATE ROLE messaging LOGIN PASSWORD ''messaging'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'messaging') \gexec
SELECT 'CREATE ROLE messaging_peer LOGIN PASSWORD ''messaging_peer'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'messaging_peer') \gexec
SELECT 'CREATE DATABASE messaging OWNER messaging'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'messaging') \gexec
SQL
}

postgres_stop() {
  local dir bin
  dir="$(postgres_dir)"
  if ! pid_alive "$(postgres_pidfile)"; then
    echo "postgres: not running ($(postgres_port))"
    return 0
  fi
  bin="$(postgres_bin)" || return 1
  postgres_as "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
  echo "postgres: stopped ($(postgres_port))"
}

postgres_status() {
  if pid_alive "$(postgres_pidfile)"; then
    echo "postgres: running on 127.0.0.1:$(postgres_port) (pid $(head -n1 "$(postgres_pidfile)"))"
  else
    echo "postgres: stopped ($(postgres_port))"
    return 1
  fi
}
