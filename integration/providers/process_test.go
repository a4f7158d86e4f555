package providers

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBoundedBuffer(t *testing.T) {
	b := &boundedBuffer{max: 8}
	_, _ = b.Write([]byte("0123456789"))
	_, _ = b.Write([]byte("ab"))
	if got := b.String(); got != "456789ab" {
		t.Errorf("expected the last 8 bytes 456789ab, got %q", got)
	}
}

// TestProcessStop: a child that ignores SIGTERM is killed, and stop waits until it is gone.
func TestProcessStop(t *testing.T) {
	p, err := startProcess("sh", t.TempDir(), nil, "sh", "-c", `trap '' TERM; echo '{"listening":"127.0.0.1:1"}'; while :; do sleep 0.1; done`)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := p.waitOutput(regexp.MustCompile(`\{"listening":"([^"]+)"\}`))
	if err != nil || addr != "127.0.0.1:1" {
		t.Fatalf("waitOutput: expected 127.0.0.1:1, got %q (%v)", addr, err)
	}
	start := time.Now()
	p.stop()
	if !p.exited() || time.Since(start) < 4*time.Second {
		t.Errorf("stop: expected the process killed after the 5 s grace, exited=%v after %s", p.exited(), time.Since(start))
	}
	if err := syscall.Kill(p.cmd.Process.Pid, 0); err == nil {
		t.Errorf("process %d still exists after stop", p.cmd.Process.Pid)
	}
	p.stop() // a second stop is a no-op
}

func TestProcessExitEarly(t *testing.T) {
	p, err := startProcess("false", t.TempDir(), nil, "sh", "-c", "echo boom; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	err = p.waitDiscovery("http://127.0.0.1:1", "http://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("expected an error with the exit status and the output, got %v", err)
	}
}
