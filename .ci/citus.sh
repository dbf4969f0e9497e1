#!/usr/bin/env bash
# CI's Citus step (issue 16, docs/citus.md): installs Citus from the shared archive (../shared/citus:
# install.sh, idempotent), starts a cluster of its own (a coordinator and two workers) on free
# ports, runs the cluster tests on it with CITUS_REQUIRED=1 (a skip would be a failure), and stops
# it at the end, on failure and interruption too. Start-up and tests are bounded in time.
#   bash .ci/citus.sh        (CITUS_SHARED=/path/to/shared/citus says where install.sh and cluster.sh are)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# The folder holding install.sh and cluster.sh: given, beside this checkout, beside the repository
# this one was cloned from (CI runs in a fresh clone elsewhere), or this machine's /work/shared.
find_shared () {
  local candidates=() origin common d
  if [ -n "${CITUS_SHARED:-}" ]; then candidates+=("$CITUS_SHARED"); fi
  candidates+=("$root/../shared/citus")
  origin=$(git config --get remote.origin.url 2>/dev/null || true)
  origin=${origin#file://}
  if [ -n "$origin" ] && [ -d "$origin" ]; then
    candidates+=("$origin/../shared/citus")
    common=$(git -C "$origin" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
    if [ -n "$common" ]; then candidates+=("$(dirname "$common")/../shared/citus"); fi
  fi
  candidates+=(/work/shared/citus)
  for d in "${candidates[@]}"; do
    if [ -f "$d/install.sh" ] && [ -f "$d/cluster.sh" ]; then (cd "$d" && pwd); return 0; fi
  done
  echo "citus: install.sh and cluster.sh not found; looked in: ${candidates[*]}. Set CITUS_SHARED to the folder that holds them." >&2
  return 1
}
shared=$(find_shared)
echo "# citus: from $shared"

libdir=$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)
if [ ! -f "$libdir/citus.so" ] && [ "$(id -u)" != 0 ]; then
  echo "citus: not installed in $libdir, and installing it needs root (apt-get, make install): run bash $shared/install.sh as root" >&2
  exit 1
fi
timeout 900 bash "$shared/install.sh"

# Three free ports in a row on the loopback (coordinator, worker, worker).
port_free () { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=
for _ in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 20000))
  if port_free "$candidate" && port_free $((candidate + 1)) && port_free $((candidate + 2)); then base=$candidate; break; fi
done
if [ -z "$base" ]; then echo "citus: found no three free ports in a row" >&2; exit 1; fi

dir=$(mktemp -d /tmp/fpc-citus-ci.XXXXXX)
stop () {
  bash "$shared/cluster.sh" stop "$base" "$dir" || true
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

started=$SECONDS
if ! url=$(timeout 300 bash "$shared/cluster.sh" start "$base" "$dir" | tail -n 1) || [ -z "$url" ]; then
  echo "citus: the cluster did not start within 5 minutes; its logs:" >&2
  tail -n 20 "$dir"/*.log >&2 || true
  exit 1
fi
echo "# citus: coordinator $url, workers on $((base + 1)) and $((base + 2)), started in $((SECONDS - started)) s"

CITUS_URL=$url CITUS_REQUIRED=1 npx tap --disable-coverage --allow-incomplete-coverage --timeout=300 test/citus/cluster.test.ts
