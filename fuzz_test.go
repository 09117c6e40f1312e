package webhook_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	webhook "github.com/relayhook/webhook"
)

// The fuzz targets run their seed corpus (testdata/fuzz/<Name>/ and the
// f.Add calls) as ordinary tests; explore with, for example,
//
//	go test -run '^$' -fuzz '^FuzzVerify$' -fuzztime 30s .

// fuzzNow is the receiver's clock in the fuzz targets.
const fuzzNow = 1700000000

// verificationErrors are the precise errors Verify may return.
var verificationErrors = []error{
	webhook.ErrMissingHeader, webhook.ErrInvalidHeader, webhook.ErrTimestampTooOld,
	webhook.ErrTimestampTooNew, webhook.ErrUnsupportedVersion, webhook.ErrSignatureMismatch,
	webhook.ErrBodyTooLarge,
}

func checkVerificationError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !errors.Is(err, webhook.ErrVerification) {
		t.Fatalf("error %v does not wrap ErrVerification", err)
	}
	for _, want := range verificationErrors {
		if errors.Is(err, want) {
			return
		}
	}
	t.Fatalf("error %v is none of the documented verification errors", err)
}

func mustVerifier(t *testing.T, secrets ...string) *webhook.Verifier {
	t.Helper()
	v, err := webhook.NewVerifier(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	v.Now = func() time.Time { return time.Unix(fuzzNow, 0) }
	return v
}

// FuzzVerify: arbitrary headers and bodies never make Verify panic, and
// it fails only with the documented errors; whatever the id, body and
// timestamp (within the tolerance), what Signer signs verifies, and
// changing the body breaks it.
func FuzzVerify(f *testing.F) {
	f.Add(vectorID, strconv.Itoa(vectorTimestamp), vectorSignature, []byte(vectorBody), int64(0))
	f.Add("msg_1", "1700000000", "v1,abc v2,def", []byte(`{}`), int64(-300))
	f.Add("", "", "", []byte(nil), int64(300))
	f.Add("a.b", "+1700000000", "v1a,AAAA", []byte("\x00\xff"), int64(1))
	secret := webhook.NewSecret()
	signer, err := webhook.NewSigner(secret)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte, skew int64) {
		v := mustVerifier(t, secret)
		h := http.Header{}
		h.Set(webhook.HeaderID, id)
		h.Set(webhook.HeaderTimestamp, ts)
		h.Set(webhook.HeaderSignature, sig)
		checkVerificationError(t, v.Verify(h, body))

		if id == "" {
			return
		}
		tol := int64(defaultTolerance / time.Second)
		skew %= tol + 1 // within the tolerance, either way
		signedAt := time.Unix(fuzzNow+skew, 0)
		h.Set(webhook.HeaderTimestamp, strconv.FormatInt(signedAt.Unix(), 10))
		h.Set(webhook.HeaderSignature, signer.Sign(id, signedAt, body))
		if err := v.Verify(h, body); err != nil {
			t.Fatalf("signed message did not verify: %v", err)
		}
		// The signature also stands among arbitrary other entries.
		h.Set(webhook.HeaderSignature, sig+" "+signer.Sign(id, signedAt, body)+" "+sig)
		if err := v.Verify(h, body); err != nil {
			t.Fatalf("signed message among %q did not verify: %v", sig, err)
		}
		tampered := append(bytes.Clone(body), 'x')
		h.Set(webhook.HeaderSignature, signer.Sign(id, signedAt, body))
		if err := v.Verify(h, tampered); !errors.Is(err, webhook.ErrSignatureMismatch) {
			t.Fatalf("tampered body: got %v, want ErrSignatureMismatch", err)
		}
	})
}

// FuzzSignatureHeader: for a fixed message, an arbitrary webhook-signature
// value is accepted only if one of its entries is "v1," and the base64 of
// the right MAC; adding the right signature anywhere makes it accepted.
func FuzzSignatureHeader(f *testing.F) {
	f.Add(vectorSignature)
	f.Add("v1,bad " + vectorSignature)
	f.Add("v2," + strings.TrimPrefix(vectorSignature, "v1,"))
	f.Add("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=") // other padding bits
	f.Add("garbage\tv1, ,v1 v1,,")
	f.Add("")
	f.Fuzz(func(t *testing.T, sig string) {
		v := mustVerifier(t, vectorSecret)
		v.Now = func() time.Time { return time.Unix(vectorTimestamp, 0) }
		h := http.Header{}
		h.Set(webhook.HeaderID, vectorID)
		h.Set(webhook.HeaderTimestamp, strconv.Itoa(vectorTimestamp))
		h.Set(webhook.HeaderSignature, sig)
		err := v.Verify(h, []byte(vectorBody))
		checkVerificationError(t, err)

		want := strings.TrimPrefix(vectorSignature, "v1,")
		matches := false
		malformed := false
		sawV1 := false
		for _, part := range strings.Fields(sig) {
			version, b64, ok := strings.Cut(part, ",")
			if !ok {
				malformed = true
				continue
			}
			if version != "v1" {
				continue
			}
			sawV1 = true
			// Base64 has several spellings of the same bytes (unused
			// padding bits): compare canonical forms.
			if canonicalBase64(b64) == want {
				matches = true
			}
		}
		switch {
		case matches:
			if err != nil {
				t.Fatalf("%q holds the right signature but got %v", sig, err)
			}
		case sig == "":
			if !errors.Is(err, webhook.ErrMissingHeader) {
				t.Fatalf("empty header: got %v", err)
			}
		case malformed:
			if !errors.Is(err, webhook.ErrInvalidHeader) {
				t.Fatalf("%q has a malformed entry: got %v", sig, err)
			}
		case !sawV1:
			if !errors.Is(err, webhook.ErrUnsupportedVersion) {
				t.Fatalf("%q has no v1 entry: got %v", sig, err)
			}
		default:
			if !errors.Is(err, webhook.ErrSignatureMismatch) {
				t.Fatalf("%q: got %v, want ErrSignatureMismatch", sig, err)
			}
		}

		for _, with := range []string{vectorSignature + " " + sig, sig + " " + vectorSignature} {
			h.Set(webhook.HeaderSignature, with)
			if err := v.Verify(h, []byte(vectorBody)); err != nil {
				t.Fatalf("%q holds the right signature but got %v", with, err)
			}
		}
	})
}

func canonicalBase64(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

// fuzzTimestamp makes an event time from fuzzed numbers: any millisecond
// from year 1 to 9999, and a zone offset within ±18 hours.
func fuzzTimestamp(ms int64, offsetMinutes int16) time.Time {
	// 0001-01-02 .. 9999-12-30 in ms: a day inside the four-digit years,
	// whatever the offset.
	const lo, hi = -62135596800000 + 86400000, 253402300799999 - 86400000
	if ms < lo || ms > hi {
		ms = lo + (ms&(1<<62-1))%(hi-lo+1)
	}
	off := int(offsetMinutes) % (18 * 60)
	return time.UnixMilli(ms).In(time.FixedZone("", off*60))
}

// jsonRoundTrip is what encoding/json makes of s on the way out and back:
// s itself, or s with invalid UTF-8 replaced.
func jsonRoundTrip(t *testing.T, s string) string {
	t.Helper()
	var back string
	if err := json.Unmarshal([]byte(stdJSONString(t, s)), &back); err != nil {
		t.Fatal(err)
	}
	return back
}

func fuzzEnvelopeInputs(t *testing.T, typ, org string, ms int64, off int16, data []byte, k1, v1, k2, v2 string) (*webhook.Event, *webhook.Subscription) {
	t.Helper()
	if !json.Valid(data) {
		data = nil // Data is valid JSON or empty, as Dispatch requires
	}
	ev := &webhook.Event{Type: typ, OrganizationID: org, Timestamp: fuzzTimestamp(ms, off), Data: data}
	sub := &webhook.Subscription{
		CustomParameters: map[string]string{k1: v1, k2: v2},
		Properties:       map[string]string{k1: v2, k2: v1, "p_" + k1: v1},
	}
	return ev, sub
}

// FuzzEnvelope: whatever the strings, the Envelope is valid JSON whose
// standard keys come first, once each, and decode back to the event and
// the custom parameters.
func FuzzEnvelope(f *testing.F) {
	f.Add("contact.created", "org_1", int64(1485250979000), int16(-360), []byte(`{"id":1}`), "source", "crm", "tenant", "acme")
	f.Add("", "", int64(0), int16(0), []byte(nil), "", "", "data", "spoof")
	f.Add("\"\\\u2028\x00", "\xff\xfe", int64(-1), int16(330), []byte(` [1, "x"] `), "Data", "\b\f", "\xc3", "\xc3\x28")
	f.Add("<&>", "org", int64(1<<62), int16(-1), []byte(`null`), "customParameters", "x", "eventTrigger", "y")
	f.Fuzz(func(t *testing.T, typ, org string, ms int64, off int16, data []byte, k1, v1, k2, v2 string) {
		ev, sub := fuzzEnvelopeInputs(t, typ, org, ms, off, data, k1, v1, k2, v2)
		out, err := webhook.Envelope.AppendJSON(nil, ev, sub)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
		keys := topLevelKeys(t, out)
		standard := []string{"eventTrigger", "eventTimestamp", "organizationId", "data", "customParameters"}
		if len(keys) < len(standard) || strings.Join(keys[:5], ",") != strings.Join(standard, ",") {
			t.Fatalf("keys %q do not start with the standard keys", keys)
		}
		for _, k := range keys[5:] {
			for _, std := range standard {
				if strings.EqualFold(k, std) {
					t.Fatalf("property %q shadows standard key %q in %s", k, std, out)
				}
			}
		}

		var got struct {
			EventTrigger     string            `json:"eventTrigger"`
			EventTimestamp   string            `json:"eventTimestamp"`
			OrganizationID   string            `json:"organizationId"`
			Data             json.RawMessage   `json:"data"`
			CustomParameters map[string]string `json:"customParameters"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if want := jsonRoundTrip(t, typ); got.EventTrigger != want {
			t.Fatalf("eventTrigger %q, want %q", got.EventTrigger, want)
		}
		if want := jsonRoundTrip(t, org); got.OrganizationID != want {
			t.Fatalf("organizationId %q, want %q", got.OrganizationID, want)
		}
		if want := ev.Timestamp.Format(webhook.TimestampLayout); got.EventTimestamp != want {
			t.Fatalf("eventTimestamp %q, want %q", got.EventTimestamp, want)
		}
		if _, err := time.Parse(webhook.TimestampLayout, got.EventTimestamp); err != nil {
			t.Fatalf("eventTimestamp %q does not parse back: %v", got.EventTimestamp, err)
		}
		if len(ev.Data) == 0 {
			if string(got.Data) != "null" {
				t.Fatalf("data %s, want null", got.Data)
			}
		} else if compactJSON(t, got.Data) != compactJSON(t, ev.Data) {
			t.Fatalf("data %s, want %s", got.Data, ev.Data)
		}
		wantParams := map[string]string{}
		for k, v := range sub.CustomParameters {
			wantParams[jsonRoundTrip(t, k)] = jsonRoundTrip(t, v)
		}
		if len(wantParams) == len(sub.CustomParameters) { // no two keys became one
			if len(got.CustomParameters) != len(wantParams) {
				t.Fatalf("customParameters %q, want %q", got.CustomParameters, wantParams)
			}
			for k, v := range wantParams {
				if got.CustomParameters[k] != v {
					t.Fatalf("customParameters %q, want %q", got.CustomParameters, wantParams)
				}
			}
		}
	})
}

func compactJSON(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// FuzzFormBody: the form body is one field, payload, that parses back to
// exactly the JSON body.
func FuzzFormBody(f *testing.F) {
	f.Add("contact.created", "org_1", int64(1485250979000), int16(-360), []byte(`{"name":"Ada & Co"}`), "a=b", "c&d", "+", "%")
	f.Add("", "", int64(0), int16(0), []byte(nil), "", "", "payload", "x")
	f.Add("\xff;", "#?", int64(-1), int16(59), []byte(`"\u2028"`), "\n", "\r", "é", "日本")
	f.Fuzz(func(t *testing.T, typ, org string, ms int64, off int16, data []byte, k1, v1, k2, v2 string) {
		ev, sub := fuzzEnvelopeInputs(t, typ, org, ms, off, data, k1, v1, k2, v2)
		js, ct, err := webhook.AppendBody(nil, webhook.Envelope, ev, sub)
		if err != nil || ct != webhook.ContentTypeJSON {
			t.Fatalf("JSON body: %q, %v", ct, err)
		}
		sub.ContentType = webhook.ContentTypeForm
		form, ct, err := webhook.AppendBody([]byte("keep"), webhook.Envelope, ev, sub)
		if err != nil || ct != webhook.ContentTypeForm {
			t.Fatalf("form body: %q, %v", ct, err)
		}
		raw, ok := strings.CutPrefix(string(form), "keep")
		if !ok {
			t.Fatalf("dst not kept: %q", form)
		}
		vals, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("form body %q does not parse: %v", raw, err)
		}
		if len(vals) != 1 || len(vals["payload"]) != 1 || vals.Get("payload") != string(js) {
			t.Fatalf("form %q does not carry the JSON body %s", vals, js)
		}
		if want := "payload=" + url.QueryEscape(string(js)); raw != want {
			t.Fatalf("form body %q, want %q", raw, want)
		}
	})
}

// FuzzValidateSubscription: Validate never panics, and what it accepts is
// safe to use: the URL makes a request, the headers are well-formed, the
// secret makes a Signer.
func FuzzValidateSubscription(f *testing.F) {
	f.Add("https://hooks.example.com/in", "contact.*", "", vectorSecret, "user", "pw", "X-Api-Key", "k", "Active", "ops@example.com")
	f.Add("http://[::1]:80/", "*", webhook.ContentTypeForm, "", "", "", "", "", "", "")
	f.Add("https://u:p@h/", "a..b", "text/plain", "whsec_x", "a:b", "\n", "Host", "v\r\n", "Paused", "Ops <o@x>")
	f.Add("http://h/#f", "a.*", webhook.ContentTypeJSON, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "u", "p", "webhook-id", "x", "Stopped", "a@b")
	f.Fuzz(func(t *testing.T, rawURL, event, contentType, secret, user, pass, hName, hValue, state, email string) {
		s := &webhook.Subscription{
			OrganizationID: "org",
			URL:            rawURL,
			Events:         []string{event},
			ContentType:    contentType,
			Secret:         secret,
			State:          webhook.State(state),
			ErrorsEmail:    email,
		}
		if user != "" || pass != "" {
			s.BasicAuth = &webhook.BasicAuth{Username: user, Password: pass}
		}
		if hName != "" || hValue != "" {
			s.Headers = map[string]string{hName: hValue}
		}
		err := s.Validate()
		if err != nil {
			var ve *webhook.ValidationError
			if !errors.Is(err, webhook.ErrInvalidSubscription) || !errors.As(err, &ve) || ve.Field == "" {
				t.Fatalf("error %v is not a ValidationError about a subscription", err)
			}
			if ve.Field == "secret" && len(secret) > len(webhook.SecretPrefix)+4 &&
				strings.Contains(err.Error(), strings.TrimPrefix(secret, webhook.SecretPrefix)) {
				t.Fatalf("error %q shows the secret", err)
			}
			return
		}
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted URL %q: %v", rawURL, err)
		}
		if !plainHost(u.Hostname()) {
			t.Fatalf("accepted URL %q whose host %q is neither a DNS name nor a standard IP address", rawURL, u.Hostname())
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				t.Fatalf("accepted URL %q with port %q", rawURL, p)
			}
		}
		req, err := http.NewRequest(http.MethodPost, rawURL, nil)
		if err != nil {
			t.Fatalf("accepted URL %q makes no request: %v", rawURL, err)
		}
		if !webhook.ValidEventType(strings.TrimSuffix(event, ".*")) && event != "*" {
			t.Fatalf("accepted pattern %q", event)
		}
		if secret != "" {
			if _, err := webhook.NewSigner(secret); err != nil {
				t.Fatalf("accepted secret makes no Signer: %v", err)
			}
		}
		for k, v := range s.Headers {
			if strings.ContainsAny(v, "\r\n\x00") || strings.ContainsAny(k, "\r\n\x00 :") || k == "" {
				t.Fatalf("accepted header %q: %q", k, v)
			}
			lk := strings.ToLower(k)
			if strings.HasPrefix(lk, "webhook-") || lk == "content-type" || lk == "host" {
				t.Fatalf("accepted reserved header %q", k)
			}
			req.Header.Set(k, v)
		}
		if s.BasicAuth != nil {
			if s.BasicAuth.Username == "" || strings.Contains(s.BasicAuth.Username, ":") ||
				strings.ContainsAny(s.BasicAuth.Username+s.BasicAuth.Password, "\r\n\x00") {
				t.Fatalf("accepted basic auth %q", s.BasicAuth.Username)
			}
			req.SetBasicAuth(s.BasicAuth.Username, s.BasicAuth.Password)
			if u, p, ok := req.BasicAuth(); !ok || u != s.BasicAuth.Username || p != s.BasicAuth.Password {
				t.Fatalf("basic auth does not round-trip")
			}
		}
		if email != "" {
			if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
				t.Fatalf("accepted e-mail %q", email)
			}
		}
		var sb strings.Builder
		if err := req.Write(&sb); err != nil {
			t.Fatalf("accepted subscription makes a request that does not write: %v", err)
		}
	})
}

// plainHost reports whether host is an IP address in its standard form
// without a zone, or a DNS name of letters, digits, '-' and '_' whose last
// label is not a number (which resolvers would read as IPv4).
func plainHost(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return !strings.Contains(host, "%")
	}
	name := strings.TrimSuffix(host, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return false
		}
	}
	last := strings.ToLower(labels[len(labels)-1])
	if strings.Trim(last, "0123456789") == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(last, "0x"); ok && strings.Trim(rest, "0123456789abcdef") == "" {
		return false
	}
	return true
}

// refusedIndependently says whether an address is in a range the
// AddressGuard documents as refused, written from the documentation with
// the standard library's classifiers and byte comparisons rather than
// from guard.go. never is true for the ranges refused even with
// AllowPrivateNetworks.
func refusedIndependently(ip net.IP) (refused, never bool) {
	ip = ip.To16()
	var v4 net.IP
	switch {
	case ip.To4() != nil: // IPv4, or IPv4-mapped IPv6
		v4 = ip.To4()
	case bytes.Equal(ip[:12], []byte{0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0}): // NAT64 64:ff9b::/96
		v4 = net.IPv4(ip[12], ip[13], ip[14], ip[15]).To4()
	case bytes.Equal(ip[:6], []byte{0, 0x64, 0xff, 0x9b, 0, 1}): // local-use NAT64 64:ff9b:1::/48, as /96s
		v4 = net.IPv4(ip[12], ip[13], ip[14], ip[15]).To4()
	case ip[0] == 0x20 && ip[1] == 0x02: // 6to4 2002::/16
		v4 = net.IPv4(ip[2], ip[3], ip[4], ip[5]).To4()
	}
	check := func(a net.IP) (bool, bool) {
		if a4 := a.To4(); a4 != nil {
			switch {
			case a4[0] == 0, a4.Equal(net.IPv4bcast), a4.IsMulticast(),
				a4.Equal(net.IPv4(169, 254, 169, 254)), a4.Equal(net.IPv4(169, 254, 170, 2)), a4.Equal(net.IPv4(100, 100, 100, 200)),
				a4.Equal(net.IPv4(168, 63, 129, 16)), a4.Equal(net.IPv4(192, 0, 0, 192)):
				return true, true
			case a4.IsLoopback(), a4.IsPrivate(), a4.IsLinkLocalUnicast(),
				a4[0] == 100 && a4[1]&0xc0 == 64,         // 100.64.0.0/10
				a4[0] == 192 && a4[1] == 0 && a4[2] == 0, // 192.0.0.0/24
				a4[0] == 198 && a4[1]&0xfe == 18,         // 198.18.0.0/15
				a4[0] >= 240:                             // 240.0.0.0/4
				return true, false
			}
			return false, false
		}
		switch {
		case a.IsUnspecified(), a.IsMulticast(), a.Equal(net.ParseIP("fd00:ec2::254")):
			return true, true
		case a.IsLoopback(), a.IsPrivate(), a.IsLinkLocalUnicast(),
			a[0] == 0xfe && a[1]&0xc0 == 0xc0,                     // fec0::/10
			bytes.Equal(a[:8], []byte{1, 0, 0, 0, 0, 0, 0, 0}),    // 100::/64
			bytes.Equal(a[:4], []byte{0x20, 0x01, 0, 0}),          // 2001::/32
			bytes.Equal(a[:6], []byte{0, 0x64, 0xff, 0x9b, 0, 1}), // 64:ff9b:1::/48
			bytes.Equal(a[:12], make([]byte, 12)):                 // ::/96
			return true, false
		}
		return false, false
	}
	r, n := check(ip)
	if v4 != nil && ip.To4() == nil {
		r2, n2 := check(v4)
		r, n = r || r2, n || n2
	}
	return r, n
}

// FuzzAddressGuard: for any address, the guard's verdict agrees with an
// independent reading of its documented ranges, with and without
// AllowPrivateNetworks; a refusal is an *AddressError naming the address;
// the IPv4-mapped, NAT64 and 6to4 forms of an IPv4 address refused are
// refused too; and an allow-list entry holding the address allows it.
func FuzzAddressGuard(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.1", "0.0.0.0", "255.255.255.255", "224.0.0.1",
		"8.8.8.8", "::1", "::", "fd00::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe",
		"2002:7f00:1::", "2002:808:808::", "2606:4700::1111", "fd00:ec2::254", "2001::1", "64:ff9b:1::1",
		"168.63.129.16", "192.0.0.192", "64:ff9b:1::a9fe:a9fe", "64:ff9b:1:ab::a83f:8110",
	} {
		f.Add(netip.MustParseAddr(s).AsSlice(), uint8(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, bits uint8) {
		var ip netip.Addr
		switch {
		case len(b) >= 16:
			ip = netip.AddrFrom16([16]byte(b[:16]))
		case len(b) >= 4:
			ip = netip.AddrFrom4([4]byte(b[:4]))
		default:
			return
		}
		wantRefused, wantNever := refusedIndependently(net.IP(ip.AsSlice()))

		err := (&webhook.AddressGuard{}).Check(ip)
		if (err != nil) != wantRefused {
			t.Fatalf("%s: guard says %v, the documented ranges say refused=%v", ip, err, wantRefused)
		}
		if err != nil {
			var ae *webhook.AddressError
			if !errors.As(err, &ae) || !errors.Is(err, webhook.ErrAddressNotAllowed) || ae.IP != ip || ae.Reason == "" {
				t.Fatalf("%s: refusal %#v is not an AddressError naming it", ip, err)
			}
		}
		errPrivate := (&webhook.AddressGuard{AllowPrivateNetworks: true}).Check(ip)
		if (errPrivate != nil) != wantNever {
			t.Fatalf("%s with AllowPrivateNetworks: guard says %v, the documented ranges say refused=%v", ip, errPrivate, wantNever)
		}

		// The embedded forms of a refused IPv4 address are refused, with
		// AllowPrivateNetworks too if the address is.
		if ip.Is4() && err != nil {
			v4 := ip.As4()
			for _, form := range []netip.Addr{
				netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: v4[0], 13: v4[1], 14: v4[2], 15: v4[3]}),
				netip.AddrFrom16([16]byte{1: 0x64, 2: 0xff, 3: 0x9b, 12: v4[0], 13: v4[1], 14: v4[2], 15: v4[3]}),
				netip.AddrFrom16([16]byte{1: 0x64, 2: 0xff, 3: 0x9b, 5: 1, 6: b[0], 7: bits, 12: v4[0], 13: v4[1], 14: v4[2], 15: v4[3]}),
				netip.AddrFrom16([16]byte{0: 0x20, 1: 0x02, 2: v4[0], 3: v4[1], 4: v4[2], 5: v4[3]}),
			} {
				if (&webhook.AddressGuard{}).Check(form) == nil {
					t.Fatalf("%s is refused but its form %s is allowed", ip, form)
				}
				if errPrivate != nil && (&webhook.AddressGuard{AllowPrivateNetworks: true}).Check(form) == nil {
					t.Fatalf("%s is refused with AllowPrivateNetworks but its form %s is allowed", ip, form)
				}
			}
		}

		// An allow-list entry holding the address allows it.
		prefix, perr := ip.Prefix(int(bits) % (ip.BitLen() + 1))
		if perr != nil {
			t.Fatal(perr)
		}
		if err := (&webhook.AddressGuard{AllowedNetworks: []netip.Prefix{prefix}}).Check(ip); err != nil {
			t.Fatalf("%s in the allowed %s: %v", ip, prefix, err)
		}
	})
}
