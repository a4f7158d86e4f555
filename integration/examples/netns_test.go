package examples

import (
	"strings"
	"testing"
	"time"
)

// netns is a network namespace the test creates with a veth pair: hostIP on the host side, NSIP inside. The API
// server refuses loopback endpoint addresses, so the echo service of the Kubernetes example runs in there and its
// EndpointSlice names NSIP, an address that exists only on this veth pair.
type netns struct {
	t      *testing.T
	Name   string
	host   string // host-side interface
	HostIP string
	NSIP   string
}

const (
	nsName   = "descopeoidc-ex"
	nsHostIf = "vh-descopeoidc" // at most 15 characters
	nsPeerIf = "vn-descopeoidc"
	nsHostIP = "10.250.0.1"
	nsIP     = "10.250.0.2"
)

// newNetns creates the namespace and the veth pair (deleted at cleanup, also on failure) and checks that the host
// routes NSIP through the veth, never out of the machine.
func newNetns(t *testing.T) *netns {
	t.Helper()
	ipBin := needTool(t, "ip", "run `make deps` (apt-get install iproute2)")
	n := &netns{t: t, Name: nsName, host: nsHostIf, HostIP: nsHostIP, NSIP: nsIP}
	if out := runCmd(10*time.Second, nil, "", ipBin, "netns", "list").out; strings.Contains(out, nsName) {
		t.Fatalf("network namespace %s exists already (a run killed before its cleanup?): `ip netns del %s; ip link del %s`", nsName, nsName, nsHostIf)
	}
	if r := runCmd(10*time.Second, nil, "", ipBin, "route", "get", nsIP); r.err == nil && strings.Contains(r.out, "dev "+nsHostIf) {
		t.Fatalf("%s is already routed through %s: %s", nsIP, nsHostIf, r.out)
	}
	t.Cleanup(n.delete)
	steps := [][]string{
		{"netns", "add", nsName},
		{"link", "add", nsHostIf, "type", "veth", "peer", "name", nsPeerIf},
		{"link", "set", nsPeerIf, "netns", nsName},
		{"addr", "add", nsHostIP + "/30", "dev", nsHostIf},
		{"link", "set", nsHostIf, "up"},
		{"-n", nsName, "addr", "add", nsIP + "/30", "dev", nsPeerIf},
		{"-n", nsName, "link", "set", nsPeerIf, "up"},
		{"-n", nsName, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		mustRun(t, 10*time.Second, nil, "", ipBin, s...)
	}
	n.checkRoute()
	return n
}

// checkRoute aborts the test unless the host sends NSIP through the veth pair.
func (n *netns) checkRoute() {
	n.t.Helper()
	r := mustRun(n.t, 10*time.Second, nil, "", "ip", "route", "get", n.NSIP)
	if !strings.Contains(r.out, "dev "+n.host+" ") && !strings.HasSuffix(strings.TrimSpace(r.out), "dev "+n.host) {
		n.t.Fatalf("ip route get %s: %q, want a route through dev %s (the address would leave the machine otherwise)", n.NSIP, r.out, n.host)
	}
}

// Exec is the command prefix that runs a program inside the namespace.
func (n *netns) Exec(name string, args ...string) (string, []string) {
	return "ip", append([]string{"netns", "exec", n.Name, name}, args...)
}

// delete removes the namespace (which takes its end of the pair) and the host end, and checks both are gone.
func (n *netns) delete() {
	runCmd(10*time.Second, nil, "", "ip", "link", "del", n.host)
	runCmd(10*time.Second, nil, "", "ip", "netns", "del", n.Name)
	if out := runCmd(10*time.Second, nil, "", "ip", "netns", "list").out; strings.Contains(out, n.Name) {
		n.t.Errorf("network namespace %s still exists after cleanup", n.Name)
	}
	if r := runCmd(10*time.Second, nil, "", "ip", "link", "show", n.host); r.err == nil {
		n.t.Errorf("interface %s still exists after cleanup: %s", n.host, r.out)
	}
}
