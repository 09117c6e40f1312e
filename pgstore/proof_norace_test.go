//go:build !race

package pgstore

// proofRace tells the proofs that the race detector slows everything down.
const proofRace = false
