package jsonvalid

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

var cases = []string{
	``, ` `, `null`, `true`, `false`, `nul`, `nulll`, `tru`, `True`, `0`, `-0`, `01`, `-01`, `1.`, `1.5`,
	`.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-`, `--1`, `+1`, `1.5e3.2`, `12345678901234567890`,
	`""`, `"a"`, `"\""`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\u00e9"`, `"\u00E9"`, `"\u00g9"`, `"\u00e"`,
	`"\x"`, `"a` + "\x01" + `"`, "\"\xff\xfe\"", `"unterminated`, `"\`, `"\u`, `"\u12`,
	`[]`, `[ ]`, `[1]`, `[1,]`, `[,1]`, `[1 2]`, `[1,2]`, `[[[]]]`, `[[]`, `[]]`, `]`,
	`{}`, `{ }`, `{"a":1}`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{a:1}`, `{"a" : 1 , "b" : [true, {"c": null}]}`,
	`{"a":1}}`, `{"a":1`, `{1:2}`, `{"a":1 "b":2}`, " \t\r\n{} \t\r\n", `{} {}`, `1 2`, `"a" "b"`,
	`[1,{"a":[2,{"b":3}]},"x"]`, `{"":""}`, `[-1.5e-3, 0.0, -0]`, `[1e400]`, "[\"\u2028\"]",
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, c := range cases {
		if got, want := Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("Valid(%q) = %v, json.Valid says %v", c, got, want)
		}
	}
}

func TestDepthLimit(t *testing.T) {
	for _, n := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			close := map[string]string{"[": "]", `{"a":`: "}"}[open]
			s := strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
			if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
				t.Errorf("depth %d of %q: Valid = %v, json.Valid says %v", n, open, got, want)
			}
		}
	}
}

// TestCheckMatchesEncodingJSON: Check refuses what json.Valid refuses, and
// of the rest exactly what holds invalid UTF-8.
func TestCheckMatchesEncodingJSON(t *testing.T) {
	for _, c := range cases {
		got := Check([]byte(c), maxDepth)
		switch {
		case !json.Valid([]byte(c)):
			if got == OK {
				t.Errorf("Check(%q) = OK, json.Valid refuses it", c)
			}
		case !utf8.ValidString(c):
			if got != BadUTF8 {
				t.Errorf("Check(%q) = %v, want BadUTF8", c, got)
			}
		case got != OK:
			t.Errorf("Check(%q) = %v, want OK", c, got)
		}
	}
}

func TestCheckDepth(t *testing.T) {
	for _, limit := range []int{0, 1, 2, 5, 128, maxDepth} {
		for _, n := range []int{limit - 1, limit, limit + 1} {
			if n < 0 {
				continue
			}
			want := OK
			if n > limit {
				want = TooDeep
			}
			for _, open := range []string{"[", `{"a":`, "[1,", `{"a":1,"b":`} {
				close := map[string]string{"[": "]", `{"a":`: "}", "[1,": "]", `{"a":1,"b":`: "}"}[open]
				s := strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
				if got := Check([]byte(s), limit); got != want {
					t.Errorf("depth %d of %q under %d: Check = %v, want %v", n, open, limit, got, want)
				}
			}
		}
	}
	// Empty containers count too, and siblings do not add up.
	for s, want := range map[string]Problem{`[[]]`: OK, `[[[]]]`: TooDeep, `[{},[],[1]]`: OK, `[{},[],[[]]]`: TooDeep, `{"a":{"b":{}}}`: TooDeep, `[[1],[2],[3]]`: OK} {
		if got := Check([]byte(s), 2); got != want {
			t.Errorf("Check(%s, 2) = %v, want %v", s, got, want)
		}
	}
	// A limit above encoding/json's is encoding/json's.
	s := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	if got := Check([]byte(s), 2*maxDepth); got != TooDeep {
		t.Errorf("depth %d under %d: Check = %v, want TooDeep", maxDepth+1, 2*maxDepth, got)
	}
}

func TestCheckUTF8(t *testing.T) {
	for s, want := range map[string]Problem{
		`"plain"`:              OK,
		`"Zoë Ångström 日本語 🎉"`: OK,
		`"\u00e9\ud83c\udf89"`: OK, // escapes are ASCII
		`"\U0010FFFF"`:         Syntax,
		"\"\xf4\x8f\xbf\xbf\"": OK, // U+10FFFF
		"\"\xff\"":             BadUTF8,
		"\"caf\xe9\"":          BadUTF8, // Latin-1
		"\"\xc3\x28\"":         BadUTF8, // bad continuation
		"\"\xc3\"":             BadUTF8, // cut before the quote
		"\"\xc0\xaf\"":         BadUTF8, // overlong
		"\"\xe0\x80\xaf\"":     BadUTF8, // overlong
		"\"\xed\xa0\x80\"":     BadUTF8, // UTF-16 surrogate
		"\"\xf4\x90\x80\x80\"": BadUTF8, // past U+10FFFF
		"\"\xe2\x82\"":         BadUTF8, // truncated
		"\"\xe2\x82":           BadUTF8, // truncated at the end
		"\"\x80\"":             BadUTF8, // lone continuation
		"{\"\xfe\":1}":         BadUTF8, // in a key
		"[\"\\n\xff\"]":        BadUTF8, // after an escape
		"[\"a\",\"b\xffc\"]":   BadUTF8,
		"\xff":                 Syntax, // outside a string: not JSON at all
		"[1,\xc3\xa9]":         Syntax,
	} {
		if got := Check([]byte(s), maxDepth); got != want {
			t.Errorf("Check(%q) = %v, want %v", s, got, want)
		}
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, json.Valid says %v", s, got, want)
		}
	}
}

// TestCheckUTF8MatchesUnicodeUTF8: every lead byte, with every second
// byte and the boundary values of the ranges as third and fourth bytes,
// is accepted in a string exactly when utf8.Valid accepts it.
func TestCheckUTF8MatchesUnicodeUTF8(t *testing.T) {
	edges := []byte{'a', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff}
	buf := make([]byte, 0, 8)
	for b0 := 0x80; b0 <= 0xff; b0++ {
		for b1 := 0x20; b1 <= 0xff; b1++ {
			if b1 == '"' || b1 == '\\' {
				continue
			}
			for _, b2 := range edges {
				for _, b3 := range edges {
					for _, n := range []int{1, 2, 3, 4} {
						seq := []byte{byte(b0), byte(b1), b2, b3}[:n]
						buf = append(append(append(buf[:0], '"'), seq...), '"')
						want := OK
						if !utf8.Valid(seq) {
							want = BadUTF8
						}
						if got := Check(buf, 1); got != want {
							t.Fatalf("Check(%q) = %v, want %v", buf, got, want)
						}
					}
				}
			}
		}
	}
}

// refDepth is how deep arrays and objects nest in valid JSON, by
// encoding/json's tokens.
func refDepth(t *testing.T, data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return deepest
		}
		if err != nil {
			t.Fatalf("json.Valid accepts %q, the decoder says %v", data, err)
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
			deepest = max(deepest, depth)
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
}

// FuzzCheck: Check accepts exactly what json.Valid accepts that is UTF-8
// and nested at most as deep as the limit.
func FuzzCheck(f *testing.F) {
	for _, c := range cases {
		f.Add([]byte(c), uint8(3))
	}
	f.Add([]byte("[[\"\xff\"]]"), uint8(1))
	f.Add([]byte(`{"a":[{"b":[]}]}`), uint8(3))
	f.Add([]byte(`["Zoë Ångström","日本語のテキスト","🎉",{"clé":"ß"}]`), uint8(2))
	f.Add([]byte("[\"a\xc3\",\"\xe6\x97\",\"\xf0\x9f\x8e\"]"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, limit uint8) {
		got := Check(data, int(limit))
		if !json.Valid(data) {
			if got == OK {
				t.Fatalf("Check(%q) = OK, json.Valid refuses it", data)
			}
			return
		}
		want := OK
		switch {
		case !utf8.Valid(data):
			want = BadUTF8
		case refDepth(t, data) > int(limit):
			want = TooDeep
		}
		// Both problems: either may be found first.
		if got != want && !(want == BadUTF8 && got == TooDeep && refDepth(t, data) > int(limit)) {
			t.Fatalf("Check(%q, %d) = %v, want %v", data, limit, got, want)
		}
	})
}

func FuzzValid(f *testing.F) {
	for _, c := range cases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := Valid(data), json.Valid(data); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", data, got, want)
		}
	})
}

var sample = []byte(`{"contactId":12345,"name":"Ada Lovelace","email":"ada@example.com","tags":["vip","beta"],` +
	`"address":{"street":"12 Analytical Way","city":"London","zip":null},"score":-1.25e2,"active":true,` +
	`"notes":"` + strings.Repeat(`Plain text with \"quotes\" and \u00e9 escapes. `, 16) + `"}`)

func BenchmarkValid(b *testing.B) {
	b.SetBytes(int64(len(sample)))
	b.ReportAllocs()
	for b.Loop() {
		if !Valid(sample) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkEncodingJSONValid(b *testing.B) {
	b.SetBytes(int64(len(sample)))
	b.ReportAllocs()
	for b.Loop() {
		if !json.Valid(sample) {
			b.Fatal("invalid")
		}
	}
}

var sampleNonASCII = []byte(`{"name":"Zoë Ångström","city":"Zürich","note":"` + strings.Repeat(`Grüße aus Köln, 日本語のテキスト, emoji 🎉. `, 16) + `"}`)

func BenchmarkValidNonASCII(b *testing.B) {
	b.SetBytes(int64(len(sampleNonASCII)))
	b.ReportAllocs()
	for b.Loop() {
		if !Valid(sampleNonASCII) {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkCheck is what Dispatch runs on Event.Data: Valid's checks, the
// depth limit and UTF-8.
func BenchmarkCheck(b *testing.B) {
	for _, bc := range []struct {
		name string
		data []byte
	}{{"ascii", sample}, {"non-ascii", sampleNonASCII}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			for b.Loop() {
				if Check(bc.data, 128) != OK {
					b.Fatal("refused")
				}
			}
		})
	}
}
