package benchmarks

import (
	"syscall"
	"testing"
	"time"
)

// cpuClock measures the process's CPU time (user + system, all threads: GC included) over a benchmark loop and
// reports it per operation as "cpu-ns/op". On a shared, busy machine wall-clock ns/op grows with the other load;
// CPU time much less.
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{start: processCPU()} }

func (c cpuClock) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-c.start)/float64(b.N), "cpu-ns/op")
	}
}
