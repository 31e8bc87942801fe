// Package procstat reads what the process has used so far, for benchmarks
// that report figures independent of what else the machine runs.
package procstat

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time the process has used, user and system; zero if
// the system cannot say.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
