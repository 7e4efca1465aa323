#!/usr/bin/env bash
# A private Docker daemon for `make images` and the container tests, when no daemon is reachable.
#   images/dockerd.sh start   prints the DOCKER_HOST to use (the running daemon's, or a new private one),
#                             and a second line "started" when it started one
#   images/dockerd.sh stop    stops the private daemon, if one runs
#   images/dockerd.sh purge   stops it and deletes its state (its images and build cache: gigabytes)
#   images/dockerd.sh run CMD...   CMD with DOCKER_HOST set; a private daemon it had to start stops after
# Its state (DOCKER_STATE_DIR: data root, socket, log; default ~/.cache/twitter-sentiment/docker-<checkout>,
# outside the checkout so that no tool walks gigabytes of image layers) outlives it, so images and the
# build cache persist between runs; checkouts that name the same DOCKER_STATE_DIR share them.
# The flags are the ones this kind of machine allows: no iptables, no default bridge (builds and
# containers use the host's network). Needs root, as dockerd does.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout="$(printf %s "$PWD" | sha1sum | cut -c1-12)"
state="$(realpath -m "${DOCKER_STATE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/twitter-sentiment/docker-$checkout}")"
socket="$state/docker.sock"
pidfile="$state/dockerd.pid"
# containerd's sockets live under the exec root; a unix socket path must stay under 108 bytes.
exec_root="/tmp/ts-docker-$(printf %s "$state" | sha1sum | cut -c1-12)"

reachable() { docker ${1:+-H "$1"} version --format '{{.Server.Version}}' >/dev/null 2>&1; }

case "${1:-}" in
  start)
    if [[ -z "${TS_PRIVATE_DOCKERD:-}" ]] && reachable ""; then
      echo "${DOCKER_HOST:-unix:///var/run/docker.sock}"; exit 0
    fi
    if reachable "unix://$socket"; then echo "unix://$socket"; exit 0; fi
    command -v dockerd >/dev/null || { echo "no Docker daemon is reachable and dockerd is not installed (apt-get install docker.io)" >&2; exit 1; }
    [[ $(id -u) == 0 ]] || { echo "no Docker daemon is reachable, and starting one needs root" >&2; exit 1; }
    mkdir -p "$state/data" "$exec_root"
    # BuildKit collects its cache after builds down to this size, least recently used first
    # (docs.docker.com/build/cache/garbage-collection: "builder.gc" in the daemon's config); without
    # it every dependency change kept gigabytes more (40 GB after a day's rebuilds). The four images
    # need about 11 GB of it.
    printf '{"builder": {"gc": {"enabled": true, "defaultKeepStorage": "%s"}}}\n' \
      "${DOCKER_BUILD_CACHE_KEEP:-16GB}" >"$state/daemon.json"
    nohup dockerd --config-file "$state/daemon.json" --iptables=false --ip6tables=false --bridge=none --data-root "$state/data" \
      --exec-root "$exec_root" --pidfile "$pidfile" -H "unix://$socket" >"$state/dockerd.log" 2>&1 &
    for _ in $(seq 1 120); do
      if reachable "unix://$socket"; then printf 'unix://%s\nstarted\n' "$socket"; exit 0; fi
      sleep 0.5
    done
    echo "dockerd did not start within 60 s; its log: $state/dockerd.log" >&2
    tail -n 20 "$state/dockerd.log" >&2
    exit 1
    ;;
  stop)
    [[ -f "$pidfile" ]] || exit 0
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      if ! kill -0 "$pid" 2>/dev/null; then  # leave no runtime state: its network namespace is a mount
        umount "$exec_root"/netns/* 2>/dev/null || true
        rm -rf "$exec_root"
        exit 0
      fi
      sleep 0.5
    done
    echo "dockerd $pid did not stop within 30 s" >&2; exit 1
    ;;
  purge)  # stop it and delete its state: images, build cache, log
    "$0" stop
    rm -rf "$state"
    ;;
  run)
    shift
    started="$("$0" start)"
    status=0
    DOCKER_HOST="$(head -n 1 <<<"$started")" "$@" || status=$?
    [[ "$started" != *$'\n'started ]] || "$0" stop
    exit "$status"
    ;;
  *) echo "usage: $0 start|stop|purge|run CMD..." >&2; exit 2 ;;
esac
