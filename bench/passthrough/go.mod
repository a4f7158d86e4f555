module github.com/traefik-descope/passthrough

go 1.22
