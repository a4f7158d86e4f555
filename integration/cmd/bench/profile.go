package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// profileRows takes a CPU profile of the benchmark Traefik (its pprof endpoint) while wrk loads each row named in
// BENCH_PROFILE, and saves it as bench/profile-<row>.prof (go tool pprof bin/traefik bench/profile-cookie.prof).
func (b *bench) profileRows(names []string) error {
	for _, name := range names {
		r := b.find(name)
		if r == nil {
			return fmt.Errorf("BENCH_PROFILE: no row %q", name)
		}
		d := b.s.duration
		if d < 5*time.Second {
			d = 5 * time.Second
		}
		secs := int((d - 2*time.Second) / time.Second)
		out := filepath.Join(benchDir(), "profile-"+name+".prof")
		b.logf("profile: %s, %ds of Traefik CPU under load -> %s", name, secs, out)
		done := make(chan error, 1)
		go func() {
			time.Sleep(time.Second)
			done <- fetchProfile(b.ctx, b.main.APIURL, secs, out)
		}()
		if _, err := b.measure(r, d); err != nil {
			return err
		}
		if err := <-done; err != nil {
			return fmt.Errorf("profile %s: %v", name, err)
		}
	}
	return nil
}

func fetchProfile(ctx context.Context, api string, secs int, out string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs+30)*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
