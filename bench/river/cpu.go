package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of /proc's CPU counters (USER_HZ), 10 ms on every
// Linux system Go supports.
const clockTick = 10 * time.Millisecond

// cpuSample is the CPU time used so far: by the whole machine (every
// process, other work on a shared machine included), by this program, and
// by the PostgreSQL server when it runs on this machine and its postmaster
// is known (its live processes plus those it reaped).
type cpuSample struct {
	machine, program, postgres time.Duration
	postgresKnown              bool
}

// sampleCPU reads the counters; postmaster is the server's postmaster PID,
// 0 if unknown.
func sampleCPU(postmaster int) cpuSample {
	s := cpuSample{machine: machineBusy(), program: programCPU()}
	if postmaster > 0 {
		s.postgres, s.postgresKnown = treeCPU(postmaster)
	}
	return s
}

// sub returns the CPU used between the earlier sample b and s.
func (s cpuSample) sub(b cpuSample) cpuSample {
	return cpuSample{machine: s.machine - b.machine, program: s.program - b.program,
		postgres: s.postgres - b.postgres, postgresKnown: s.postgresKnown && b.postgresKnown}
}

// machineBusy returns the busy time of all CPUs from /proc/stat's first
// line: user, nice, system, irq, softirq and steal (idle and iowait
// excluded); 0 where there is no /proc.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system [idle iowait] irq softirq steal
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * clockTick
}

// programCPU returns this process's user and system CPU time.
func programCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStat returns the fields of /proc/PID/stat after the command name
// (field 3, the state, is f[0]).
func procStat(pid string) []string {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// treeCPU returns the CPU time of the postmaster, of the children it has
// reaped (cutime, cstime) and of its live children: the whole server's,
// however many backends came and went.
func treeCPU(postmaster int) (time.Duration, bool) {
	pm := strconv.Itoa(postmaster)
	f := procStat(pm)
	if len(f) < 15 {
		return 0, false
	}
	ticks := func(f []string, idx ...int) int64 {
		var t int64
		for _, i := range idx {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			t += n
		}
		return t
	}
	// Fields 14-17 (utime, stime, cutime, cstime) are f[11..14].
	total := ticks(f, 11, 12, 13, 14)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		cf := procStat(e.Name())
		if len(cf) < 15 || cf[1] != pm { // field 4, the parent
			continue
		}
		total += ticks(cf, 11, 12)
	}
	return time.Duration(total) * clockTick, true
}
