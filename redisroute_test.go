package descopeoidc

import "testing"

// TestRedisServerError: redirects are followed (MOVED recorded in the slot table), errors that say the command did
// not run are retried and mark the topology stale when it may have changed, the others fail.
func TestRedisServerError(t *testing.T) {
	cl := newRedisClient(&redisOptions{mode: "cluster", addrs: []string{"127.0.0.1:7000"}})
	cl.stale = false
	for _, tc := range []struct{ msg, action, target string }{
		{"MOVED 3999 127.0.0.1:7001", "moved", "127.0.0.1:7001"},
		{"MOVED 12182 :7002", "moved", "10.0.0.9:7002"},
		{"ASK 3999 127.0.0.1:7003", "ask", "127.0.0.1:7003"},
		{"MOVED 16384 127.0.0.1:7001", "fail", ""},
		{"MOVED x", "fail", ""},
		{"TRYAGAIN Multiple keys request during rehashing of slot", "retry", ""},
		{"LOADING Redis is loading the dataset in memory", "retry", ""},
		{"CLUSTERDOWN The cluster is down", "retry", ""},
		{"READONLY You can't write against a read only replica.", "retry", ""},
		{"ERR unknown command", "fail", ""},
		{"NOPERM this user has no permissions", "fail", ""},
	} {
		action, target := cl.serverError(tc.msg, "10.0.0.9:7000")
		if action != tc.action || target != tc.target {
			t.Errorf("%q: %s %q, want %s %q", tc.msg, action, target, tc.action, tc.target)
		}
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if got := cl.slotNode(3999); got != "127.0.0.1:7001" {
		t.Errorf("MOVED 3999 recorded %q", got)
	}
	if got := cl.slotNode(12182); got != "10.0.0.9:7002" {
		t.Errorf("MOVED 12182 :7002 recorded %q", got)
	}
	if !cl.stale {
		t.Error("a MOVED did not mark the slot table for a reload")
	}
}

// TestRedisStandaloneRoute: standalone mode has one address and no topology to invalidate.
func TestRedisStandaloneRoute(t *testing.T) {
	cl := newRedisClient(&redisOptions{mode: "standalone", addrs: []string{"127.0.0.1:6379"}})
	cl.invalidate()
	if a, err := cl.route("any"); err != nil || a != "127.0.0.1:6379" {
		t.Errorf("route: %q %v", a, err)
	}
	// A standalone address that is in fact a cluster node: its redirects are errors, not followed.
	if action, _ := cl.serverError("MOVED 1 127.0.0.1:7001", "127.0.0.1:6379"); action != "fail" {
		t.Errorf("MOVED in standalone mode: %s", action)
	}
}
