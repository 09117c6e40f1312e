package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// The Standard Webhooks specification's published test vector, as used by
// the reference libraries: repository standard-webhooks/standard-webhooks,
// libraries/go/webhook_test.go (TestWebhookSign), and the same values in
// the other libraries' tests there. The secret is 24 bytes, the smallest
// the specification allows.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// secretOfLen returns a "whsec_" secret whose key is n bytes of b.
func secretOfLen(n int, b byte) string {
	return webhook.SecretPrefix + base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(b), n)))
}

// signedHeader returns the three Standard Webhooks headers.
func signedHeader(id, ts, sig string) http.Header {
	h := http.Header{}
	if id != "" {
		h.Set(webhook.HeaderID, id)
	}
	if ts != "" {
		h.Set(webhook.HeaderTimestamp, ts)
	}
	if sig != "" {
		h.Set(webhook.HeaderSignature, sig)
	}
	return h
}

// verifierAt returns a verifier for the secrets whose clock reads unix.
func verifierAt(t *testing.T, unix int64, secrets ...string) *webhook.Verifier {
	t.Helper()
	v, err := webhook.NewVerifier(secrets...)
	require.NoError(t, err)
	v.Now = func() time.Time { return time.Unix(unix, 0) }
	return v
}

// specSign is an independent implementation of the specification's
// symmetric scheme, written from its text rather than from signer.go:
// strip "whsec_", base64-decode the key, HMAC-SHA256 over
// "{msg_id}.{timestamp}.{payload}", and prefix the base64 of the MAC with
// "v1,".
func specSign(t *testing.T, secret, id string, unix int64, body []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(unix, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// specVerify is the receiving side of specSign: it accepts the header if one
// of its space-separated "v1," entries equals the expected MAC.
func specVerify(t *testing.T, secret, id string, unix int64, body []byte, header string) bool {
	t.Helper()
	want, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(specSign(t, secret, id, unix, body), "v1,"))
	require.NoError(t, err)
	for _, part := range strings.Split(header, " ") {
		b64, ok := strings.CutPrefix(part, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func TestSignerStandardWebhooksVector(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{vectorSecret, strings.TrimPrefix(vectorSecret, webhook.SecretPrefix)} {
		s, err := webhook.NewSigner(secret)
		require.NoError(t, err, secret)
		require.Equal(t, vectorSignature, s.Sign(vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody)))
		// Sub-second precision and the zone do not change webhook-timestamp.
		ts := time.Unix(vectorTimestamp, 999_999_999).In(time.FixedZone("", -6*3600))
		require.Equal(t, vectorSignature, s.Sign(vectorID, ts, []byte(vectorBody)))
		// AppendSignature appends to dst.
		got := s.AppendSignature([]byte("sig="), vectorID, vectorTimestamp, []byte(vectorBody))
		require.Equal(t, "sig="+vectorSignature, string(got))
	}
	// The independent implementation agrees on the vector too, so it is a
	// fair referee for the tests below.
	require.Equal(t, vectorSignature, specSign(t, vectorSecret, vectorID, vectorTimestamp, []byte(vectorBody)))
}

func TestVerifierStandardWebhooksVector(t *testing.T) {
	t.Parallel()
	h := signedHeader(vectorID, strconv.Itoa(vectorTimestamp), vectorSignature)
	for _, secret := range []string{vectorSecret, strings.TrimPrefix(vectorSecret, webhook.SecretPrefix)} {
		v := verifierAt(t, vectorTimestamp, secret)
		require.NoError(t, v.Verify(h, []byte(vectorBody)))
	}
	// The specification's own header example mixes a v1 and a v1a
	// (asymmetric) signature; the v1a one is ignored.
	mixed := signedHeader(vectorID, strconv.Itoa(vectorTimestamp),
		"v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== "+vectorSignature)
	require.NoError(t, verifierAt(t, vectorTimestamp, vectorSecret).Verify(mixed, []byte(vectorBody)))

	// The package-level Verify reads the real clock: the 2021 vector is
	// far too old for it.
	err := webhook.Verify(vectorSecret, h, []byte(vectorBody))
	require.ErrorIs(t, err, webhook.ErrTimestampTooOld)
}

func TestPackageVerifyAcceptsFreshSignature(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	s, err := webhook.NewSigner(secret)
	require.NoError(t, err)
	now := time.Now()
	body := []byte(`{"fresh":true}`)
	h := signedHeader("msg_1", strconv.FormatInt(now.Unix(), 10), s.Sign("msg_1", now, body))
	require.NoError(t, webhook.Verify(secret, h, body))
	require.ErrorIs(t, webhook.Verify("not base64!", h, body), webhook.ErrInvalidSecret)
}

// Our signatures verify with a re-implementation of the specification, and
// its signatures verify with our Verifier: Signer and Verifier do not merely
// agree with each other.
func TestSignatureIndependentImplementation(t *testing.T) {
	t.Parallel()
	bodies := [][]byte{
		nil,
		[]byte(`{}`),
		[]byte(`{"eventTrigger":"contact.created","data":{"name":"Zoë \u2028"}}`),
		[]byte("payload=%7B%22a%22%3A1%7D"),
		{0x00, 0xff, '.', '.', 0x80},
	}
	secrets := []string{
		webhook.NewSecret(),
		secretOfLen(webhook.MinSecretBytes, 'a'),
		secretOfLen(webhook.MaxSecretBytes, 'z'),
		vectorSecret,
	}
	const unix = 1700000000
	for _, secret := range secrets {
		s, err := webhook.NewSigner(secret)
		require.NoError(t, err)
		v := verifierAt(t, unix, secret)
		for _, body := range bodies {
			for _, id := range []string{"evt_01ARZ3NDEKTSV4RRFFQ69G5FAV", "a.b.c", "x"} {
				ours := s.Sign(id, time.Unix(unix, 0), body)
				require.Equal(t, specSign(t, secret, id, unix, body), ours)
				require.True(t, specVerify(t, secret, id, unix, body, ours))

				theirs := specSign(t, secret, id, unix, body)
				require.NoError(t, v.Verify(signedHeader(id, strconv.Itoa(unix), theirs), body))
			}
		}
	}
}

func TestSignerRotation(t *testing.T) {
	t.Parallel()
	current, previous := webhook.NewSecret(), webhook.NewSecret()
	const unix = 1700000000
	body := []byte(`{"rotating":true}`)

	s, err := webhook.NewSigner(current, previous)
	require.NoError(t, err)
	header := s.Sign("msg_rot", time.Unix(unix, 0), body)
	parts := strings.Split(header, " ")
	require.Len(t, parts, 2, header)
	require.Equal(t, specSign(t, current, "msg_rot", unix, body), parts[0])
	require.Equal(t, specSign(t, previous, "msg_rot", unix, body), parts[1])

	// A receiver that knows only one of the secrets accepts the header, and
	// each signature alone.
	for _, secret := range []string{current, previous} {
		v := verifierAt(t, unix, secret)
		require.NoError(t, v.Verify(signedHeader("msg_rot", strconv.Itoa(unix), header), body))
		require.True(t, specVerify(t, secret, "msg_rot", unix, body, header))
	}
	for _, part := range parts {
		v := verifierAt(t, unix, current, previous)
		require.NoError(t, v.Verify(signedHeader("msg_rot", strconv.Itoa(unix), part), body))
	}

	// A bad signature before the good one does not hide it, nor do extra
	// spaces between entries.
	bad := "v1," + base64.StdEncoding.EncodeToString(make([]byte, sha256.Size))
	good := specSign(t, current, "msg_rot", unix, body)
	v := verifierAt(t, unix, current)
	for _, hdr := range []string{
		bad + " " + good,
		good + " " + bad,
		"v2,abc  " + bad + "   " + good,
		"v1,!!notbase64 " + good,
	} {
		require.NoError(t, v.Verify(signedHeader("msg_rot", strconv.Itoa(unix), hdr), body), hdr)
	}
}

func TestVerifierMalformedPartDoesNotDependOnOrder(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	const unix = 1700000000
	body := []byte(`{}`)
	good := specSign(t, secret, "msg_1", unix, body)
	v := verifierAt(t, unix, secret)
	// The specification has receivers try each signature until one
	// matches: a malformed entry next to a matching one, on either side,
	// is accepted.
	for _, hdr := range []string{"garbage " + good, good + " garbage"} {
		require.NoError(t, v.Verify(signedHeader("msg_1", strconv.Itoa(unix), hdr), body), hdr)
	}
	// Without a match, the malformed entry is reported whatever its place.
	bad := specSign(t, webhook.NewSecret(), "msg_1", unix, body)
	for _, hdr := range []string{"garbage " + bad, bad + " garbage", "garbage", "v2,x garbage"} {
		err := v.Verify(signedHeader("msg_1", strconv.Itoa(unix), hdr), body)
		require.ErrorIs(t, err, webhook.ErrInvalidHeader, hdr)
	}
}

func TestVerifierErrors(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	const now = 1700000000
	body := []byte(`{"a":1}`)
	sig := func(unix int64, b []byte) string { return specSign(t, secret, "msg_1", unix, b) }
	ts := func(unix int64) string { return strconv.FormatInt(unix, 10) }
	tol := int64(defaultTolerance / time.Second)

	tests := []struct {
		name      string
		tolerance time.Duration
		header    http.Header
		body      []byte
		want      error // nil: accepted
	}{
		{name: "valid", header: signedHeader("msg_1", ts(now), sig(now, body))},
		{name: "missing id", header: signedHeader("", ts(now), sig(now, body)), want: webhook.ErrMissingHeader},
		{name: "missing timestamp", header: signedHeader("msg_1", "", sig(now, body)), want: webhook.ErrMissingHeader},
		{name: "missing signature", header: signedHeader("msg_1", ts(now), ""), want: webhook.ErrMissingHeader},
		{name: "no headers", header: http.Header{}, want: webhook.ErrMissingHeader},
		{name: "timestamp not a number", header: signedHeader("msg_1", "yesterday", sig(now, body)), want: webhook.ErrInvalidHeader},
		{name: "timestamp with fraction", header: signedHeader("msg_1", ts(now)+".5", sig(now, body)), want: webhook.ErrInvalidHeader},
		{name: "timestamp in milliseconds overflowing", header: signedHeader("msg_1", "99999999999999999999", sig(now, body)), want: webhook.ErrInvalidHeader},
		{name: "negative timestamp", header: signedHeader("msg_1", "-1", sig(-1, body)), want: webhook.ErrInvalidHeader},
		{name: "timestamp with a plus sign", header: signedHeader("msg_1", "+"+ts(now), sig(now, body)), want: webhook.ErrInvalidHeader},
		{name: "timestamp with a space", header: signedHeader("msg_1", " "+ts(now), sig(now, body)), want: webhook.ErrInvalidHeader},
		{name: "timestamp in hex", header: signedHeader("msg_1", "0x6553f100", sig(now, body)), want: webhook.ErrInvalidHeader},
		{name: "timestamp of 20 digits", header: signedHeader("msg_1", "0000000000"+ts(now), sig(now, body)), want: webhook.ErrInvalidHeader},
		{name: "timestamp with a leading zero is not what was signed", header: signedHeader("msg_1", "0"+ts(now), sig(now, body)), want: webhook.ErrSignatureMismatch},
		{name: "signature without version", header: signedHeader("msg_1", ts(now), "g0hM9SsE+OTPJTGt"), want: webhook.ErrInvalidHeader},
		{name: "oldest accepted", header: signedHeader("msg_1", ts(now-tol), sig(now-tol, body))},
		{name: "one second too old", header: signedHeader("msg_1", ts(now-tol-1), sig(now-tol-1, body)), want: webhook.ErrTimestampTooOld},
		{name: "newest accepted", header: signedHeader("msg_1", ts(now+tol), sig(now+tol, body))},
		{name: "one second too new", header: signedHeader("msg_1", ts(now+tol+1), sig(now+tol+1, body)), want: webhook.ErrTimestampTooNew},
		{name: "custom tolerance: oldest", tolerance: 10 * time.Second, header: signedHeader("msg_1", ts(now-10), sig(now-10, body))},
		{name: "custom tolerance: too old", tolerance: 10 * time.Second, header: signedHeader("msg_1", ts(now-11), sig(now-11, body)), want: webhook.ErrTimestampTooOld},
		{name: "custom tolerance: newest", tolerance: 10 * time.Second, header: signedHeader("msg_1", ts(now+10), sig(now+10, body))},
		{name: "custom tolerance: too new", tolerance: 10 * time.Second, header: signedHeader("msg_1", ts(now+11), sig(now+11, body)), want: webhook.ErrTimestampTooNew},
		{name: "only v2", header: signedHeader("msg_1", ts(now), strings.Replace(sig(now, body), "v1,", "v2,", 1)), want: webhook.ErrUnsupportedVersion},
		{name: "only v1a and v2", header: signedHeader("msg_1", ts(now), "v1a,AAAA v2,"+strings.TrimPrefix(sig(now, body), "v1,")), want: webhook.ErrUnsupportedVersion},
		{name: "wrong body", header: signedHeader("msg_1", ts(now), sig(now, body)), body: []byte(`{"a":2}`), want: webhook.ErrSignatureMismatch},
		{name: "wrong id", header: signedHeader("msg_2", ts(now), sig(now, body)), want: webhook.ErrSignatureMismatch},
		{name: "timestamp differs from signed", header: signedHeader("msg_1", ts(now+1), sig(now, body)), want: webhook.ErrSignatureMismatch},
		{name: "other secret", header: signedHeader("msg_1", ts(now), specSign(t, webhook.NewSecret(), "msg_1", now, body)), want: webhook.ErrSignatureMismatch},
		{name: "v1 not base64", header: signedHeader("msg_1", ts(now), "v1,***"), want: webhook.ErrSignatureMismatch},
		{name: "v1 empty", header: signedHeader("msg_1", ts(now), "v1,"), want: webhook.ErrSignatureMismatch},
		{name: "truncated signature", header: signedHeader("msg_1", ts(now), sig(now, body)[:20]), want: webhook.ErrSignatureMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := verifierAt(t, now, secret)
			v.Tolerance = tt.tolerance
			b := body
			if tt.body != nil {
				b = tt.body
			}
			err := v.Verify(tt.header, b)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			require.ErrorIs(t, err, webhook.ErrVerification)
		})
	}
}

func TestVerificationErrorsWrapErrVerification(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		webhook.ErrMissingHeader, webhook.ErrInvalidHeader, webhook.ErrTimestampTooOld,
		webhook.ErrTimestampTooNew, webhook.ErrUnsupportedVersion, webhook.ErrSignatureMismatch,
		webhook.ErrBodyTooLarge,
	} {
		require.ErrorIs(t, err, webhook.ErrVerification, err.Error())
	}
	require.False(t, errors.Is(webhook.ErrInvalidSecret, webhook.ErrVerification))
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	valid := []string{
		vectorSecret,
		strings.TrimPrefix(vectorSecret, webhook.SecretPrefix),
		webhook.NewSecret(),
		secretOfLen(webhook.MinSecretBytes, 1),
		secretOfLen(webhook.MaxSecretBytes, 2),
		strings.TrimPrefix(secretOfLen(webhook.MaxSecretBytes, 3), webhook.SecretPrefix),
	}
	for _, s := range valid {
		_, err := webhook.NewVerifier(s)
		require.NoError(t, err, s)
		_, err = webhook.NewSigner(s)
		require.NoError(t, err, s)
	}
	invalid := map[string]string{
		"empty":               "",
		"prefix only":         webhook.SecretPrefix,
		"too short":           secretOfLen(webhook.MinSecretBytes-1, 'q'),
		"too long":            secretOfLen(webhook.MaxSecretBytes+1, 'q'),
		"not base64":          webhook.SecretPrefix + "this is not base64 at all!!!!!!!!",
		"url-safe alphabet":   webhook.SecretPrefix + base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xfb\xff", 16))),
		"missing padding":     strings.TrimRight(secretOfLen(25, 'p'), "="),
		"other prefix":        "whsk_" + strings.TrimPrefix(vectorSecret, webhook.SecretPrefix),
		"double prefix":       webhook.SecretPrefix + vectorSecret,
		"too short unprefixd": base64.StdEncoding.EncodeToString([]byte("short")),
	}
	for name, s := range invalid {
		_, err := webhook.NewVerifier(s)
		require.ErrorIs(t, err, webhook.ErrInvalidSecret, name)
		_, err = webhook.NewSigner(s)
		require.ErrorIs(t, err, webhook.ErrInvalidSecret, name)
		// Not even a bad secret is echoed back.
		if len(s) > len(webhook.SecretPrefix) {
			require.NotContains(t, err.Error(), strings.TrimPrefix(s, webhook.SecretPrefix), name)
		}
		// One bad secret spoils a rotation set.
		_, err = webhook.NewVerifier(webhook.NewSecret(), s)
		require.ErrorIs(t, err, webhook.ErrInvalidSecret, name)
	}
	_, err := webhook.NewSigner()
	require.ErrorIs(t, err, webhook.ErrInvalidSecret)
	_, err = webhook.NewVerifier()
	require.ErrorIs(t, err, webhook.ErrInvalidSecret)
}

func TestVerifierMiddleware(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	signer, err := webhook.NewSigner(secret)
	require.NoError(t, err)
	const now = 1700000000

	newRequest := func(body string, sign bool) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(body))
		if sign {
			r.Header.Set(webhook.HeaderID, "msg_mw")
			r.Header.Set(webhook.HeaderTimestamp, strconv.Itoa(now))
			r.Header.Set(webhook.HeaderSignature, signer.Sign("msg_mw", time.Unix(now, 0), []byte(body)))
		}
		return r
	}
	type result struct {
		code   int
		called bool
		body   string
	}
	serve := func(v *webhook.Verifier, r *http.Request) result {
		var res result
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res.called = true
			b, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			res.body = string(b)
			w.WriteHeader(http.StatusNoContent)
		})
		rec := httptest.NewRecorder()
		v.Middleware(next).ServeHTTP(rec, r)
		res.code = rec.Code
		return res
	}

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		body := `{"eventTrigger":"contact.created","data":{"id":1}}`
		res := serve(verifierAt(t, now, secret), newRequest(body, true))
		require.Equal(t, result{code: http.StatusNoContent, called: true, body: body}, res)
	})
	t.Run("empty body", func(t *testing.T) {
		t.Parallel()
		res := serve(verifierAt(t, now, secret), newRequest("", true))
		require.Equal(t, result{code: http.StatusNoContent, called: true}, res)
	})
	t.Run("unsigned", func(t *testing.T) {
		t.Parallel()
		res := serve(verifierAt(t, now, secret), newRequest(`{}`, false))
		require.Equal(t, http.StatusUnauthorized, res.code)
		require.False(t, res.called)
	})
	t.Run("tampered body", func(t *testing.T) {
		t.Parallel()
		r := newRequest(`{"amount":1}`, true)
		r.Body = io.NopCloser(strings.NewReader(`{"amount":1000}`))
		res := serve(verifierAt(t, now, secret), r)
		require.Equal(t, http.StatusUnauthorized, res.code)
		require.False(t, res.called)
	})
	t.Run("stale", func(t *testing.T) {
		t.Parallel()
		res := serve(verifierAt(t, now+3600, secret), newRequest(`{}`, true))
		require.Equal(t, http.StatusUnauthorized, res.code)
		require.False(t, res.called)
	})
	t.Run("wrong secret", func(t *testing.T) {
		t.Parallel()
		res := serve(verifierAt(t, now, webhook.NewSecret()), newRequest(`{}`, true))
		require.Equal(t, http.StatusUnauthorized, res.code)
		require.False(t, res.called)
	})
	t.Run("body at the limit", func(t *testing.T) {
		t.Parallel()
		v := verifierAt(t, now, secret)
		v.MaxBodyBytes = 16
		body := strings.Repeat("x", 16)
		res := serve(v, newRequest(body, true))
		require.Equal(t, result{code: http.StatusNoContent, called: true, body: body}, res)
	})
	t.Run("oversized body", func(t *testing.T) {
		t.Parallel()
		v := verifierAt(t, now, secret)
		v.MaxBodyBytes = 16
		res := serve(v, newRequest(strings.Repeat("x", 17), true))
		require.Equal(t, http.StatusRequestEntityTooLarge, res.code)
		require.False(t, res.called)
	})
	t.Run("oversized Content-Length is refused unread", func(t *testing.T) {
		t.Parallel()
		v := verifierAt(t, now, secret)
		v.MaxBodyBytes = 16
		r := newRequest(strings.Repeat("x", 16), true)
		r.ContentLength = 17
		res := serve(v, r)
		require.Equal(t, http.StatusRequestEntityTooLarge, res.code)
		require.False(t, res.called)
	})
	t.Run("oversized body with the default limit", func(t *testing.T) {
		t.Parallel()
		res := serve(verifierAt(t, now, secret), newRequest(strings.Repeat("x", defaultMaxBodyBytes+1), true))
		require.Equal(t, http.StatusRequestEntityTooLarge, res.code)
		require.False(t, res.called)
	})
}
