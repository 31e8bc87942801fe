package graph

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling OS thread has used, so a
// benchmark on a busy machine can report work apart from waiting.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
