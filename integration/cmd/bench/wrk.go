package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what the driver reads from wrk's report.
type wrkResult struct {
	requests   int64   // completed requests ("N requests in ...")
	rps        float64 // Requests/sec
	p50, p99   time.Duration
	non2xx3xx  int64 // wrk counts status >= 400 only: 3xx are checked through the upstream's counters
	sockErrors int64 // connect + read + write + timeout
	raw        string
}

type wrkOptions struct {
	threads, conns int
	duration       time.Duration
	timeout        time.Duration
	headers        []string // "Name: value"
	script         string   // a Lua script (-s), with its arguments
	scriptArgs     []string
}

// runWrk runs wrk against url and parses its report.
func runWrk(ctx context.Context, o wrkOptions, url string) (wrkResult, error) {
	args := []string{
		"-t" + strconv.Itoa(o.threads), "-c" + strconv.Itoa(o.conns),
		"-d" + strconv.Itoa(int(o.duration/time.Second)) + "s",
		"--timeout", strconv.Itoa(int(o.timeout/time.Second)) + "s", "--latency",
	}
	for _, h := range o.headers {
		args = append(args, "-H", h)
	}
	if o.script != "" {
		args = append(args, "-s", o.script)
	}
	args = append(args, url)
	if o.script != "" {
		args = append(append(args, "--"), o.scriptArgs...)
	}
	cmd := exec.CommandContext(ctx, "wrk", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{raw: string(out)}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	return parseWrk(string(out))
}

var (
	reRequests = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	reRPS      = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	rePct      = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s|m)\s*$`)
	reSock     = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func parseWrk(out string) (wrkResult, error) {
	r := wrkResult{raw: out}
	m := reRequests.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk: no request count in output:\n%s", out)
	}
	r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	if m = reRPS.FindStringSubmatch(out); m == nil {
		return r, fmt.Errorf("wrk: no Requests/sec in output:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	for _, p := range rePct.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(p[2], 64)
		d := scaleDuration(v, p[3])
		if p[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if r.p50 == 0 || r.p99 == 0 {
		return r, fmt.Errorf("wrk: no latency distribution in output:\n%s", out)
	}
	if m = reSock.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.sockErrors += n
		}
	}
	if m = reNon2xx.FindStringSubmatch(out); m != nil {
		r.non2xx3xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r, nil
}

func scaleDuration(v float64, unit string) time.Duration {
	switch unit {
	case "us":
		return time.Duration(v * float64(time.Microsecond))
	case "ms":
		return time.Duration(v * float64(time.Millisecond))
	case "s":
		return time.Duration(v * float64(time.Second))
	default: // "m"
		return time.Duration(v * float64(time.Minute))
	}
}

// wrkVersion is the first line of `wrk -v`, for the report.
func wrkVersion() string {
	out, _ := exec.Command("wrk", "-v").CombinedOutput()
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	if sc.Scan() {
		return strings.TrimSpace(sc.Text())
	}
	return "wrk"
}
