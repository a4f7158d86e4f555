package devidp

import "testing"

// StartForTest starts a provider for t and closes it at t's cleanup; an error starting it fails the test.
func StartForTest(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := Start(o)
	if err != nil {
		t.Fatalf("devidp: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
