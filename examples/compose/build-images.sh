#!/usr/bin/env bash
# Builds the images of the local test (docker-compose.devidp.yml) from this checkout's static binaries (no base
# image: FROM scratch), with docker or ENGINE=podman:
#
#   descopeoidc-devidp:dev     the Descope-like dev provider (integration/cmd/devidp)
#
# With --offline, also stand-ins for the two public images docker-compose.yml names, for machines that cannot pull
# (the project's CI): traefik:v3.6 from bin/traefik (`make traefik`: Traefik v3.6.12, static) and
# ealen/echo-server:latest from integration/cmd/echo (it answers JSON describing the request, on port 80).
set -euo pipefail
cd "$(dirname "$0")/../.."
engine=${ENGINE:-docker}
offline=false
[ "${1:-}" = "--offline" ] && offline=true
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

# image TAG BINARY ARGS...: an image holding only BINARY (as /usr/local/bin/<its name>), its entry point with ARGS.
image() {
	local tag=$1 bin=$2 name dir
	shift 2
	name=$(basename "$bin")
	dir=$ctx/$(echo "$tag" | tr '/:' '__')
	mkdir -p "$dir"
	cp "$bin" "$dir/$name"
	{
		echo "FROM scratch"
		echo "COPY $name /usr/local/bin/$name"
		printf 'ENTRYPOINT ['; printf '"%s", ' "/usr/local/bin/$name" "$@" | sed 's/, $//'; echo ']'
	} >"$dir/Containerfile"
	"$engine" build -q -f "$dir/Containerfile" -t "$tag" "$dir" >/dev/null
	echo ">> built $tag"
}

(cd integration && CGO_ENABLED=0 go build -trimpath -o "$ctx/devidp" ./cmd/devidp)
image descopeoidc-devidp:dev "$ctx/devidp"
if $offline; then
	test -x bin/traefik || { echo "bin/traefik missing: run make traefik" >&2; exit 1; }
	image traefik:v3.6 bin/traefik
	(cd integration && CGO_ENABLED=0 go build -trimpath -o "$ctx/echo" ./cmd/echo)
	image ealen/echo-server:latest "$ctx/echo" -addr :80
fi
