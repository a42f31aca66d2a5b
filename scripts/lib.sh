# Helpers shared by the demo and the benchmarks; source it, don't run it.
#   start_session NAME   makes $work (a temp dir) and arranges that every pid added to `pids`
#                        is killed and $work removed when the script exits.
#   free_port            prints a TCP port free on 127.0.0.1 a moment ago.
#   wait_port PORT       waits (up to 10 s) until something accepts connections on it.

pids=()
work=

start_session() {
  work=$(mktemp -d -t "$1-XXXXXX")
  trap _end_session EXIT
}

_end_session() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n $work ]] && rm -rf "$work"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
  local _
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}
