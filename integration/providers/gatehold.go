package providers

import (
	"sync"
	"time"
)

// GrantHold holds the token requests of one grant type at a Gate (HoldGrant): each one waits at the gate, before it
// reaches the provider, until Release. A test uses it to make sure something happens while a token request is in
// flight (a logout while the plugin's background refresh waits for the provider) instead of hoping for timing.
type GrantHold struct {
	grant    string
	arrived  chan struct{} // one value per held request that reached the gate
	released chan struct{} // closed by Release

	mu      sync.Mutex
	open    bool // released: later requests pass without being held
	pending int  // held requests not yet answered by the provider
}

// HoldGrant starts holding the token requests with this grant_type (e.g. "refresh_token"); only one hold per gate.
// The requests are still counted by Grants when they arrive.
func (g *Gate) HoldGrant(grantType string) *GrantHold {
	h := &GrantHold{grant: grantType, arrived: make(chan struct{}, 64), released: make(chan struct{})}
	g.hold.Store(h)
	return h
}

// holdRequest makes a request of the held grant type wait for Release; it returns the function to call once the
// request has been answered (nil when the request is not held: another grant, or after Release).
func (g *Gate) holdRequest(grant string) func() {
	h := g.hold.Load()
	if h == nil || grant != h.grant {
		return nil
	}
	h.mu.Lock()
	if h.open {
		h.mu.Unlock()
		return nil
	}
	h.pending++
	h.mu.Unlock()
	select {
	case h.arrived <- struct{}{}:
	default:
	}
	<-h.released
	return h.answered
}

func (h *GrantHold) answered() {
	h.mu.Lock()
	h.pending--
	h.mu.Unlock()
}

// WaitArrived waits until n held requests have reached the gate (in total since the last call), at most timeout;
// it reports whether they did.
func (h *GrantHold) WaitArrived(n int, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for i := 0; i < n; i++ {
		select {
		case <-h.arrived:
		case <-deadline:
			return false
		}
	}
	return true
}

// Arrived is how many held requests reached the gate and were not yet counted by WaitArrived.
func (h *GrantHold) Arrived() int { return len(h.arrived) }

// Release lets the held requests (and every later one) through, and waits until the provider has answered those
// that were held, at most timeout; it reports whether they were all answered. Calling it again only waits.
func (h *GrantHold) Release(timeout time.Duration) bool {
	h.mu.Lock()
	if !h.open {
		h.open = true
		close(h.released)
	}
	h.mu.Unlock()
	for deadline := time.Now().Add(timeout); ; time.Sleep(10 * time.Millisecond) {
		h.mu.Lock()
		n := h.pending
		h.mu.Unlock()
		if n == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
