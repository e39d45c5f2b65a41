#!/bin/sh
# Warden sandbox launcher. Runs as the user the sandbox will run as (the unprivileged sandbox
# user when warden is root). It joins the run's cgroups *before* anything else starts, so no
# process of the sandbox ever runs outside its limits, checks that this user can use the writable
# paths (so the failure is a clear message instead of EACCES deep inside the agent), then becomes
# bwrap. Errors go to fd 5 (warden's status pipe) as "E <text>" lines.
#
# usage: launcher.sh NGROUPS TASKS_FILE... NWRITABLE WRITABLE_DIR... -- BWRAP [ARGS...]
# It enrols by writing 0 ("this thread") to each group's tasks file: this shell is single-threaded,
# and moving the writer's own thread avoids the kernel's global lock (and its RCU wait) that
# moving a process by pid through cgroup.procs takes (see src/sandbox/cgroups.ts).
set -u
n=$1; shift
while [ "$n" -gt 0 ]; do
  if ! echo 0 > "$1" 2>/dev/null; then
    echo "E cannot join cgroup $1" >&5
    exit 125
  fi
  shift; n=$((n - 1))
done
n=$1; shift
while [ "$n" -gt 0 ]; do
  if ! { [ -d "$1" ] && [ -w "$1" ] && [ -x "$1" ]; }; then
    echo "E not-writable $1" >&5
    exit 125
  fi
  shift; n=$((n - 1))
done
[ "$1" = "--" ] && shift
exec "$@"
