package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// memProc is one Traefik process of the memory comparison: started alone (the others stopped), sampled idle, then
// after loading each of its rows for the row duration.
type memProc struct {
	label        string
	dir          string   // under bench/rss
	rows         []string // rows of the main configuration to load (same path and headers)
	idle, loaded memSample
	many         *memSample // descopeoidc: after the cookie-n100k row's sessions, each sent once (many.go)
}

// memoryPhase compares RSS of Traefik without plugins, with only the pass-through plugin (the Yaegi floor) and with
// only descopeoidc, each in its own process with the same load.
func (b *bench) memoryPhase() error {
	procs := []*memProc{
		{label: "Traefik, no plugin", dir: "plain", rows: []string{"plain"}},
		{label: "Traefik + passthrough (Yaegi floor)", dir: "passthrough", rows: []string{"plain", "passthrough"}},
		{label: "Traefik + descopeoidc", dir: "descopeoidc", rows: []string{"plain", "cookie", "bearer"}},
	}
	for _, p := range procs {
		b.logf("memory: %s", p.label)
		o := stack.Options{ExampleDir: filepath.Join(benchDir(), "rss", p.dir), ReadyRouter: "plain@file"}
		if p.dir == "passthrough" {
			o.ExtraPlugins = map[string]string{passthroughModule: filepath.Join(benchDir(), "passthrough")}
		}
		t, err := b.startTraefik(o)
		if err != nil {
			return fmt.Errorf("memory %s: %v", p.dir, err)
		}
		for _, name := range p.rows {
			if err := waitRouter(t, name+"@file", "", 30*time.Second); err != nil {
				return fmt.Errorf("memory %s: %v\ntraefik log:\n%s", p.dir, err, t.Logs())
			}
		}
		time.Sleep(2 * settle)
		if p.idle, err = b.sample(t, "idle"); err != nil {
			return err
		}
		for _, name := range p.rows {
			src := b.find(name)
			if src == nil {
				continue // row not selected (BENCH_ROWS)
			}
			r := *src
			r.traefik, r.runs = t, nil
			if err := b.check(&r); err != nil {
				return fmt.Errorf("memory %s: %v", p.dir, err)
			}
			if _, err := b.measure(&r, b.s.duration); err != nil {
				return fmt.Errorf("memory %s: %v", p.dir, err)
			}
		}
		time.Sleep(settle)
		if p.loaded, err = b.sample(t, "after load"); err != nil {
			return err
		}
		b.logf("  RSS idle %.1f MiB, after load %.1f MiB; live heap %.1f MiB", kib(p.idle.rssKiB), kib(p.loaded.rssKiB), mib(p.loaded.heapBytes))
		if p.dir == "descopeoidc" {
			if err := b.manySessionsSample(p, t); err != nil {
				return err
			}
		}
		if err := t.Stop(); err != nil {
			return err
		}
		b.memProcs = append(b.memProcs, p)
	}
	return nil
}

func kib(k int) float64 { return float64(k) / 1024 }
