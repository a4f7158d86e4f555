package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Targets of the project's performance issue (13), as ratios to plain Traefik measured in the same run.
const (
	targetCookieRatio    = 0.85 // cookie row req/s >= 0.85 x plain
	targetCookieP99      = 1.20 // cookie row p99 <= 1.2 x plain's p99
	targetBearerRatio    = 0.90 // bearer row (cached token) req/s >= 0.90 x plain
	targetBigRatio       = 0.80 // cookie-big row (~6.5 KB of extra claims) req/s >= 0.80 x plain...
	targetBigCPURel      = 0.10 // ...and its plugin CPU per request within 10% of the cookie row's (a small user)
	targetCookieBudget   = 1536 // bytes of the plugin's cookies on cookie and cookie-big (README "Cookie budget")
	targetSizeGrowthUs   = 5.0  // 1 KB -> 8 KB: the plugin's own CPU per request grows by at most this...
	targetSizeGrowthRel  = 0.15 // ...or this fraction of its 1 KB cost, whichever is larger
	targetRSSExtraMiB    = 20   // RSS after load <= plugin-less Traefik's + 20 MiB
	targetGoroutineSlack = 5    // reloads / soak: goroutines not serving a connection may grow by this much
	targetHeapGrowthMiB  = 8.0  // reloads / soak: live heap (after GC) may grow by at most this
	targetRSSGrowthMiB   = 20.0 // reloads / soak: RSS may grow by at most this
	targetMetricsRatio   = 0.95 // issue 20: the cookie and bearer rows with metrics on >= 0.95 x the same rows off
	targetRedisRatio     = 0.95 // issue 17: the cookie row with Redis on >= 0.95 x stateless (no round trip per hit)
)

// metricsVerdicts judges the metrics-on rows against the same middleware and credential with the metrics off, in
// the same rounds (issue 20: the hot path must not get measurably slower), and the cookie row with a shared Redis
// against stateless mode (issue 17: a session hit makes no round trip of its own).
func (b *bench) metricsVerdicts() []verdict {
	var out []verdict
	for _, kind := range []string{"cookie", "bearer"} {
		off, on := b.find(kind), b.find(kind+"-metrics")
		name := kind + " with metrics on >= 0.95 x off"
		if off == nil || on == nil {
			out = append(out, verdict{name: name, skipped: true, detail: kind + " and " + kind + "-metrics rows not run"})
			continue
		}
		p := paired(on, off)
		out = append(out, verdict{name: name, pass: p.ratio >= targetMetricsRatio,
			detail: fmt.Sprintf("%.2f x (median of per-round ratios); Traefik CPU %+.1f µs/req on minus off", p.ratio, p.cpuDelta)})
	}
	off, on := b.find("cookie"), b.find("cookie-redis")
	name := "cookie with Redis on >= 0.95 x stateless"
	if off == nil || on == nil {
		return append(out, verdict{name: name, skipped: true, detail: "cookie and cookie-redis rows not run"})
	}
	p := paired(on, off)
	return append(out, verdict{name: name, pass: p.ratio >= targetRedisRatio,
		detail: fmt.Sprintf("%.2f x (median of per-round ratios); Traefik CPU %+.1f µs/req Redis minus stateless", p.ratio, p.cpuDelta)})
}

// bigClaimsVerdicts judges the cookie-big row (a user with ~6.5 KB of claims no header needs) against the cookie row
// (a small user, same middleware): throughput, plugin CPU, and both rows' cookies against the budget.
func (b *bench) bigClaimsVerdicts(plainRow *row) []verdict {
	small, big := b.find("cookie"), b.find("cookie-big")
	if small == nil || big == nil {
		return []verdict{{name: "user with ~6.5 KB of extra claims", skipped: true, detail: "cookie and cookie-big rows not run"}}
	}
	ps, pb := paired(small, plainRow), paired(big, plainRow)
	return []verdict{
		{name: "user with ~6.5 KB of extra claims >= 0.80 x plain", pass: pb.ratio >= targetBigRatio,
			detail: fmt.Sprintf("%.2f x plain (cookie row: %.2f)%s", pb.ratio, ps.ratio, b.controlRatio(big))},
		{name: "its plugin CPU within 10% of a small user's", pass: pb.cpuDelta <= (1+targetBigCPURel)*ps.cpuDelta,
			detail: fmt.Sprintf("%.1f vs %.1f µs/req (cookie-big minus plain, cookie minus plain)", pb.cpuDelta, ps.cpuDelta)},
		{name: "session cookie <= 1.5 KB whatever the tokens weigh", pass: small.size <= targetCookieBudget && big.size <= targetCookieBudget,
			detail: fmt.Sprintf("cookie %d B, cookie-big %d B (its ID token alone is over 8 KB)", small.size, big.size)},
	}
}

type rowStats struct {
	rps, rpsMin, rpsMax float64
	p50, p99            time.Duration
	cpu                 float64 // Traefik CPU µs per request
}

func stats(r *row) rowStats {
	var rps, p50, p99, cpu []float64
	for _, run := range r.runs {
		rps = append(rps, run.wrk.rps)
		p50 = append(p50, float64(run.wrk.p50))
		p99 = append(p99, float64(run.wrk.p99))
		cpu = append(cpu, run.cpuUsPerReq())
	}
	s := rowStats{rps: median(rps), p50: time.Duration(median(p50)), p99: time.Duration(median(p99)), cpu: median(cpu)}
	for i, v := range rps {
		if i == 0 || v < s.rpsMin {
			s.rpsMin = v
		}
		if v > s.rpsMax {
			s.rpsMax = v
		}
	}
	return s
}

// paired compares a row with a reference row round by round (each round ran both within a couple of minutes) and
// returns the medians of the per-round throughput ratio, p99 ratio and CPU difference: the machine's drift between
// rounds cancels out better than in a ratio of medians.
type pairedStats struct {
	ratio, p99Ratio, cpuDelta float64
}

func paired(r, ref *row) pairedStats {
	var ratio, p99, cpu []float64
	for i := 0; i < len(r.runs) && i < len(ref.runs); i++ {
		a, b := r.runs[i], ref.runs[i]
		if b.wrk.rps > 0 && b.wrk.p99 > 0 {
			ratio = append(ratio, a.wrk.rps/b.wrk.rps)
			p99 = append(p99, float64(a.wrk.p99)/float64(b.wrk.p99))
		}
		cpu = append(cpu, a.cpuUsPerReq()-b.cpuUsPerReq())
	}
	return pairedStats{ratio: median(ratio), p99Ratio: median(p99), cpuDelta: median(cpu)}
}

// controlRatio is ", 0.93 x plain+<row>" when r has a control row: its throughput against plain Traefik carrying the
// same request headers (informational; the targets are judged against plain, as the issue states them).
func (b *bench) controlRatio(r *row) string {
	c := b.control(r)
	if c == nil || c.name == "plain" {
		return ""
	}
	return fmt.Sprintf("; %.2f x %s, plain Traefik carrying the same headers", paired(r, c).ratio, c.name)
}

// control is the row whose Traefik cost a row's is compared with: plain with the same request headers, else plain.
func (b *bench) control(r *row) *row {
	if r.control != "" {
		if c := b.find(r.control); c != nil {
			return c
		}
	}
	return b.find("plain")
}

type verdict struct {
	name, detail string
	pass         bool
	skipped      bool
}

func (b *bench) verdicts() []verdict {
	var out []verdict
	plainRow := b.find("plain")
	add := func(name string, pass bool, format string, args ...any) {
		out = append(out, verdict{name: name, pass: pass, detail: fmt.Sprintf(format, args...)})
	}
	skip := func(name, why string) { out = append(out, verdict{name: name, skipped: true, detail: why}) }
	if r := b.find("cookie"); r != nil {
		p := paired(r, plainRow)
		add("cookie throughput >= 0.85 x plain", p.ratio >= targetCookieRatio, "%.2f x plain (median of per-round ratios; medians %.0f vs %.0f req/s)%s", p.ratio, stats(r).rps, stats(plainRow).rps, b.controlRatio(r))
		add("cookie p99 <= 1.2 x plain's", p.p99Ratio <= targetCookieP99, "%.2f x (medians %s vs %s)", p.p99Ratio, fmtDur(stats(r).p99), fmtDur(stats(plainRow).p99))
	} else {
		skip("cookie throughput and p99", "row not run")
	}
	if r := b.find("bearer"); r != nil {
		p := paired(r, plainRow)
		add("bearer throughput >= 0.90 x plain", p.ratio >= targetBearerRatio, "%.2f x plain (median of per-round ratios; medians %.0f vs %.0f req/s)%s", p.ratio, stats(r).rps, stats(plainRow).rps, b.controlRatio(r))
	} else {
		skip("bearer throughput", "row not run")
	}
	out = append(out, b.bigClaimsVerdicts(plainRow)...)
	out = append(out, b.manyVerdicts(plainRow)...)
	out = append(out, b.metricsVerdicts()...)
	for _, kind := range []string{"cookie", "bearer"} {
		small, big := b.find(kind+"-1k"), b.find(kind+"-8k")
		name := kind + " 1 KB -> 8 KB: plugin cost not growing"
		if small == nil || big == nil {
			skip(name, "rows not run")
			continue
		}
		ps, pb := paired(small, b.control(small)), paired(big, b.control(big))
		limit := targetSizeGrowthUs
		if rel := targetSizeGrowthRel * ps.cpuDelta; rel > limit {
			limit = rel
		}
		add(name, pb.cpuDelta-ps.cpuDelta <= limit, "plugin CPU %.1f -> %.1f µs/req (%s minus %s, %s minus %s; limit +%.1f); throughput %.2f -> %.2f x the control",
			ps.cpuDelta, pb.cpuDelta, small.name, b.control(small).name, big.name, b.control(big).name, limit, ps.ratio, pb.ratio)
	}
	if len(b.memProcs) == 3 {
		base, own := b.memProcs[0], b.memProcs[2]
		extra := kib(own.loaded.rssKiB - base.loaded.rssKiB)
		add("RSS <= plugin-less Traefik + 20 MiB", extra <= targetRSSExtraMiB, "%+.1f MiB after load (%.0f vs %.0f MiB; idle %+.1f MiB; live heap %+.1f MiB)",
			extra, kib(own.loaded.rssKiB), kib(base.loaded.rssKiB), kib(own.idle.rssKiB-base.idle.rssKiB), mib(own.loaded.heapBytes-base.loaded.heapBytes))
	} else {
		skip("RSS <= plugin-less Traefik + 20 MiB", "memory phase not run")
	}
	// No growth: after the first half of the samples (warm), the last one may not exceed their peak by more than the
	// slack. A leak keeps making new highs; a plateau with noise does not.
	growth := func(name string, samples []memSample) {
		if len(samples) < 2 {
			skip(name, "not run")
			return
		}
		half := (len(samples) + 1) / 2
		if half == len(samples) {
			half = len(samples) - 1
		}
		peak := samples[0]
		for _, s := range samples[:half] {
			if s.own > peak.own {
				peak.own = s.own
			}
			if s.heapBytes > peak.heapBytes {
				peak.heapBytes = s.heapBytes
			}
			if s.rssKiB > peak.rssKiB {
				peak.rssKiB = s.rssKiB
			}
		}
		last := samples[len(samples)-1]
		dg, dh, dr := last.own-peak.own, mib(last.heapBytes-peak.heapBytes), kib(last.rssKiB-peak.rssKiB)
		add(name, dg <= targetGoroutineSlack && dh <= targetHeapGrowthMiB && dr <= targetRSSGrowthMiB,
			"last vs peak of the first %d samples: goroutines (not HTTP connections) %+d (%d -> %d), live heap %+.1f MiB, RSS %+.1f MiB (limits +%d, +%.0f MiB, +%.0f MiB)",
			half, dg, samples[0].own, last.own, dh, dr, targetGoroutineSlack, targetHeapGrowthMiB, targetRSSGrowthMiB)
	}
	growth(fmt.Sprintf("%d reloads: no goroutine or memory growth", b.reloadsDone), b.reloadSamples)
	growth(fmt.Sprintf("soak %s: no goroutine or memory growth", b.s.soak), b.soakSamples)
	return out
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func (b *bench) report() error {
	var sb strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&sb, format+"\n", args...) }
	w("# descopeoidc load benchmark")
	w("")
	w("- date: %s (run took %s)", b.started.UTC().Format("2006-01-02 15:04 MST"), time.Since(b.started).Truncate(time.Second))
	w("- machine: %d CPUs (nproc), %s, Linux %s, %s/%s; shared and noisy: compare ratios within one run only", runtime.NumCPU(), cpuModel(), kernel(), runtime.GOOS, runtime.GOARCH)
	w("- Traefik v3.6.12 (bin/traefik, local plugins under Yaegi), %s", wrkVersion())
	w("- command: `%s`", b.s.command)
	w("- load: wrk -t%d -c%d, %s per row and round, %d rounds interleaved (after a 2 s warm-up per row); medians of the rounds", b.s.threads, b.s.conns, b.s.duration, b.s.rounds)
	w("- every row was checked: all responses 2xx, and the upstream counted as many requests carrying the row's identity headers (X-Forwarded-User, X-Forwarded-Name length) as wrk completed, none with the session cookie")
	w("")
	w("| row | credential | req/s (median; min-max) | p50 | p99 | ratio to plain | p99 / plain's | Traefik CPU µs/req | plugin µs/req |")
	w("|---|---|---|---|---|---|---|---|---|")
	plainRow := b.find("plain")
	for _, r := range b.rows {
		s := stats(r)
		p := paired(r, plainRow)
		extra := "-"
		if r.name != "plain" && !strings.HasPrefix(r.name, "plain+") {
			ctl := b.control(r)
			extra = fmt.Sprintf("%.1f", paired(r, ctl).cpuDelta)
			if ctl.name != "plain" {
				extra += " (vs " + ctl.name + ")"
			}
		}
		cpu := fmt.Sprintf("%.1f", s.cpu)
		if r.peerPID != 0 {
			cpu += " (Traefik + oauth2-proxy)"
		}
		w("| %s | %s | %.0f (%.0f-%.0f) | %s | %s | %.2f | %.2f | %s | %s |", r.name, r.what, s.rps, s.rpsMin, s.rpsMax,
			fmtDur(s.p50), fmtDur(s.p99), p.ratio, p.p99Ratio, cpu, extra)
	}
	w("")
	w("Ratios are medians of per-round ratios (row / plain of the same round); \"plugin µs/req\" is the median per-round difference between the row's Traefik CPU per request and that of plain Traefik carrying the same request headers (plain, or the plain+ control row): the middleware's own cost. For passthrough it is the floor of any Yaegi middleware; for the peer row it includes oauth2-proxy's CPU.")
	if b.peerNote != "" {
		w("")
		w("%s", b.peerNote)
	}
	b.writeCold(w)
	w("")
	w("Memory (RSS from /proc, live heap = HeapAlloc after a forced GC from Traefik's pprof, goroutines from pprof):")
	w("")
	w("| process | state | RSS MiB | live heap MiB | goroutines |")
	w("|---|---|---|---|---|")
	for _, p := range b.memProcs {
		samples := []memSample{p.idle, p.loaded}
		if p.many != nil {
			samples = append(samples, *p.many)
		}
		for _, s := range samples {
			w("| %s | %s | %.1f | %.1f | %d |", p.label, s.label, kib(s.rssKiB), mib(s.heapBytes), s.goroutines)
		}
	}
	for _, s := range []memSample{b.mainIdle, b.mainLoaded} {
		w("| benchmark Traefik (both plugins, all rows) | %s | %.1f | %.1f | %d |", s.label, kib(s.rssKiB), mib(s.heapBytes), s.goroutines)
	}
	w("")
	w("Each memory process ran alone with the same upstream; \"after load\" follows %s of wrk per row (plain; plain + passthrough; plain + cookie + bearer).", b.s.duration)
	for _, group := range []struct {
		name    string
		samples []memSample
	}{{fmt.Sprintf("Reloads (%d, %s; each followed by one request per plugin row)", b.reloadsDone, b.reloadTime.Truncate(time.Second)), b.reloadSamples},
		{fmt.Sprintf("Soak (%s; plugin rows in turn, 15 s each)", b.s.soak), b.soakSamples}} {
		if len(group.samples) == 0 {
			continue
		}
		w("")
		w("%s:", group.name)
		w("")
		w("| sample | goroutines (not HTTP connections) | goroutines (all) | live heap MiB | RSS MiB |")
		w("|---|---|---|---|---|")
		for _, s := range group.samples {
			w("| %s | %d | %d | %.1f | %.1f |", s.label, s.own, s.goroutines, mib(s.heapBytes), kib(s.rssKiB))
		}
	}
	w("")
	w("Targets:")
	w("")
	w("| target | result | measured |")
	w("|---|---|---|")
	for _, v := range b.verdicts() {
		res := "PASS"
		switch {
		case v.skipped:
			res = "n/a"
		case !v.pass:
			res = "MISS"
			b.missed++
		}
		w("| %s | %s | %s |", v.name, res, v.detail)
	}
	w("")
	w("Per round (req/s | Traefik CPU µs/req):")
	w("")
	for _, r := range b.rows {
		var parts []string
		for _, run := range r.runs {
			parts = append(parts, fmt.Sprintf("%.0f | %.1f", run.wrk.rps, run.cpuUsPerReq()))
		}
		w("- %s: %s", r.name, strings.Join(parts, "; "))
	}
	fmt.Println()
	fmt.Print(sb.String())
	if b.s.out != "" && b.s.out != "-" {
		if err := os.WriteFile(b.s.out, []byte(sb.String()), 0o644); err != nil {
			return err
		}
		fmt.Printf("\nsaved to %s\n", b.s.out)
	}
	return nil
}
