package jsonvalid

import (
	"encoding/json"
	"strings"
	"testing"
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
