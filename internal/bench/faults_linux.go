package main

import (
	"os"
	"strconv"
	"strings"
)

// minorFaults returns how many minor page faults the process has taken:
// first touches of memory the heap grew into.
func minorFaults() int64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 8 {
		return 0
	}
	n, _ := strconv.ParseInt(f[7], 10, 64) // minflt, the 10th field of stat
	return n
}
