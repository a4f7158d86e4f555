package providers

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// TestGateHoldGrant: a held grant waits at the gate until Release (the provider does not see it meanwhile), other
// grants pass, Release returns once the provider has answered the held request, and later ones pass unheld.
func TestGateHoldGrant(t *testing.T) {
	seen := make(chan string, 4)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		seen <- r.PostForm.Get("grant_type")
		w.WriteHeader(http.StatusNoContent)
	}))
	defer backend.Close()
	g, err := NewGate()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Start(backend.URL); err != nil {
		t.Fatal(err)
	}
	post := func(grant string) <-chan int {
		out := make(chan int, 1)
		go func() {
			resp, err := http.PostForm(g.URL()+"/token", url.Values{"grant_type": {grant}})
			if err != nil {
				out <- 0
				return
			}
			resp.Body.Close()
			out <- resp.StatusCode
		}()
		return out
	}
	h := g.HoldGrant("refresh_token")
	held := post("refresh_token")
	if !h.WaitArrived(1, 10*time.Second) {
		t.Fatal("the refresh_token request did not reach the gate")
	}
	if st := <-post("authorization_code"); st != http.StatusNoContent || <-seen != "authorization_code" {
		t.Fatalf("another grant was not let through while one is held: status %d", st)
	}
	select {
	case st := <-held:
		t.Fatalf("the held request was answered (%d) before Release", st)
	case g := <-seen:
		t.Fatalf("the provider saw %q before Release", g)
	case <-time.After(200 * time.Millisecond):
	}
	if !h.Release(10 * time.Second) {
		t.Fatal("Release: the held request was not answered")
	}
	if st := <-held; st != http.StatusNoContent || <-seen != "refresh_token" {
		t.Fatalf("the released request: status %d", st)
	}
	// After Release the grant is no longer held (a later refresh, e.g. of a session the test did not mean to hold).
	if st := <-post("refresh_token"); st != http.StatusNoContent || <-seen != "refresh_token" {
		t.Fatalf("a refresh after Release: status %d", st)
	}
	if g.Grants("refresh_token") != 2 || g.Grants("authorization_code") != 1 {
		t.Errorf("grants counted: refresh %d, code %d, want 2 and 1", g.Grants("refresh_token"), g.Grants("authorization_code"))
	}
}
