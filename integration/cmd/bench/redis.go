package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// startRedis runs Debian's redis-server on a free loopback port for the cookie-redis row (.ci/deps.sh installs it)
// and returns its address; the run stops it at the end.
func (b *bench) startRedis() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("redis-server is missing (the cookie-redis row): make deps")
	}
	addr, err := stack.FreeAddr()
	if err != nil {
		return "", err
	}
	host, port, _ := net.SplitHostPort(addr)
	dir, err := os.MkdirTemp("", "bench-redis")
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "--port", port, "--bind", host, "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	b.stops = append(b.stops, func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = os.RemoveAll(dir) })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			b.logf("redis-server %s (cookie-redis row)", addr)
			return addr, nil
		}
	}
	return "", fmt.Errorf("redis-server on %s did not start", addr)
}
