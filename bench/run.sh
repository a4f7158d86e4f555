#!/usr/bin/env bash
# `make bench`: the load benchmark through the real Traefik (bin/traefik), driven by integration/cmd/bench with wrk.
# Settings come from the environment (defaults in brackets):
#   BENCH_ROUNDS [5]  BENCH_DURATION [6s]  BENCH_THREADS [2]  BENCH_CONNS [32]  BENCH_RELOADS [100]
#   BENCH_SOAK [5m]   (BENCH_SOAK=60s for a quick run, 0 to skip)
#   BENCH_ROWS        comma-separated subset of rows (plain is always run)
#   BENCH_PEER [auto] oauth2-proxy peer row: auto (if installed), off, install (go install v7.15.6 first), or a path
#   BENCH_OUT [bench/RESULTS.md]  report file; - for none
#   BENCH_PROFILE     comma-separated rows: also save Traefik CPU profiles under load to bench/profile-<row>.prof
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
	echo ">> wrk is missing: installing it with apt-get (as .ci/deps.sh does)"
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q >/dev/null
	$SUDO apt-get install -y -q --no-install-recommends wrk >/dev/null
fi

if [ "${BENCH_PEER:-auto}" = "install" ]; then
	echo ">> installing oauth2-proxy v7.15.6 for the peer row (go install; a few minutes the first time)"
	go install github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.6
	export BENCH_PEER=auto
fi

cmd="make bench"
for v in BENCH_ROUNDS BENCH_DURATION BENCH_THREADS BENCH_CONNS BENCH_RELOADS BENCH_SOAK BENCH_ROWS BENCH_PEER BENCH_PROFILE; do
	if [ -n "${!v:-}" ]; then cmd="$v=${!v} $cmd"; fi
done
export BENCH_COMMAND="$cmd"

echo ">> $cmd: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
cd integration
exec go run ./cmd/bench "$@"
