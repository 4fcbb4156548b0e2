# RabbitMQ for the tests: a private node on 127.0.0.1, sourced by scripts/brokers.sh.
#
# AMQP listens on ${MESSAGING_RABBITMQ_PORT:-55672} (tests read MESSAGING_RABBITMQ_URI, default
# amqp://guest:guest@127.0.0.1:55672/). The node runs from the tools under /usr/lib/rabbitmq/bin with HOME
# set to its state folder: the /usr/sbin wrappers switch to the rabbitmq user, whose Erlang cookie differs.
# A private epmd on 127.0.0.1 is started first and exported through ERL_EPMD_ADDRESS / ERL_EPMD_PORT, since
# any rabbitmq command would otherwise start the system's epmd listening on every interface. Distribution is
# bound to 127.0.0.1 as well. Everything (data, logs, PID files, cookie) lives under
# $MESSAGING_BROKERS_DIR/rabbitmq, and both processes are stopped through their PID files.

rabbitmq_port() { echo "${MESSAGING_RABBITMQ_PORT:-55672}"; }
rabbitmq_dir() { echo "$MESSAGING_BROKERS_DIR/rabbitmq-$(rabbitmq_port)"; }

# The start, stop and status functions run in subshells, so the exports below do not leak into the
# dispatcher (which goes on to other servers).

# Ports derived from the AMQP port, so a second instance (another AMQP port) gets its own.
rabbitmq_env() {
  local port dir
  port="$(rabbitmq_port)"
  dir="$(rabbitmq_dir)"
  export HOME="$dir"
  export PATH="/usr/lib/rabbitmq/bin:$PATH"
  export ERL_EPMD_ADDRESS=127.0.0.1
  export ERL_EPMD_PORT=$((port + 1000))
  export RABBITMQ_NODENAME="messaging$port@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$port"
  export RABBITMQ_DIST_PORT=$((port + 2000))
  export RABBITMQ_MNESIA_BASE="$dir/mnesia"
  export RABBITMQ_LOG_BASE="$dir/log"
  export RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
  export RABBITMQ_CONFIG_FILE="$dir/rabbitmq"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

rabbitmq_epmd_start() {
  local dir pid_file
  dir="$(rabbitmq_dir)"
  pid_file="$dir/epmd.pid"
  pid_alive "$pid_file" && return 0
  epmd -address 127.0.0.1 -port "$ERL_EPMD_PORT" >"$dir/log/epmd.log" 2>&1 &
  echo $! >"$pid_file"
  wait_for_port "$ERL_EPMD_PORT" 10
}

rabbitmq_start() (
  ensure_packages rabbitmq-server
  rabbitmq_env
  local dir
  dir="$(rabbitmq_dir)"
  mkdir -p "$dir/log" "$dir/mnesia"
  if pid_alive "$RABBITMQ_PID_FILE"; then
    echo "rabbitmq already running on 127.0.0.1:$RABBITMQ_NODE_PORT"
    return 0
  fi
  # Every file the node reads is ours: no plugins, guest allowed from 127.0.0.1 only (the default).
  echo "[]." >"$RABBITMQ_ENABLED_PLUGINS_FILE"
  cat >"$RABBITMQ_CONFIG_FILE.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$RABBITMQ_NODE_PORT
loopback_users.guest = true
EOF
  echo "[]." >"$RABBITMQ_ADVANCED_CONFIG_FILE"
  # The derived ports must be free (another instance's epmd sits at its AMQP port + 1000): fail with the
  # port's name rather than with the node's "nodistribution".
  local name taken
  for name in RABBITMQ_NODE_PORT RABBITMQ_DIST_PORT; do
    taken="${!name}"
    if port_taken "$taken"; then
      echo "rabbitmq cannot start: 127.0.0.1:$taken ($name) is already in use; choose another MESSAGING_RABBITMQ_PORT" >&2
      return 1
    fi
  done
  if ! pid_alive "$dir/epmd.pid" && port_taken "$ERL_EPMD_PORT"; then
    echo "rabbitmq cannot start: 127.0.0.1:$ERL_EPMD_PORT (ERL_EPMD_PORT) is already in use; choose another MESSAGING_RABBITMQ_PORT" >&2
    return 1
  fi
  rabbitmq_epmd_start
  rabbitmq-server -detached
  if ! timeout 60 rabbitmqctl wait "$RABBITMQ_PID_FILE" >/dev/null 2>&1; then
    echo "rabbitmq did not start; see $RABBITMQ_LOG_BASE" >&2
    return 1
  fi
  wait_for_port "$RABBITMQ_NODE_PORT" 30
  echo "rabbitmq running on 127.0.0.1:$RABBITMQ_NODE_PORT"
)

rabbitmq_stop() (
  [ -x /usr/lib/rabbitmq/bin/rabbitmqctl ] || return 0
  rabbitmq_env
  local dir pid
  dir="$(rabbitmq_dir)"
  if pid_alive "$RABBITMQ_PID_FILE"; then
    pid="$(head -n1 "$RABBITMQ_PID_FILE")"
    timeout 60 rabbitmqctl stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    echo "rabbitmq stopped"
  fi
  rm -f "$RABBITMQ_PID_FILE"
  if pid_alive "$dir/epmd.pid"; then
    kill "$(head -n1 "$dir/epmd.pid")" 2>/dev/null || true
  fi
  rm -f "$dir/epmd.pid"
  return 0
)

rabbitmq_status() (
  rabbitmq_env
  if pid_alive "$RABBITMQ_PID_FILE"; then
    echo "rabbitmq running on 127.0.0.1:$RABBITMQ_NODE_PORT (pid $(head -n1 "$RABBITMQ_PID_FILE"))"
  else
    echo "rabbitmq stopped"
    return 1
  fi
)
