//go:build !linux

package main

// minorFaults is not measured on this system.
func minorFaults() int64 { return 0 }
