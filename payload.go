package webhook

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// FormatEnvelope names the default body format, the Envelope:
//
//	{"eventTrigger":"contact.created",
//	 "eventTimestamp":"2017-01-24T03:42:59.000-06:00",
//	 "organizationId":"org_1",
//	 "data":{...},
//	 "customParameters":{"name":"value"},
//	 ...the subscription's Properties, sorted by key}
//
// The keys come in this order, customParameters is {} when the
// subscription has none, and Properties never replace a standard key: one
// named like a standard key, in any case, is left out.
const FormatEnvelope = "envelope"

// TimestampLayout is the layout of the Envelope's eventTimestamp:
// milliseconds and the zone offset of the event's Timestamp.
const TimestampLayout = "2006-01-02T15:04:05.000-07:00"

// envelopeKeys are the standard keys of the Envelope.
var envelopeKeys = map[string]bool{
	"eventTrigger": true, "eventTimestamp": true, "organizationId": true,
	"data": true, "customParameters": true,
}

// isEnvelopeKey reports whether a Property named k could replace a standard
// key of the Envelope. The comparison ignores case because decoders such as
// encoding/json match object keys to fields case-insensitively: a later
// "Data" key would overwrite "data" in a Go receiver's struct.
func isEnvelopeKey(k string) bool {
	for std := range envelopeKeys {
		if strings.EqualFold(k, std) {
			return true
		}
	}
	return false
}

// Format renders the JSON body of an event for a subscription. The
// dispatcher wraps the result in a form field when the subscription's
// ContentType is ContentTypeForm. Register formats by name in
// Config.Formats; a subscription selects one by its Format field.
//
// A Format must be safe for concurrent use and must not keep or modify ev
// or sub.
type Format interface {
	// AppendJSON appends the body to dst and returns the extended slice.
	AppendJSON(dst []byte, ev *Event, sub *Subscription) ([]byte, error)
}

// FormatFunc adapts a function to a Format.
type FormatFunc func(dst []byte, ev *Event, sub *Subscription) ([]byte, error)

// AppendJSON calls f.
func (f FormatFunc) AppendJSON(dst []byte, ev *Event, sub *Subscription) ([]byte, error) {
	return f(dst, ev, sub)
}

// Envelope is the default Format; see FormatEnvelope.
var Envelope Format = FormatFunc(appendEnvelope)

func appendEnvelope(dst []byte, ev *Event, sub *Subscription) ([]byte, error) {
	dst = append(dst, `{"eventTrigger":`...)
	dst = AppendJSONString(dst, ev.Type)
	dst = append(dst, `,"eventTimestamp":"`...)
	dst = appendTimestamp(dst, ev.Timestamp)
	dst = append(dst, `","organizationId":`...)
	dst = AppendJSONString(dst, ev.OrganizationID)
	dst = append(dst, `,"data":`...)
	if len(ev.Data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, ev.Data...)
	}
	dst = append(dst, `,"customParameters":`...)
	dst = appendStringMap(dst, sub.CustomParameters)
	if len(sub.Properties) > 0 {
		for _, k := range sortedKeys(sub.Properties) {
			if isEnvelopeKey(k) {
				continue
			}
			dst = append(dst, ',')
			dst = AppendJSONString(dst, k)
			dst = append(dst, ':')
			dst = AppendJSONString(dst, sub.Properties[k])
		}
	}
	return append(dst, '}'), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendStringMap appends m as a JSON object with sorted keys.
func appendStringMap(dst []byte, m map[string]string) []byte {
	dst = append(dst, '{')
	if len(m) > 0 {
		for i, k := range sortedKeys(m) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, k)
			dst = append(dst, ':')
			dst = AppendJSONString(dst, m[k])
		}
	}
	return append(dst, '}')
}

// AppendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it without HTML escaping; invalid UTF-8 becomes U+FFFD.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendBody renders the body of an event for a subscription with format f,
// wrapped per the subscription's ContentType, and returns it with the
// Content-Type header to send.
func AppendBody(dst []byte, f Format, ev *Event, sub *Subscription) (body []byte, contentType string, err error) {
	if sub.ContentType != ContentTypeForm {
		body, err = f.AppendJSON(dst, ev, sub)
		return body, ContentTypeJSON, err
	}
	start := len(dst)
	js, err := f.AppendJSON(dst, ev, sub)
	if err != nil {
		return dst, "", err
	}
	enc := url.QueryEscape(string(js[start:]))
	body = append(append(js[:start], "payload="...), enc...)
	return body, ContentTypeForm, nil
}

// formatUnix is the webhook-timestamp value of t.
func formatUnix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// appendTimestamp appends t in TimestampLayout, byte for byte as
// t.AppendFormat(dst, TimestampLayout) does, without interpreting the
// layout: once per attempt, that was a tenth of the envelope's cost.
// Years outside 0 to 9999 and offsets of 100 hours or more go through
// AppendFormat.
func appendTimestamp(dst []byte, t time.Time) []byte {
	_, offset := t.Zone()
	// As the layout's -07:00: whole minutes of the offset, truncated
	// toward zero, the sign "+" for a zero offset.
	zone := offset / 60
	sign := byte('+')
	if zone < 0 {
		sign, zone = '-', -zone
	}
	zh, zm := zone/60, zone%60
	// The wall clock in t's zone, read in UTC: one zone lookup, not three.
	u := t.Add(time.Duration(offset) * time.Second).UTC()
	year, month, day := u.Date()
	if year < 0 || year > 9999 || zh > 99 {
		return t.AppendFormat(dst, TimestampLayout)
	}
	hour, minute, sec := u.Clock()
	ms := u.Nanosecond() / 1e6
	return append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10),
		sign, byte('0'+zh/10), byte('0'+zh%10), ':', byte('0'+zm/10), byte('0'+zm%10))
}
