package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Standard Webhooks headers that carry the signature.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Verification defaults, given in Verifier's fields' docs.
const (
	// defaultTolerance is how far a webhook-timestamp may be from the
	// receiver's clock, in either direction.
	defaultTolerance = 5 * time.Minute
	// defaultMaxBodyBytes is the largest body a Verifier accepts.
	defaultMaxBodyBytes = 1 << 20
	// maxTimestampDigits is the most digits of a webhook-timestamp: any
	// more and it does not fit an int64.
	maxTimestampDigits = 19
)

// Verification errors. Each wraps ErrVerification, so a receiver can test
// for any failure at once or for one cause.
var (
	// ErrVerification is wrapped by every verification error.
	ErrVerification = errors.New("webhook: verification failed")
	// ErrMissingHeader: a webhook-* header is absent.
	ErrMissingHeader = fmt.Errorf("%w: missing header", ErrVerification)
	// ErrInvalidHeader: a webhook-* header is malformed: a
	// webhook-timestamp that is not 1 to 19 ASCII digits, or a
	// webhook-signature entry without a comma.
	ErrInvalidHeader = fmt.Errorf("%w: malformed header", ErrVerification)
	// ErrTimestampTooOld: webhook-timestamp is older than the tolerance.
	ErrTimestampTooOld = fmt.Errorf("%w: timestamp too old", ErrVerification)
	// ErrTimestampTooNew: webhook-timestamp is further ahead than the
	// tolerance.
	ErrTimestampTooNew = fmt.Errorf("%w: timestamp too new", ErrVerification)
	// ErrUnsupportedVersion: no signature is of version v1.
	ErrUnsupportedVersion = fmt.Errorf("%w: no v1 signature", ErrVerification)
	// ErrSignatureMismatch: no v1 signature matches the body.
	ErrSignatureMismatch = fmt.Errorf("%w: no matching signature", ErrVerification)
	// ErrBodyTooLarge: the body is larger than the verifier's
	// MaxBodyBytes.
	ErrBodyTooLarge = fmt.Errorf("%w: body too large", ErrVerification)
)

// ErrInvalidSecret is wrapped by the error of NewSigner and NewVerifier
// for a secret that is not base64 (optionally prefixed by "whsec_") of 24 to
// 64 bytes.
var ErrInvalidSecret = errors.New("webhook: invalid secret")

// Signer signs requests per the Standard Webhooks specification with one or
// more secrets (several while a secret rotates). A Signer is safe for
// concurrent use.
type Signer struct {
	keys [][]byte
	// macs holds, per key, HMAC states ready to be Reset and reused, so
	// that signing allocates nothing but its result.
	macs []sync.Pool // of *macState
}

// macState is a reusable HMAC-SHA256 of one key, and room to write the
// signed message's prefix in.
type macState struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// NewSigner returns a Signer for the secrets, each "whsec_" and base64
// (the prefix may be left out).
func NewSigner(secrets ...string) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret given", ErrInvalidSecret)
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := parseSecret(s)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return &Signer{keys: keys, macs: make([]sync.Pool, len(keys))}, nil
}

func parseSecret(s string) ([]byte, error) {
	if !strings.HasPrefix(s, SecretPrefix) {
		s = SecretPrefix + s
	}
	k, err := decodeSecret(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidSecret, err)
	}
	return k, nil
}

// Sign returns the value of the webhook-signature header for a message:
// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" per secret, separated
// by spaces.
func (s *Signer) Sign(id string, ts time.Time, body []byte) string {
	var buf [2 * signatureLen]byte // room for two secrets, as during a rotation
	return string(s.AppendSignature(buf[:0], id, ts.Unix(), body))
}

// signatureLen is the length of one "v1,<base64>" signature and its
// separator.
const signatureLen = len("v1,") + (sha256.Size+2)/3*4 + 1

// AppendSignature appends the webhook-signature value for a message whose
// webhook-timestamp is unix to dst.
func (s *Signer) AppendSignature(dst []byte, id string, unix int64, body []byte) []byte {
	for i, k := range s.keys {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, "v1,"...)
		m, _ := s.macs[i].Get().(*macState)
		if m == nil {
			m = &macState{h: hmac.New(sha256.New, k)}
		} else {
			m.h.Reset()
		}
		m.buf = append(append(m.buf[:0], id...), '.')
		m.buf = append(strconv.AppendInt(m.buf, unix, 10), '.')
		m.h.Write(m.buf)
		m.h.Write(body)
		dst = base64.StdEncoding.AppendEncode(dst, m.h.Sum(m.sum[:0]))
		s.macs[i].Put(m)
	}
	return dst
}

// Verifier checks requests signed per the Standard Webhooks specification:
// by this library, or by any other sender of that specification. A
// Verifier is safe for concurrent use.
type Verifier struct {
	keys [][]byte

	// Tolerance is how far webhook-timestamp may be from Now, in either
	// direction. Defaults to 5 minutes.
	Tolerance time.Duration
	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time
	// MaxBodyBytes is the largest body Verify accepts and Middleware
	// reads. Defaults to 1 MiB.
	MaxBodyBytes int64
}

// NewVerifier returns a Verifier that accepts a signature by any of the
// secrets, each "whsec_" and base64 (the prefix may be left out).
func NewVerifier(secrets ...string) (*Verifier, error) {
	s, err := NewSigner(secrets...)
	if err != nil {
		return nil, err
	}
	return &Verifier{keys: s.keys}, nil
}

// Verify checks a request's headers and body with one secret, the default
// tolerance and the default body limit. See Verifier.Verify.
func Verify(secret string, h http.Header, body []byte) error {
	v, err := NewVerifier(secret)
	if err != nil {
		return err
	}
	return v.Verify(h, body)
}

// Verify checks the webhook-id, webhook-timestamp and webhook-signature
// headers against the body. It returns nil if one v1 signature matches one
// of the secrets (compared in constant time), the timestamp is within the
// tolerance and the body within MaxBodyBytes, and otherwise an error
// wrapping ErrVerification and one of the more precise errors above.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	if int64(len(body)) > v.maxBody() {
		return ErrBodyTooLarge
	}
	id, tsRaw, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	switch {
	case id == "":
		return fmt.Errorf("%w %s", ErrMissingHeader, HeaderID)
	case tsRaw == "":
		return fmt.Errorf("%w %s", ErrMissingHeader, HeaderTimestamp)
	case sigs == "":
		return fmt.Errorf("%w %s", ErrMissingHeader, HeaderSignature)
	}
	unix, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil || len(tsRaw) > maxTimestampDigits || !digits(tsRaw) {
		return fmt.Errorf("%w %s: not a Unix time in seconds", ErrInvalidHeader, HeaderTimestamp)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tol := v.Tolerance
	if tol <= 0 {
		tol = defaultTolerance
	}
	nowUnix := now().Unix()
	tolSec := int64(tol / time.Second)
	if unix < nowUnix-tolSec {
		return ErrTimestampTooOld
	}
	if unix > nowUnix+tolSec {
		return ErrTimestampTooNew
	}
	want := make([][]byte, len(v.keys))
	for i, k := range v.keys {
		mac := hmac.New(sha256.New, k)
		io.WriteString(mac, id)
		mac.Write([]byte{'.'})
		io.WriteString(mac, tsRaw)
		mac.Write([]byte{'.'})
		mac.Write(body)
		want[i] = mac.Sum(nil)
	}
	// Every part is tried, as the specification asks ("try to verify each
	// signature until one matches"): a malformed part is an error only
	// when no other part matches, so the result does not depend on the
	// order of the parts.
	sawV1 := false
	malformed := ""
	for _, part := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(part, ",")
		if !ok {
			if malformed == "" {
				malformed = part
			}
			continue
		}
		if version != "v1" {
			continue
		}
		sawV1 = true
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		for _, w := range want {
			if hmac.Equal(got, w) {
				return nil
			}
		}
	}
	switch {
	case malformed != "":
		return fmt.Errorf("%w %s: %q is not version,signature", ErrInvalidHeader, HeaderSignature, truncate(malformed, 16))
	case !sawV1:
		return ErrUnsupportedVersion
	}
	return ErrSignatureMismatch
}

func (v *Verifier) maxBody() int64 {
	if v.MaxBodyBytes <= 0 {
		return defaultMaxBodyBytes
	}
	return v.MaxBodyBytes
}

// digits reports whether s is ASCII digits only.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Middleware returns a handler that verifies each request before passing
// it to next, with the body restored for reading. It reads at most
// MaxBodyBytes of a body (one announcing more by its Content-Length is
// refused unread). A request that fails is answered 401 Unauthorized (413
// for a body over MaxBodyBytes) and next is not called.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := v.maxBody()
		if r.ContentLength > limit {
			http.Error(w, ErrBodyTooLarge.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if int64(len(body)) > limit {
			http.Error(w, ErrBodyTooLarge.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}
