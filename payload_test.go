package webhook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// neonZone is NeonCRM's example offset, -06:00.
var neonZone = time.FixedZone("CST", -6*60*60)

func envelopeJSON(t *testing.T, ev *webhook.Event, sub *webhook.Subscription) string {
	t.Helper()
	b, err := webhook.Envelope.AppendJSON(nil, ev, sub)
	require.NoError(t, err)
	return string(b)
}

func TestEnvelopeBytes(t *testing.T) {
	t.Parallel()
	ev := &webhook.Event{
		ID:             "evt_1",
		Type:           "contact.created",
		OrganizationID: "org_42",
		Timestamp:      time.Date(2017, 1, 24, 3, 42, 59, 0, neonZone),
		Data:           json.RawMessage(`{"accountId":"123","name":"Ada \"The Countess\" Lovelace"}`),
	}
	sub := &webhook.Subscription{
		CustomParameters: map[string]string{"source": "crm", "region": "us-east", "a b": "<&>"},
		Properties:       map[string]string{"zeta": "last", "alpha": "first", "tenant": "acme"},
	}
	const want = `{"eventTrigger":"contact.created",` +
		`"eventTimestamp":"2017-01-24T03:42:59.000-06:00",` +
		`"organizationId":"org_42",` +
		`"data":{"accountId":"123","name":"Ada \"The Countess\" Lovelace"},` +
		`"customParameters":{"a b":"<&>","region":"us-east","source":"crm"},` +
		`"alpha":"first","tenant":"acme","zeta":"last"}`
	require.Equal(t, want, envelopeJSON(t, ev, sub))
	require.True(t, json.Valid([]byte(want)))

	// The same through AppendBody, for a JSON subscription and by default.
	for _, ct := range []string{"", webhook.ContentTypeJSON} {
		sub.ContentType = ct
		body, contentType, err := webhook.AppendBody(nil, webhook.Envelope, ev, sub)
		require.NoError(t, err)
		require.Equal(t, webhook.ContentTypeJSON, contentType)
		require.Equal(t, want, string(body))
	}

	// Rendering twice gives the same bytes: map order does not leak in.
	for range 20 {
		require.Equal(t, want, envelopeJSON(t, ev, sub))
	}
}

func TestEnvelopeTimestamp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ts   time.Time
		want string
	}{
		{time.Date(2017, 1, 24, 3, 42, 59, 0, neonZone), "2017-01-24T03:42:59.000-06:00"},
		// Milliseconds are kept, finer digits cut (not rounded).
		{time.Date(2017, 1, 24, 3, 42, 59, 123_999_999, neonZone), "2017-01-24T03:42:59.123-06:00"},
		{time.Date(2017, 1, 24, 3, 42, 59, 7_000_000, neonZone), "2017-01-24T03:42:59.007-06:00"},
		// UTC is written as an offset, not "Z".
		{time.Date(2024, 2, 29, 23, 59, 59, 999_000_000, time.UTC), "2024-02-29T23:59:59.999+00:00"},
		{time.Date(2024, 6, 1, 12, 0, 0, 0, time.FixedZone("IST", 5*3600+1800)), "2024-06-01T12:00:00.000+05:30"},
	}
	for _, tt := range tests {
		got := envelopeJSON(t, &webhook.Event{Type: "x", OrganizationID: "o", Timestamp: tt.ts}, &webhook.Subscription{})
		require.Contains(t, got, `"eventTimestamp":"`+tt.want+`"`)
		require.Equal(t, tt.want, tt.ts.Format(webhook.TimestampLayout))
	}
}

// TestEnvelopeTimestampAsFormat checks the envelope's eventTimestamp
// against time.Format with TimestampLayout over zones with odd offsets
// (seconds in them, negative, zero, Local), the ends of the years with
// four digits and beyond them, leap days and millisecond edges.
func TestEnvelopeTimestampAsFormat(t *testing.T) {
	t.Parallel()
	zones := []*time.Location{
		time.UTC, time.Local, neonZone,
		time.FixedZone("N", -(3*3600 + 30*60)), // -03:30
		time.FixedZone("S", -3601),             // -01:00:01: seconds truncated
		time.FixedZone("P", 59),                // +00:00:59
		time.FixedZone("Q", -59),               // -00:00:59, written +00:00
		time.FixedZone("K", 14*3600),
		time.FixedZone("F", 101*3600), // beyond two digits of hours
	}
	times := []time.Time{
		time.Date(2017, 1, 24, 3, 42, 59, 123_999_999, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2000, 12, 31, 23, 59, 59, 1_000_000, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 12, 0, 0, 0, time.UTC),
		time.Unix(0, 0),
		{},
		time.Now(),
	}
	for i := range 200 {
		times = append(times, time.Unix(int64(i)*7_919_993_311, int64(i)*4_999_999))
	}
	for _, zone := range zones {
		for _, ts := range times {
			ts := ts.In(zone)
			got := envelopeJSON(t, &webhook.Event{Type: "x", OrganizationID: "o", Timestamp: ts}, &webhook.Subscription{})
			want := `"eventTimestamp":"` + ts.Format(webhook.TimestampLayout) + `"`
			if !strings.Contains(got, want) {
				t.Fatalf("%v in %v: %s, want %s", ts, zone, got, want)
			}
		}
	}
}

func TestEnvelopeDefaults(t *testing.T) {
	t.Parallel()
	ts := time.Date(2017, 1, 24, 3, 42, 59, 0, neonZone)
	const want = `{"eventTrigger":"deal.deleted","eventTimestamp":"2017-01-24T03:42:59.000-06:00",` +
		`"organizationId":"o","data":null,"customParameters":{}}`
	for name, data := range map[string]json.RawMessage{"nil": nil, "empty": {}} {
		for subName, sub := range map[string]*webhook.Subscription{
			"zero":      {},
			"empty map": {CustomParameters: map[string]string{}, Properties: map[string]string{}},
		} {
			ev := &webhook.Event{Type: "deal.deleted", OrganizationID: "o", Timestamp: ts, Data: data}
			require.Equal(t, want, envelopeJSON(t, ev, sub), name+"/"+subName)
		}
	}
}

func TestEnvelopeAppendsToDst(t *testing.T) {
	t.Parallel()
	ev := &webhook.Event{Type: "a", OrganizationID: "o", Timestamp: time.Unix(0, 0).UTC(), Data: json.RawMessage(`1`)}
	sub := &webhook.Subscription{}
	alone := envelopeJSON(t, ev, sub)
	out, err := webhook.Envelope.AppendJSON([]byte("prefix:"), ev, sub)
	require.NoError(t, err)
	require.Equal(t, "prefix:"+alone, string(out))

	for _, ct := range []string{webhook.ContentTypeJSON, webhook.ContentTypeForm} {
		sub := &webhook.Subscription{ContentType: ct}
		whole, _, err := webhook.AppendBody(nil, webhook.Envelope, ev, sub)
		require.NoError(t, err)
		dst := make([]byte, 0, 4) // too small: AppendBody must grow it
		dst = append(dst, "abc"...)
		body, _, err := webhook.AppendBody(dst, webhook.Envelope, ev, sub)
		require.NoError(t, err)
		require.Equal(t, "abc"+string(whole), string(body), ct)
		big := append(make([]byte, 0, 4096), "abc"...) // roomy: built in place
		body, _, err = webhook.AppendBody(big, webhook.Envelope, ev, sub)
		require.NoError(t, err)
		require.Equal(t, "abc"+string(whole), string(body), ct)
	}
}

func TestFormBody(t *testing.T) {
	t.Parallel()
	ev := &webhook.Event{
		Type:           "contact.created",
		OrganizationID: "org_42",
		Timestamp:      time.Date(2017, 1, 24, 3, 42, 59, 0, neonZone),
		Data:           json.RawMessage(`{"id":7,"name":"Ada & Co"}`),
	}
	sub := &webhook.Subscription{ContentType: webhook.ContentTypeForm, CustomParameters: map[string]string{"source": "crm"}}
	const wantJSON = `{"eventTrigger":"contact.created","eventTimestamp":"2017-01-24T03:42:59.000-06:00",` +
		`"organizationId":"org_42","data":{"id":7,"name":"Ada & Co"},"customParameters":{"source":"crm"}}`
	const wantRaw = `payload=%7B%22eventTrigger%22%3A%22contact.created%22%2C%22eventTimestamp%22%3A%222017-01-24T03%3A42%3A59.000-06%3A00%22` +
		`%2C%22organizationId%22%3A%22org_42%22%2C%22data%22%3A%7B%22id%22%3A7%2C%22name%22%3A%22Ada+%26+Co%22%7D` +
		`%2C%22customParameters%22%3A%7B%22source%22%3A%22crm%22%7D%7D`

	body, contentType, err := webhook.AppendBody(nil, webhook.Envelope, ev, sub)
	require.NoError(t, err)
	require.Equal(t, webhook.ContentTypeForm, contentType)
	require.Equal(t, wantRaw, string(body))

	form, err := url.ParseQuery(string(body))
	require.NoError(t, err)
	require.Equal(t, url.Values{"payload": {wantJSON}}, form)
	require.Equal(t, envelopeJSON(t, ev, sub), form.Get("payload"))
}

func TestAppendBodyFormatError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	f := webhook.FormatFunc(func(dst []byte, ev *webhook.Event, sub *webhook.Subscription) ([]byte, error) {
		return dst, boom
	})
	for _, ct := range []string{webhook.ContentTypeJSON, webhook.ContentTypeForm} {
		_, _, err := webhook.AppendBody(nil, f, &webhook.Event{}, &webhook.Subscription{ContentType: ct})
		require.ErrorIs(t, err, boom, ct)
	}
}

func TestCustomFormatInForm(t *testing.T) {
	t.Parallel()
	// A few-line format, like Agile CRM's {"eventName","eventData"}, is
	// wrapped in the payload field just like the Envelope.
	agile := webhook.FormatFunc(func(dst []byte, ev *webhook.Event, sub *webhook.Subscription) ([]byte, error) {
		dst = append(dst, `{"eventName":`...)
		dst = webhook.AppendJSONString(dst, ev.Type)
		dst = append(dst, `,"eventData":`...)
		dst = append(dst, ev.Data...)
		return append(dst, '}'), nil
	})
	ev := &webhook.Event{Type: "Contact is Created", Data: json.RawMessage(`{"id":1}`)}
	body, ct, err := webhook.AppendBody(nil, agile, ev, &webhook.Subscription{ContentType: webhook.ContentTypeForm})
	require.NoError(t, err)
	require.Equal(t, webhook.ContentTypeForm, ct)
	form, err := url.ParseQuery(string(body))
	require.NoError(t, err)
	require.Equal(t, `{"eventName":"Contact is Created","eventData":{"id":1}}`, form.Get("payload"))
}

func TestEnvelopePropertiesNeverReplaceStandardKeys(t *testing.T) {
	t.Parallel()
	ts := time.Date(2017, 1, 24, 3, 42, 59, 0, neonZone)
	ev := &webhook.Event{Type: "contact.created", OrganizationID: "org_1", Timestamp: ts, Data: json.RawMessage(`{"id":1}`)}
	standard := []string{"eventTrigger", "eventTimestamp", "organizationId", "data", "customParameters"}
	// Go receivers decode keys case-insensitively, so a "Data" property
	// would overwrite "data" there: it counts as a standard key too.
	shadows := append(append([]string{}, standard...), "Data", "EVENTTRIGGER", "OrganizationID", "customparameters", "EventTimestamp")
	for _, k := range shadows {
		sub := validSubscription()
		sub.Properties = map[string]string{k: "spoofed", "extra": "kept"}
		err := sub.Validate()
		require.ErrorIs(t, err, webhook.ErrInvalidSubscription, k)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve, k)
		require.Equal(t, fmt.Sprintf("properties[%q]", k), ve.Field)

		// A Format never trusts that Validate ran: the key is left out.
		got := envelopeJSON(t, ev, sub)
		require.NotContains(t, got, "spoofed", k)
		require.Contains(t, got, `"extra":"kept"`, k)
		require.Equal(t, append(append([]string{}, standard...), "extra"), topLevelKeys(t, []byte(got)), k)
	}
	// Keys that merely resemble standard ones are fine.
	sub := validSubscription()
	sub.Properties = map[string]string{"dataset": "1", "eventTriggerX": "2", "organization": "3"}
	require.NoError(t, sub.Validate())
}

// topLevelKeys returns the keys of a JSON object in order, duplicates kept.
func topLevelKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return keys
}

// stdJSONString is encoding/json's encoding of s without HTML escaping.
func stdJSONString(t testing.TB, s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	var allASCII strings.Builder
	for c := range 0x80 {
		allASCII.WriteByte(byte(c))
	}
	tests := []string{
		"",
		"plain",
		`say "hi"`,
		`back\slash`,
		"\\\"",
		"line\nbreak\r\ttab",
		"\b\f",
		"\x00\x01\x1f\x7f",
		"<script>&amp;</script>",
		"\u2028\u2029",
		"a\u2028b\u2029c",
		"\xff",
		"bad \xc3\x28 utf8",
		"\xed\xa0\x80", // an encoded surrogate half
		"truncated \xe2\x82",
		"\xf4\x90\x80\x80", // above U+10FFFF
		"\ufffd",
		"Zoë 日本語 🎉",
		"\U0010FFFF",
		allASCII.String(),
	}
	for _, s := range tests {
		want := stdJSONString(t, s)
		require.Equal(t, want, string(webhook.AppendJSONString(nil, s)), "%q", s)
		require.Equal(t, "x"+want, string(webhook.AppendJSONString([]byte("x"), s)), "%q", s)
	}
}

func TestNewEventID(t *testing.T) {
	t.Parallel()
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	id := webhook.NewEventID(base)
	require.True(t, strings.HasPrefix(id, "evt_"), id)
	require.Len(t, id, 30)
	const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	for _, c := range strings.TrimPrefix(id, "evt_") {
		require.Contains(t, crockford, string(c), id)
	}

	// IDs sort by time, to the millisecond, whatever their random part.
	for _, step := range []time.Duration{time.Millisecond, time.Second, time.Hour, 24 * 365 * time.Hour} {
		for i := range 200 {
			t0 := base.Add(time.Duration(i) * 7919 * time.Millisecond)
			a, b := webhook.NewEventID(t0), webhook.NewEventID(t0.Add(step))
			require.Less(t, a, b, "step %v", step)
		}
	}
	// IDs of the same millisecond share their time part.
	a := webhook.NewEventID(base.Add(123 * time.Microsecond))
	b := webhook.NewEventID(base.Add(456 * time.Microsecond))
	require.Equal(t, a[:14], b[:14])
	require.NotEqual(t, a, b)

	// Unique even when made at the same instant.
	seen := make(map[string]bool, 10_000)
	for range 10_000 {
		id := webhook.NewEventID(base)
		require.False(t, seen[id], id)
		seen[id] = true
	}
}
