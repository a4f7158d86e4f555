#!/usr/bin/env bash
# make release-check: the plugin's version is written in several places that must agree (semantic versioning,
# vMAJOR.MINOR.PATCH):
#   - version.go                      const version = "vX.Y.Z"   (logged at start-up)
#   - CHANGELOG.md                    the top "## [X.Y.Z] - YYYY-MM-DD" entry ([Unreleased] above it is allowed),
#                                     with its "[X.Y.Z]: .../releases/tag/vX.Y.Z" link
#   - examples that install the published plugin: every `version:` under experimental.plugins.descopeoidc
#     (examples/static/traefik.yml, examples/kubernetes/traefik-values.yaml), and the version quoted in
#     examples/static/README.md
#   - a git tag on HEAD, when there is one that looks like a version (the release being cut)
# Usage: .ci/release-check.sh [repository root]; exits 1 and names each disagreement.
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root"
fail=0
problem() { echo "release-check: $*" >&2; fail=1; }
semver='v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)'

const=$(sed -nE 's/^const version = "([^"]*)".*/\1/p' version.go)
if [[ -z "$const" ]]; then
	echo "release-check: version.go has no line 'const version = \"vX.Y.Z\"'" >&2
	exit 1
fi
[[ "$const" =~ ^${semver}$ ]] || problem "version.go: $const is not vMAJOR.MINOR.PATCH"

top=$(grep -E '^## \[' CHANGELOG.md | grep -v '^## \[Unreleased\]' | head -n1 || true)
changelog=$(sed -nE 's/^## \[([^]]+)\] - [0-9]{4}-[0-9]{2}-[0-9]{2}$/v\1/p' <<<"$top")
if [[ -z "$changelog" ]]; then
	problem "CHANGELOG.md: no version entry '## [X.Y.Z] - YYYY-MM-DD' (got: ${top:-nothing})"
elif [[ "$changelog" != "$const" ]]; then
	problem "CHANGELOG.md's top entry is $changelog, version.go says $const"
fi
grep -qE "^\[${const#v}\]: .*/releases/tag/${const}\$" CHANGELOG.md ||
	problem "CHANGELOG.md: no link line '[${const#v}]: https://github.com/traefik-descope/descopeoidc/releases/tag/$const'"

quoted=$(tr '\n' ' ' <examples/static/README.md | grep -cE 'published plugin +\(`v' || true)
[[ $quoted -gt 0 ]] || problem "examples/static/README.md no longer quotes the version as 'published plugin (\`vX.Y.Z\`)'"

# Every version pinned next to this plugin's module name in the examples' YAML (the line after moduleName).
pins=0
while IFS= read -r file; do
	while IFS= read -r v; do
		pins=$((pins + 1))
		[[ "$v" == "$const" ]] || problem "$file pins version $v, version.go says $const"
	done < <(awk '/moduleName: *github.com\/traefik-descope\/descopeoidc/ { want = 1; next }
		want && /version:/ { sub(/.*version: */, ""); gsub(/["'"'"' ]/, ""); print; want = 0; next }
		want && /^[[:space:]]*[a-zA-Z]+:/ { next }' "$file")
done < <(find examples -name '*.yml' -o -name '*.yaml' | sort)
[[ $pins -gt 0 ]] || problem "no example pins a version of github.com/traefik-descope/descopeoidc (examples/static/traefik.yml should)"
while IFS= read -r v; do
	[[ "$v" == "$const" ]] || problem "examples/static/README.md quotes version $v, version.go says $const"
done < <(tr '\n' ' ' <examples/static/README.md | grep -oE 'published plugin +\(`v[^`]*`\)' | grep -oE 'v[0-9][^`]*' || true)

if tag=$(git describe --exact-match --tags HEAD 2>/dev/null) && [[ "$tag" =~ ^v[0-9] ]]; then
	[[ "$tag" == "$const" ]] || problem "HEAD is tagged $tag, version.go says $const"
fi

if [[ $fail -ne 0 ]]; then
	echo "release-check: FAILED (see Releases in README.md: bump version.go, CHANGELOG.md and the examples together)" >&2
	exit 1
fi
echo "release-check: $const in version.go, CHANGELOG.md and $pins example pin(s)"
