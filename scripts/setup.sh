#!/usr/bin/env bash
# Sets up everything warden needs on Debian (run as root), idempotently:
#   - Debian packages: bubblewrap, socat, a C toolchain (better-sqlite3 and warden-init are built
#     from source), curl and friends used by the demo and the tests
#   - the unprivileged sandbox user (sandboxes never run as root)
#   - npm dependencies (npm ci) and the build
#   - /usr/local/bin/warden pointing at this checkout
#
# Options:
#   --delegate-user USER   also delegate a cgroup v1 subtree to USER, so that USER's own
#                          `warden run` gets memory/pids/cpu limits (redo after a reboot). On a
#                          cgroup v2 host there is nothing to make: it says how USER gets limits
#                          from systemd instead (see docs/config.md, "Resource limits")
#   --test-user            create the ordinary test users: warden-tester with delegated cgroups
#                          (the test suite runs the escape battery as that user too) and
#                          warden-nocg without (the suite's no-cgroup, rlimit-only user)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SANDBOX_USER=warden-sandbox
TEST_USER=warden-tester
NOCG_USER=warden-nocg
delegate_users=()
while [ $# -gt 0 ]; do
  case "$1" in
    --delegate-user) delegate_users+=("$2"); shift 2 ;;
    --test-user) delegate_users+=("$TEST_USER"); create_test_user=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "setup: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (it installs packages and creates the sandbox user)" >&2
  exit 2
fi

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------------
# git: the escape battery checks that the host's git never runs code the agent planted (SBX-06).
packages=(bubblewrap socat curl ca-certificates openssl build-essential python3 dnsutils iproute2 procps util-linux passwd git)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- Node ------------------------------------------------------------------------------------
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=18)?0:1)' 2>/dev/null; then
  echo "setup: Node.js >= 20.18 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# --- the sandbox user ------------------------------------------------------------------------
if ! id "$SANDBOX_USER" >/dev/null 2>&1; then
  say "creating the sandbox user $SANDBOX_USER"
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$SANDBOX_USER"
fi

if [ "${create_test_user:-0}" = 1 ]; then
  for user in "$TEST_USER" "$NOCG_USER"; do
    if ! id "$user" >/dev/null 2>&1; then
      say "creating the ordinary test user $user"
      useradd --create-home --shell /bin/bash "$user"
    fi
  done
fi

# --- cgroup delegation for ordinary users (cgroup v1) ----------------------------------------
# On cgroup v2 a subtree made here would not help: the kernel lets a user move processes only
# below a cgroup that user owns, and a login session's cgroup belongs to root. systemd gives
# users their own: `systemd-run --user --scope -p Delegate=yes -- warden ...`.
for user in "${delegate_users[@]}"; do
  uid=$(id -u "$user")
  if ! awk '$3 == "cgroup" { found = 1 } END { exit !found }' /proc/mounts; then
    echo "setup: this host has no cgroup v1 hierarchies (cgroup v2 only): nothing to delegate here." >&2
    echo "setup: $user gets cgroup limits by starting warden under systemd:" >&2
    echo "         systemd-run --user --scope -p Delegate=yes --quiet -- warden run ..." >&2
    echo "       (systemd < 252 delegates no cpu controller to users: add a drop-in with Delegate=pids memory cpu" >&2
    echo "        to user@.service); without it $user's runs use rlimits and say which limits hold." >&2
    continue
  fi
  for controller in memory pids cpu; do
    mount=$(awk -v c="$controller" '$3 == "cgroup" && $4 ~ "(^|,)" c "(,|$)" { print $2; exit }' /proc/mounts)
    if [ -z "$mount" ]; then
      echo "setup: cgroup v1 controller $controller is not mounted; $user's runs go without that limit (best-effort) or are refused (sandbox.limits: required)" >&2
      continue
    fi
    dir="$mount/warden/user-$uid"
    mkdir -p "$dir"
    chown "$uid" "$dir" "$dir/cgroup.procs" "$dir/tasks"
  done
  say "delegated cgroups to $user (uid $uid)"
done

# --- npm dependencies and the build ----------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund
fi
say "building"
npm run --silent build

ln -sf "$ROOT/bin/warden.cjs" /usr/local/bin/warden
say "ready: $(warden --version) at /usr/local/bin/warden; check the host with: warden doctor"
