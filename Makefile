# descopeoidc: `make demo` runs Traefik + the plugin + an echo service + a local OpenID provider on loopback;
# `make test` runs every test (unit, Yaegi integration, adversarial, fuzz smoke, end to end, browser).
SHELL := /bin/bash
GO    ?= go
export GOFLAGS := -buildvcs=false

# TRAEFIK=/path/to/traefik (environment or command line) is the user's choice of Traefik for the demo; the rules
# below build bin/traefik under the same name, so keep the user's value apart first.
DEMO_TRAEFIK := $(if $(filter environment command line,$(origin TRAEFIK)),$(TRAEFIK))
override TRAEFIK := bin/traefik
# The provider matrix's providers that nobody here wrote (integration/providers): dex, built from its own wrapper
# module, and panva's oidc-provider from npm.
DEX := bin/dex
OIDCPROVIDER := integration/providers/oidcprovider
NODE_MODULES := $(OIDCPROVIDER)/node_modules/.package-lock.json
FUZZTIME ?= 15s
# Go test flags for the integration module (the race detector is on everywhere).
ITEST_FLAGS ?= -race -count=1 -timeout 40m

.PHONY: help demo test check release-check unit integration e2e fuzz bench deps traefik providers node_modules kube clean matrix descope-check

# `make help` prints the "##" comment of every target (a target's rule line ends with "## what it does"); `make
# check` fails when a .PHONY target has none.
help: ## this list
	@awk -F':.*## ' '/^[a-z0-9_-]+:.*## / { printf "make %-14s %s\n", $$1, $$2 }' $(firstword $(MAKEFILE_LIST))

# Traefik v3.6.12 is built from the Go module proxy by the integration module (it pins its replace/exclude lines),
# statically (CGO_ENABLED=0): the same binary runs on the host and in the FROM-scratch images of examples/compose.
traefik: $(TRAEFIK) ## build Traefik v3.6.12 into bin/traefik (several minutes the first time)
$(TRAEFIK): integration/go.mod integration/go.sum
	@echo ">> building Traefik v3.6.12 into $(TRAEFIK) (the first build compiles ~1,500 packages: several minutes; cached afterwards)"
	@cd integration && CGO_ENABLED=0 $(GO) build -v -o ../$(TRAEFIK) github.com/traefik/traefik/v3/cmd/traefik 2>&1 | \
		awk '{ n++; if (n % 50 == 0) printf "   ... %d packages compiled\n", n } END { printf "   ... done (%d packages)\n", n }'
	@test -x $(TRAEFIK)

# dex from .ci/tools/dex (its own module: dex's dependencies stay out of integration/go.mod), statically: with
# memory storage it needs no cgo (sqlite would). Rebuilt only when the wrapper's go.mod/go.sum change.
$(DEX): .ci/tools/dex/go.mod .ci/tools/dex/go.sum
	@echo ">> building dex into $(DEX) (the first build takes a few minutes; cached afterwards)"
	@cd .ci/tools/dex && CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o ../../../$(DEX) github.com/dexidp/dex/cmd/dex
	@test -x $(DEX)

# oidc-provider exactly as package-lock.json pins it (npm ci); node and npm come from Debian (.ci/deps.sh).
# npm ci writes node_modules/.package-lock.json, which stands for the install: redone only when the lock changes.
node_modules: $(NODE_MODULES) ## npm ci for the oidc-provider of the provider matrix
$(NODE_MODULES): $(OIDCPROVIDER)/package.json $(OIDCPROVIDER)/package-lock.json
	@bash .ci/deps.sh
	@echo ">> npm ci in $(OIDCPROVIDER)"
	@cd $(OIDCPROVIDER) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

providers: $(DEX) $(NODE_MODULES) ## build dex and install oidc-provider (the provider matrix's providers)

# Built then run (not `go run`: on Ctrl-C, go run exits 1 even when the demo stops cleanly). A traefik v3.6+ given
# as TRAEFIK=/path/to/traefik or found on PATH is used as is; otherwise bin/traefik is built first (exit code 10 of
# the demo's -traefik-check).
demo: ## run the demo: Traefik + plugin + echo + local OpenID provider (Descope with DESCOPE_PROJECT_ID/DESCOPE_ACCESS_KEY)
	@cd integration && $(GO) build -o ../bin/demo ./cmd/demo
	@rc=0; TRAEFIK='$(DEMO_TRAEFIK)' bin/demo -traefik-check || rc=$$?; \
		if [ $$rc -eq 10 ]; then $(MAKE) --no-print-directory $(TRAEFIK); elif [ $$rc -ne 0 ]; then exit $$rc; fi
	@cd integration && TRAEFIK='$(DEMO_TRAEFIK)' exec ../bin/demo

# The setup check for a real Descope project (integration/cmd/descopecheck): the variables are read from the
# environment by the tool (the access key is never on a command line); a token piped on stdin is explained too.
descope-check: ## check a Descope project against what the plugin expects: DESCOPE_PROJECT_ID=... [DESCOPE_ACCESS_KEY=...] [OIDC_ISSUER=...] [< token]
	@cd integration && $(GO) build -o ../bin/descopecheck ./cmd/descopecheck
	@if [ -t 0 ]; then bin/descopecheck; else bin/descopecheck -token; fi

# kube-apiserver and kubectl (k8s.io/kubernetes v1.34.4) for the examples/kubernetes test, from their own wrapper
# module (.ci/tools/kube) so k8s.io/kubernetes stays out of integration/go.mod. Cold: ~3 min and ~2.4 GB of build cache.
KUBE_VERSION := v1.34.4
KUBE_LDFLAGS := -s -w $(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
	-X $(p).gitVersion=$(KUBE_VERSION) -X $(p).gitMajor=1 -X $(p).gitMinor=34)
kube: bin/kube-apiserver bin/kubectl ## build kube-apiserver and kubectl for the examples/kubernetes test
bin/kube-apiserver bin/kubectl &: .ci/tools/kube/go.mod .ci/tools/kube/go.sum
	@echo ">> building kube-apiserver and kubectl $(KUBE_VERSION) into bin/ (cold: ~3 minutes)"
	@mkdir -p bin
	cd .ci/tools/kube && CGO_ENABLED=0 $(GO) build -trimpath -ldflags='$(KUBE_LDFLAGS)' -o ../../../bin/ \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl

deps: ## apt-get install what the tests need (chromium, wrk, podman, etcd, node...) when missing
	@bash .ci/deps.sh

# Static checks: formatting, vet, and go.mod/vendor in step (Yaegi loads dependencies from vendor/).
check: ## gofmt, go vet (both modules), vendor in step, every target in make help
	@echo ">> gofmt"; out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^vendor/')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	@echo ">> go vet"; $(GO) vet ./... && $(GO) vet -tags redis . && (cd integration && $(GO) vet ./...)
	@echo ">> vendor in step"; $(GO) mod verify >/dev/null && $(GO) build -mod=vendor ./
	@echo ">> make help lists every target"; for t in $$(sed -n 's/^\.PHONY://p' Makefile); do \
		grep -qE "^$$t:.*## " Makefile || { echo "target $$t has no '## ' help text"; exit 1; }; done

# The version in version.go, the top entry of CHANGELOG.md and the version the examples pin must agree.
release-check: ## version.go, CHANGELOG.md and the examples' pinned version agree (and a release tag on HEAD)
	@bash .ci/release-check.sh

unit: ## unit tests of the plugin package (compiled, race detector)
	@echo ">> unit tests (compiled, race detector)"
	$(GO) test -race -count=1 -cover ./...
	@echo ">> Redis client against real Sentinel failovers and a real Cluster (-tags redis: ~15 s, kept out of go test ./...)"
	$(GO) test -race -count=1 -tags redis -run 'TestRedis|TestShared' .

fuzz: ## each fuzz target for FUZZTIME (default 15s)
	@echo ">> fuzzing each target for $(FUZZTIME)"
	@GO='$(GO)' FUZZTIME='$(FUZZTIME)' bash .ci/fuzz.sh

integration: $(TRAEFIK) providers kube ## the integration module: Yaegi and compiled scenarios, matrix, e2e, examples, browser
	@echo ">> integration tests (Traefik's Yaegi loader and compiled, the provider matrix, real traefik binary, chromium,"
	@echo "   examples/compose under podman-compose, examples/kubernetes on kube-apiserver + etcd)"
	cd integration && $(GO) test $(ITEST_FLAGS) ./...

# The end-to-end tests alone (the real traefik binary, examples/local, headless Chromium).
e2e: $(TRAEFIK) ## end-to-end tests alone: the real Traefik binary with examples/local, headless Chromium
	cd integration && $(GO) test $(ITEST_FLAGS) ./e2e/

# The provider matrix alone, rewriting its table in README.md from the run.
matrix: providers ## the provider matrix alone, rewriting its table in README.md
	cd integration && MATRIX_REPORT=$(CURDIR)/README.md $(GO) test $(ITEST_FLAGS) ./matrix/

test: deps check release-check unit integration fuzz ## every test (what CI runs); installs missing packages with apt-get
	@echo ">> all tests passed"

bench: $(TRAEFIK) ## load benchmark through the real Traefik (wrk)
	@bash bench/run.sh

clean: ## remove bin/, .run/, test artifacts and node_modules
	rm -rf bin .run integration/artifacts $(OIDCPROVIDER)/node_modules .ci/tools/node/node_modules
