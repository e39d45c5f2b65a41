#!/bin/sh
# Warden sandbox init. Runs inside the sandbox (after bwrap set it up, with the seccomp filter in
# force) and becomes the command. It starts one socat forwarder per PORT/SOCKET pair, exposing
# warden's unix sockets (egress proxy, later the MCP gateway) on 127.0.0.1 in the sandbox's own
# network namespace, waits until each listens, tells warden it is ready on fd 5, restores the
# command's stderr from fd 6 (fd 2 until now is warden's capture of setup messages), then execs.
#
# With --stderr-to-stdout the command's stderr is its stdout (warden relays both through one pipe
# when they go to the same place). The shell init cannot open a pty: warden never asks it for one.
#
# Each --rlimit NAME VALUE (data: bytes, nproc: a count) is set, soft and hard, just before the
# exec, inside the sandbox's user namespace (see warden-init.c for why there).
#
# usage: init.sh [--stderr-to-stdout] [--rlimit data|nproc VALUE]... [PORT SOCKET]... -- COMMAND [ARGS...]
set -u
stderr_to=6
if [ "${1:-}" = "--stderr-to-stdout" ]; then
  stderr_to=1
  shift
fi
# Descriptors warden's caller left open (without close-on-exec) came through the launcher and
# bwrap: close all but ours, so neither socat nor the command inherits them. A POSIX shell can
# only name descriptors 0-9 in a redirection; warden-init (the normal init) closes every one.
for n in 3 4 7 8 9; do
  [ -e "/proc/$$/fd/$n" ] && eval "exec $n>&-"
done
limits=""
while [ "$#" -ge 3 ] && [ "$1" = "--rlimit" ]; do
  case "$2" in
    # dash's ulimit -d takes KiB; -p is RLIMIT_NPROC (its "process" limit).
    data) limits="$limits -d $(($3 / 1024))" ;;
    nproc) limits="$limits -p $3" ;;
    *) echo "warden: bad --rlimit $2" >&2; exit 125 ;;
  esac
  shift 3
done
hexports=""
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  socat TCP-LISTEN:"$1",bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:"$2" </dev/null >/dev/null 2>&1 5>&- 6>&- &
  hexports="$hexports $(printf '%04X' "$1")"
  shift 2
done
[ "$#" -gt 0 ] && shift

# True when 127.0.0.1:<hex port> is listening (state 0A in /proc/net/tcp). Shell builtins only:
# this loop runs while the agent waits, so it must not fork.
listening() {
  while read -r _ local _ state _; do
    if [ "$state" = 0A ] && [ "$local" = "0100007F:$1" ]; then return 0; fi
  done < /proc/net/tcp
  return 1
}
for hex in $hexports; do
  tries=0
  until listening "$hex"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 20000 ]; then
      echo "warden: the forwarder for port $hex did not start (is socat installed in /usr/bin?)" >&2
      exit 125
    fi
  done
done

if [ "$#" -eq 0 ]; then
  echo "warden: no command given" >&2
  exit 125
fi
if [ -n "$limits" ]; then
  # Pairs "-d N" / "-p N"; each ulimit sets the soft and the hard limit (no -S/-H given).
  set -f
  # shellcheck disable=SC2086
  set -- $limits -- "$@"
  while [ "$1" != "--" ]; do
    if ! ulimit "$1" "$2"; then
      echo "warden: cannot set the resource limit ulimit $1 $2" >&2
      exit 125
    fi
    shift 2
  done
  shift
  set +f
fi
printf R >&5
if [ "$stderr_to" = 1 ]; then
  exec 5>&- 2>&1 6>&-
else
  exec 5>&- 2>&6 6>&-
fi
case "$1" in
  */*) ;;
  *)
    if ! command -v "$1" >/dev/null 2>&1; then
      echo "warden: $1: command not found in the sandbox (PATH=$PATH); bind its directory with filesystem.read_only or give its full path" >&2
      exit 127
    fi
    ;;
esac
exec "$@"
