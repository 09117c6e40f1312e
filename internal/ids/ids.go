// Package ids makes time-sortable random identifiers.
//
// An ID is a prefix and 26 Crockford base32 characters: 48 bits of Unix
// milliseconds, then 80 bits that are random for the first ID of a
// millisecond and counted up from there for the next ones made with the
// same millisecond (as ULID's monotonic mode does). So IDs made one after
// the other sort in that order, within a millisecond too, and making many
// of them reads crypto/rand at most once per millisecond.
package ids

import (
	"crypto/rand"
	"strings"
	"sync"
	"time"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Len is the length of an ID without its prefix.
const Len = 26

// gen holds the process-wide sequences of the last few milliseconds IDs
// were made for: each slot the millisecond and its next 80-bit value (hi
// holds the top 16). Several slots, so that callers whose clocks differ
// (a dispatcher on a test's fake clock beside one on the system clock, or
// two goroutines either side of a millisecond's end) each keep counting
// up within their millisecond instead of starting over at random, which
// could sort a later ID before an earlier one.
var gen struct {
	sync.Mutex
	slots [genSlots]genSlot
	next  int // the slot to reuse for a new millisecond
}

const genSlots = 4

type genSlot struct {
	ms     uint64
	hi     uint16
	lo     uint64
	seeded bool
}

// reserve returns the millisecond and the first of n consecutive 80-bit
// values for IDs made at t, and advances the sequence past them.
func reserve(t time.Time, n int) (ms uint64, hi uint16, lo uint64) {
	ms = uint64(t.UnixMilli()) & (1<<48 - 1)
	gen.Lock()
	defer gen.Unlock()
	var g *genSlot
	for i := range gen.slots {
		if s := &gen.slots[i]; s.seeded && s.ms == ms {
			g = s
			break
		}
	}
	if g == nil {
		// A new millisecond: fresh randomness, in the slot used least
		// recently. The top bit is cleared so that counting up from it
		// cannot overflow in practice (2^79 IDs).
		g = &gen.slots[gen.next]
		gen.next = (gen.next + 1) % genSlots
		var raw [10]byte
		if _, err := rand.Read(raw[:]); err != nil {
			panic("ids: crypto/rand failed: " + err.Error())
		}
		g.ms, g.seeded = ms, true
		g.hi = (uint16(raw[0])<<8 | uint16(raw[1])) &^ (1 << 15)
		g.lo = uint64(raw[2])<<56 | uint64(raw[3])<<48 | uint64(raw[4])<<40 | uint64(raw[5])<<32 |
			uint64(raw[6])<<24 | uint64(raw[7])<<16 | uint64(raw[8])<<8 | uint64(raw[9])
	}
	hi, lo = g.hi, g.lo
	next := g.lo + uint64(n)
	if next < g.lo {
		g.hi++
	}
	g.lo = next
	return ms, hi, lo
}

// New returns prefix followed by 26 Crockford base32 characters: 48 bits of
// t in Unix milliseconds, then 80 bits, random or counted up from the
// previous ID of the same millisecond. IDs made later sort after IDs made
// earlier, as long as the times given do not go back.
func New(prefix string, t time.Time) string {
	ms, hi, lo := reserve(t, 1)
	buf := make([]byte, len(prefix)+Len)
	n := copy(buf, prefix)
	encode(buf[n:], ms, hi, lo)
	return string(buf)
}

// Fill sets each element of dst to a new ID with the prefix, made at t, in
// increasing order, as len(dst) calls of New would; it reads crypto/rand at
// most once, and allocates the IDs' text in one block.
func Fill(dst []string, prefix string, t time.Time) {
	if len(dst) == 0 {
		return
	}
	ms, hi, lo := reserve(t, len(dst))
	size := len(prefix) + Len
	var b strings.Builder
	b.Grow(size * len(dst))
	var buf [64 + Len]byte
	var id []byte
	if size <= len(buf) {
		id = buf[:size]
	} else {
		id = make([]byte, size)
	}
	copy(id, prefix)
	digits := id[len(prefix):]
	encode(digits, ms, hi, lo)
	for i := range dst {
		if i > 0 {
			increment(digits)
		}
		b.Write(id)
	}
	all := b.String()
	for i := range dst {
		dst[i] = all[i*size : (i+1)*size]
	}
}

// increment adds one to the base32 number in digits. The 80 bits after
// the timestamp never overflow (see reserve), so neither does it.
func increment(digits []byte) {
	for i := len(digits) - 1; i >= 0; i-- {
		if v := decode[digits[i]] + 1; v < 32 {
			digits[i] = crockford[v]
			return
		}
		digits[i] = crockford[0]
	}
}

// decode maps a Crockford base32 digit to its value.
var decode = func() (t [256]byte) {
	for i := range len(crockford) {
		t[crockford[i]] = byte(i)
	}
	return t
}()

// encode writes the 128 bits ms (48), hi (16), lo (64) as 26 base32
// digits (the first holds 3 bits) to dst.
func encode(dst []byte, ms uint64, hi16 uint16, lo uint64) {
	hi := ms<<16 | uint64(hi16)
	for i := Len - 1; i >= 0; i-- {
		dst[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
}
