package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const reloadMarker = "Path(`/reload/0`)"

// reloadTest rewrites dynamic.yml reloads times (a marker router's path changes, so Traefik rebuilds every router and
// calls the plugin's New again for each), sending an authenticated request through the new handlers after each, and
// compares goroutines and memory before and after, each sampled right after the same short load run.
func (b *bench) reloadTest() error {
	tmpl, err := os.ReadFile(filepath.Join(benchDir(), "dynamic.yml"))
	if err != nil {
		return err
	}
	if !strings.Contains(string(tmpl), reloadMarker) {
		return fmt.Errorf("bench/dynamic.yml has no %s marker router", reloadMarker)
	}
	probe := b.probeRows()
	b.logf("reloads: %d configuration reloads", b.s.reloads)
	before, err := b.loadAndSample(fmt.Sprintf("before %d reloads", b.s.reloads))
	if err != nil {
		return err
	}
	b.reloadSamples = append(b.reloadSamples, before)
	start := time.Now()
	for i := 1; i <= b.s.reloads; i++ {
		if err := b.reloadOnce(fmt.Sprintf("/reload/%d", i)); err != nil {
			return fmt.Errorf("reload %d: %v", i, err)
		}
		for _, r := range probe {
			if err := b.check(r); err != nil {
				return fmt.Errorf("after reload %d: %v", i, err)
			}
		}
		b.reloadsDone = i
		if i%25 == 0 && i < b.s.reloads {
			s, err := b.sample(b.main, fmt.Sprintf("after %d reloads", i))
			if err != nil {
				return err
			}
			b.reloadSamples = append(b.reloadSamples, s)
			b.logf("  %s: %d goroutines (%d not HTTP connections), heap %.1f MiB, RSS %d MiB", s.label, s.goroutines, s.own, mib(s.heapBytes), s.rssKiB>>10)
		}
	}
	b.reloadTime = time.Since(start)
	after, err := b.loadAndSample(fmt.Sprintf("after %d reloads", b.s.reloads))
	if err != nil {
		return err
	}
	b.reloadSamples = append(b.reloadSamples, after)
	return nil
}

// reloadOnce rewrites dynamic.yml with the marker router on path (Traefik rebuilds every router and calls the
// plugin's New again for each) and waits until the new routers answer.
func (b *bench) reloadOnce(path string) error {
	tmpl, err := os.ReadFile(filepath.Join(benchDir(), "dynamic.yml"))
	if err != nil {
		return err
	}
	content := strings.Replace(string(tmpl), reloadMarker, "Path(`"+path+"`)", 1)
	if err := b.main.WriteDynamic([]byte(content)); err != nil {
		return err
	}
	if err := waitRouter(b.main, "reload@file", path, 30*time.Second); err != nil {
		return err
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.up.reset(expectation{nameLen: -1})
		status, _, err := get(c, b.main.WebURL+path, nil)
		if err == nil && status == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer (status %d, %v)", path, status, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// probeRows are the plugin rows that exist (one cookie and one bearer row at least, when selected).
func (b *bench) probeRows() []*row {
	var out []*row
	for _, r := range b.rows {
		if r.expect.user != "" && r.peerPID == 0 {
			out = append(out, r)
		}
	}
	return out
}

// loadAndSample runs a short load on every plugin row (so that connection pools and caches are in the same state
// each time), waits, and samples.
func (b *bench) loadAndSample(label string) (memSample, error) {
	for _, r := range b.probeRows() {
		if _, err := b.measure(r, 2*time.Second); err != nil {
			return memSample{}, err
		}
	}
	time.Sleep(settle)
	s, err := b.sample(b.main, label)
	if err != nil {
		return s, err
	}
	b.logf("  %s: %d goroutines (%d not HTTP connections), heap %.1f MiB, RSS %d MiB", s.label, s.goroutines, s.own, mib(s.heapBytes), s.rssKiB>>10)
	return s, nil
}

// soakTest loads the plugin rows in turn, in chunks of up to 15 s, for the soak duration, sampling after each chunk.
func (b *bench) soakTest() error {
	rows := b.probeRows()
	if len(rows) == 0 {
		return nil
	}
	b.logf("soak: %s over %d plugin rows", b.s.soak, len(rows))
	first, err := b.loadAndSample("soak start")
	if err != nil {
		return err
	}
	b.soakSamples = append(b.soakSamples, first)
	end := time.Now().Add(b.s.soak)
	var total int64
	for i := 0; time.Now().Before(end); i++ {
		d := time.Until(end).Truncate(time.Second)
		if d > 15*time.Second {
			d = 15 * time.Second
		}
		if d < time.Second {
			break
		}
		r := rows[i%len(rows)]
		res, err := b.measure(r, d)
		if err != nil {
			return fmt.Errorf("soak: %v", err)
		}
		total += res.wrk.requests
		if (i+1)%len(rows) == 0 {
			time.Sleep(settle)
			s, err := b.sample(b.main, fmt.Sprintf("soak %s", time.Since(end.Add(-b.s.soak)).Truncate(time.Second)))
			if err != nil {
				return err
			}
			b.soakSamples = append(b.soakSamples, s)
			b.logf("  %s: %d goroutines (%d not HTTP connections), heap %.1f MiB, RSS %d MiB", s.label, s.goroutines, s.own, mib(s.heapBytes), s.rssKiB>>10)
		}
	}
	last, err := b.loadAndSample(fmt.Sprintf("soak end (%d requests)", total))
	if err != nil {
		return err
	}
	b.soakSamples = append(b.soakSamples, last)
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
