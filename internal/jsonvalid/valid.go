// Package jsonvalid checks that bytes are one JSON value, exactly as
// encoding/json.Valid does, several times faster: without a state machine
// called per byte, and skipping the plain bytes of strings in a tight loop.
// Check does it with two more checks in the same pass: a depth limit and
// UTF-8.
package jsonvalid

import "unicode/utf8"

// maxDepth is encoding/json's limit on nested arrays and objects: a
// deeper value is not valid.
const maxDepth = 10000

// Valid reports whether data is a valid JSON encoding, as json.Valid does:
// one value with optional surrounding whitespace. Like json.Valid, it
// does not check that strings are valid UTF-8.
func Valid(data []byte) bool {
	v := validator{data: data, class: &stringClass, maxDepth: maxDepth}
	i, ok := v.value(v.space(0))
	return ok && v.space(i) == len(data)
}

// Problem is what Check found wrong with a JSON text.
type Problem uint8

const (
	// OK: nothing wrong.
	OK Problem = iota
	// Syntax: not a valid JSON encoding, as json.Valid says.
	Syntax
	// TooDeep: arrays and objects nest deeper than the limit.
	TooDeep
	// BadUTF8: a string (or object key) is not valid UTF-8, which RFC
	// 8259 requires of JSON text exchanged between systems.
	BadUTF8
)

var problemNames = [...]string{OK: "OK", Syntax: "Syntax", TooDeep: "TooDeep", BadUTF8: "BadUTF8"}

func (p Problem) String() string {
	if int(p) < len(problemNames) {
		return problemNames[p]
	}
	return "Problem(?)"
}

// Check reports the first problem it finds in data, in one pass: what
// Valid refuses, arrays and objects nested more than depth deep (`[[1]]`
// is 2 deep; a depth above encoding/json's 10000 is 10000), and strings
// that are not valid UTF-8.
func Check(data []byte, depth int) Problem {
	v := validator{data: data, class: &strictClass, maxDepth: min(max(depth, 0), maxDepth)}
	i, ok := v.value(v.space(0))
	switch {
	case ok && v.space(i) == len(data):
		return OK
	case v.problem != OK:
		return v.problem
	}
	return Syntax
}

type validator struct {
	data []byte
	// class classifies the bytes of strings: stringClass takes the bytes
	// of multi-byte characters as they are, strictClass checks them.
	class    *[256]uint8
	maxDepth int
	// problem is why the value was refused, when not Syntax.
	problem Problem
}

// kind of byte, for the loops.
const (
	plain = iota // a byte a string may hold as is
	quote
	backslash
	control
	multibyte // the first byte of a multi-byte UTF-8 sequence, or not UTF-8
)

var stringClass = func() (t [256]uint8) {
	for c := range 0x20 {
		t[c] = control
	}
	t['"'] = quote
	t['\\'] = backslash
	return t
}()

// utf8Lead says, of the first byte of a multi-byte UTF-8 sequence, how long
// the sequence is and the range of its second byte (the rest are
// 0x80-0xbf); size 0 for a byte that cannot start one. These are the
// ranges of RFC 3629 that unicode/utf8 accepts.
var utf8Lead = func() (t [256]struct{ size, lo, hi uint8 }) {
	set := func(from, to, size, lo, hi uint8) {
		for c := int(from); c <= int(to); c++ {
			t[c].size, t[c].lo, t[c].hi = size, lo, hi
		}
	}
	set(0xc2, 0xdf, 2, 0x80, 0xbf)
	set(0xe0, 0xe0, 3, 0xa0, 0xbf) // no overlong forms
	set(0xe1, 0xec, 3, 0x80, 0xbf)
	set(0xed, 0xed, 3, 0x80, 0x9f) // no surrogates
	set(0xee, 0xef, 3, 0x80, 0xbf)
	set(0xf0, 0xf0, 4, 0x90, 0xbf) // no overlong forms
	set(0xf1, 0xf3, 4, 0x80, 0xbf)
	set(0xf4, 0xf4, 4, 0x80, 0x8f) // nothing past U+10FFFF
	return t
}()

var strictClass = func() (t [256]uint8) {
	t = stringClass
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = multibyte
	}
	return t
}()

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// space returns the index of the first non-space byte from i.
func (v *validator) space(i int) int {
	for i < len(v.data) && isSpace(v.data[i]) {
		i++
	}
	return i
}

// value checks the value at i (which is not a space) and what follows it
// up to the end of the outermost container it opens, and returns the index
// after it.
func (v *validator) value(i int) (int, bool) {
	d := v.data
	// stack holds, per open container, '[' or '{'.
	var buf [64]byte
	stack := buf[:0]
	for {
		// A value at i.
		if i >= len(d) {
			return i, false
		}
		switch c := d[i]; {
		case c == '"':
			var ok bool
			if i, ok = v.str(i + 1); !ok {
				return i, false
			}
		case c == '{' || c == '[':
			if len(stack) == v.maxDepth {
				v.problem = TooDeep
				return i, false
			}
			stack = append(stack, c)
			i = v.space(i + 1)
			if i < len(d) && d[i] == c+2 { // '}' or ']': empty
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				var ok bool
				if i, ok = v.key(i); !ok {
					return i, false
				}
			}
			continue // its first value
		case c == '-' || (c >= '0' && c <= '9'):
			var ok bool
			if i, ok = v.number(i); !ok {
				return i, false
			}
		case c == 't':
			if !v.literal(i, "true") {
				return i, false
			}
			i += 4
		case c == 'f':
			if !v.literal(i, "false") {
				return i, false
			}
			i += 5
		case c == 'n':
			if !v.literal(i, "null") {
				return i, false
			}
			i += 4
		default:
			return i, false
		}
		// After a value: close containers, or go on to the next element.
		for {
			if len(stack) == 0 {
				return i, true
			}
			i = v.space(i)
			if i >= len(d) {
				return i, false
			}
			top := stack[len(stack)-1]
			c := d[i]
			if c == top+2 {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if c != ',' {
				return i, false
			}
			i = v.space(i + 1)
			if top == '{' {
				var ok bool
				if i, ok = v.key(i); !ok {
					return i, false
				}
			}
			break
		}
	}
}

// key checks `"name" :` and spaces at i, returning the index of the value
// after it.
func (v *validator) key(i int) (int, bool) {
	d := v.data
	if i >= len(d) || d[i] != '"' {
		return i, false
	}
	i, ok := v.str(i + 1)
	if !ok {
		return i, false
	}
	i = v.space(i)
	if i >= len(d) || d[i] != ':' {
		return i, false
	}
	return v.space(i + 1), true
}

// str checks the rest of a string whose opening quote is before i, and
// returns the index after its closing quote.
func (v *validator) str(i int) (int, bool) {
	d := v.data
	class := v.class
	for {
		for i < len(d) && class[d[i]] == plain {
			i++
		}
		if i >= len(d) {
			return i, false
		}
		switch class[d[i]] {
		case quote:
			return i + 1, true
		case control:
			return i, false
		case multibyte:
			// One character, or the run of them: each checked as
			// unicode/utf8 does (no overlong forms, surrogates or code
			// points past U+10FFFF), in place.
			for {
				l := utf8Lead[d[i]]
				n := int(l.size)
				if n == 0 || len(d)-i < n || d[i+1] < l.lo || d[i+1] > l.hi ||
					(n > 2 && d[i+2]&0xc0 != 0x80) || (n > 3 && d[i+3]&0xc0 != 0x80) {
					v.problem = BadUTF8
					return i, false
				}
				i += n
				if i >= len(d) || d[i] < utf8.RuneSelf {
					break
				}
			}
			continue
		}
		// A backslash.
		i++
		if i >= len(d) {
			return i, false
		}
		switch d[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i++
		case 'u':
			if i+4 >= len(d) {
				return i, false
			}
			for _, h := range d[i+1 : i+5] {
				if !isHex(h) {
					return i, false
				}
			}
			i += 5
		default:
			return i, false
		}
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number checks the number at i and returns the index after it.
func (v *validator) number(i int) (int, bool) {
	d := v.data
	if d[i] == '-' {
		i++
	}
	switch {
	case i >= len(d):
		return i, false
	case d[i] == '0':
		i++
	case isDigit(d[i]):
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return i, false
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return i, false
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	return i, true
}

// literal reports whether the data at i starts with lit.
func (v *validator) literal(i int, lit string) bool {
	return len(v.data)-i >= len(lit) && string(v.data[i:i+len(lit)]) == lit
}
