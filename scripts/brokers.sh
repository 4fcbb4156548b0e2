#!/usr/bin/env bash
# Starts, stops and reports the real servers the tests use, bound to 127.0.0.1 on non-default ports.
#
#   scripts/brokers.sh start|stop|status [name ...]
#
# Each server is a file scripts/brokers/NAME.sh defining NAME_start, NAME_stop and NAME_status; with no
# name, every server there. A server's package is installed with apt-get when missing; its state (data,
# logs, PID file) lives under $MESSAGING_BROKERS_DIR (default /tmp/messaging-brokers). A server is
# stopped through its PID file, never by process name, so other servers on the machine are left alone.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export MESSAGING_BROKERS_DIR="${MESSAGING_BROKERS_DIR:-/tmp/messaging-brokers}"
mkdir -p "$MESSAGING_BROKERS_DIR"

usage() { echo "usage: $0 start|stop|status [name ...]  (names: $(available | tr '\n' ' '))" >&2; exit 2; }
available() { for f in "$here"/brokers/*.sh; do [ -e "$f" ] && basename "$f" .sh; done; }

# Installs Debian packages that are missing; `apt-get update` runs once, only when something is missing.
ensure_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Waits up to $2 seconds for a TCP port on 127.0.0.1 to accept connections.
wait_for_port() {
  local port="$1" seconds="${2:-30}"
  for _ in $(seq 1 $((seconds * 10))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing answered on 127.0.0.1:$port within ${seconds}s" >&2
  return 1
}

# True when something already listens on 127.0.0.1:$1.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True when the process named in PID file $1 is alive.
pid_alive() { [ -s "$1" ] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }

[ $# -ge 1 ] || usage
action="$1"; shift
case "$action" in start|stop|status) ;; *) usage ;; esac
names=("$@")
[ ${#names[@]} -gt 0 ] || mapfile -t names < <(available)

status=0
for name in "${names[@]}"; do
  [ -f "$here/brokers/$name.sh" ] || { echo "unknown server '$name'" >&2; usage; }
  # shellcheck source=/dev/null
  source "$here/brokers/$name.sh"
  "${name}_${action}" || status=$?
done
exit "$status"
