// Package matrix runs one scenario table against every provider of integration/providers (zitadel/oidc's example
// OP, panva's oidc-provider, dex, our Descope-shaped devidp), each under Traefik's Yaegi loader and compiled.
//
//	go test -race ./matrix/                                  # the whole matrix
//	go test -race -run 'TestMatrix/devidp/yaegi' ./matrix/   # one cell
//	MATRIX_REPORT=$PWD/../README.md go test ./matrix/        # rewrite the README's table from this run
//
// A cell is one provider and one target: its own provider (behind its own gate) and its own TLS site, so cells run
// in parallel. The scenarios of a cell run in order against that one provider, each with a handler built for it.
// A provider quirk changes what a scenario asserts (from its Capabilities) and adds a note to the table; it is never
// a skip.
package matrix
