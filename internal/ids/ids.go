// Package ids makes time-sortable random identifiers.
package ids

import (
	"crypto/rand"
	"time"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// New returns prefix followed by 26 Crockford base32 characters: 48 bits of
// t in Unix milliseconds, then 80 random bits. IDs made later sort after
// IDs made earlier (to the millisecond).
func New(prefix string, t time.Time) string {
	var raw [16]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		raw[i] = byte(ms)
		ms >>= 8
	}
	if _, err := rand.Read(raw[6:]); err != nil {
		panic("ids: crypto/rand failed: " + err.Error())
	}
	buf := make([]byte, len(prefix)+26)
	n := copy(buf, prefix)
	// 128 bits as 26 base32 digits (the first holds 3 bits).
	hi := uint64(raw[0])<<56 | uint64(raw[1])<<48 | uint64(raw[2])<<40 | uint64(raw[3])<<32 |
		uint64(raw[4])<<24 | uint64(raw[5])<<16 | uint64(raw[6])<<8 | uint64(raw[7])
	lo := uint64(raw[8])<<56 | uint64(raw[9])<<48 | uint64(raw[10])<<40 | uint64(raw[11])<<32 |
		uint64(raw[12])<<24 | uint64(raw[13])<<16 | uint64(raw[14])<<8 | uint64(raw[15])
	for i := 25; i >= 0; i-- {
		buf[n+i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(buf)
}
