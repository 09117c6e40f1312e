//go:build unix

// Package proccpu reads the CPU time the process has used, for the
// benchmarks and load programs: on a shared machine it says more about
// their cost than the wall clock does.
package proccpu

import (
	"syscall"
	"time"
)

// Used returns the CPU time (user and system) the process has used, on
// every thread.
func Used() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
