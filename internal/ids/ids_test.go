package ids

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewSortsWithinAMillisecond(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000)
	var got []string
	for range 1000 {
		got = append(got, New("dlv_", at))
	}
	if !slices.IsSorted(got) {
		t.Fatal("IDs of one millisecond are not in the order they were made")
	}
	if len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Fatal("duplicate IDs")
	}
	later := New("dlv_", at.Add(time.Millisecond))
	if later <= got[len(got)-1] {
		t.Fatalf("%s made a millisecond later sorts before %s", later, got[len(got)-1])
	}
}

func TestFillContinuesTheSequence(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_001)
	first := New("evt_", at)
	batch := make([]string, 300)
	Fill(batch, "evt_", at)
	last := New("evt_", at)
	all := append(append([]string{first}, batch...), last)
	if !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != len(all) {
		t.Fatal("Fill does not continue the sequence of New in order")
	}
	for _, id := range all {
		if len(id) != len("evt_")+Len || !strings.HasPrefix(id, "evt_") {
			t.Fatalf("malformed ID %q", id)
		}
		for _, c := range id[len("evt_"):] {
			if !strings.ContainsRune(crockford, c) {
				t.Fatalf("ID %q has %q, not Crockford base32", id, c)
			}
		}
	}
	// The timestamp is readable from the first 10 characters.
	if New("", at)[:10] != New("", at)[:10] || New("", at)[:10] == New("", at.Add(time.Hour))[:10] {
		t.Fatal("the first 10 characters do not carry the millisecond")
	}
}

func TestEncodeMatchesTheBitLayout(t *testing.T) {
	// 48 bits of milliseconds, then 80: all ones gives the largest ID.
	buf := make([]byte, Len)
	encode(buf, 1<<48-1, 0xffff, 1<<64-1)
	if string(buf) != "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" {
		t.Fatalf("got %s", buf)
	}
	encode(buf, 1, 0, 0)
	if string(buf) != "00000000010000000000000000" {
		t.Fatalf("got %s", buf)
	}
}

func TestConcurrentIDsAreUnique(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_002)
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]string, 50)
			for range 20 {
				Fill(batch, "dlv_", at)
				id := New("dlv_", at)
				mu.Lock()
				for _, x := range append(batch, id) {
					if seen[x] {
						t.Errorf("duplicate %s", x)
					}
					seen[x] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	now := time.Now()
	for b.Loop() {
		_ = New("dlv_", now)
	}
}

func BenchmarkFill(b *testing.B) {
	for _, n := range []int{10, 10_000} {
		b.Run(map[int]string{10: "10", 10_000: "10000"}[n], func(b *testing.B) {
			dst := make([]string, n)
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				Fill(dst, "dlv_", now)
			}
		})
	}
}

// TestMonotonicAcrossInterleavedClocks: IDs made for one millisecond keep
// sorting in the order they were made while IDs for other milliseconds
// (another clock) are made in between.
func TestMonotonicAcrossInterleavedClocks(t *testing.T) {
	fake := time.Date(2026, 1, 24, 9, 42, 59, 0, time.UTC)
	real := time.Now()
	var prev string
	for i := range 1000 {
		id := New("dlv_", fake)
		if i > 0 && id <= prev {
			t.Fatalf("ID %d %s does not sort after %s", i, id, prev)
		}
		prev = id
		_ = New("dlv_", real)
		_ = New("dlv_", real.Add(-time.Millisecond))
	}
}
