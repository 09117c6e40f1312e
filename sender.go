package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Request is one attempt handed to a Sender.
type Request struct {
	// Event and Subscription are what is delivered; read-only.
	Event        *Event
	Subscription *Subscription
	// DeliveryID names the delivery and Attempt numbers the attempt (1 for
	// the first).
	DeliveryID string
	Attempt    int
	// Body is the encoded body and ContentType its media type.
	Body        []byte
	ContentType string
	// Header holds the headers to send: the Standard Webhooks signature
	// headers, Content-Type, User-Agent, basic authentication and the
	// subscription's custom headers.
	Header http.Header
}

// Response is what a Sender got back.
type Response struct {
	// StatusCode is the HTTP status, or 0 for a sender that has none.
	StatusCode int
	// Body is the start of the response body, at most the dispatcher's
	// MaxResponseBodyKept bytes.
	Body []byte
	// RetryAfter is the delay asked for by a Retry-After header, 0 if
	// none.
	RetryAfter time.Duration
}

// Sender delivers attempts for one subscription type. The dispatcher's
// built-in Sender for TypeWebhook POSTs over HTTP; register others in
// Config.Senders to handle a type in-process (SuperOffice's "crmscript",
// say).
//
// Send returns a non-nil error when the attempt failed; with a nil error,
// a StatusCode of 0 or 2xx is a success and any other status a failure.
// Wrap an error with Permanent to stop retries. Send must honour ctx (it
// carries the attempt's timeout) and be safe for concurrent use. A panic
// in Send is recovered and counts as a failed attempt.
type Sender interface {
	Send(ctx context.Context, r *Request) (Response, error)
}

// SenderFunc adapts a function to a Sender.
type SenderFunc func(ctx context.Context, r *Request) (Response, error)

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, r *Request) (Response, error) { return f(ctx, r) }

// httpSender POSTs attempts with an http.Client that follows no redirect.
type httpSender struct {
	client    *http.Client
	maxRead   int64
	maxKeep   int
	guard     *AddressGuard
	httpsOnly bool
}

func (s *httpSender) Send(ctx context.Context, r *Request) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.Subscription.URL, bytes.NewReader(r.Body))
	if err != nil {
		return Response{}, Permanent(errors.New("cannot build request for " + redactedURL(r.Subscription.URL)))
	}
	// The policy may have changed since the subscription was saved, and
	// a proxy or a client without an *http.Transport would not apply the
	// dial-time guard: check the URL itself before every request.
	if s.httpsOnly && req.URL.Scheme != "https" {
		return Response{}, Permanent(&AddressError{Host: req.URL.Hostname(), Reason: "only https is allowed (Config.HTTPSOnly)"})
	}
	if err := s.guard.checkHost(req.URL.Hostname()); err != nil {
		return Response{}, Permanent(err)
	}
	req.Header = r.Header
	resp, err := s.client.Do(req)
	if err != nil {
		err = cleanURLError(err)
		if errors.Is(err, ErrAddressNotAllowed) {
			err = Permanent(err)
		}
		return Response{}, err
	}
	defer resp.Body.Close()
	// Read at most maxRead bytes, so the connection can be reused when
	// the body is short and an endless body cannot hold the worker. Keep
	// a little more than maxKeep until secrets are scrubbed, so that one
	// straddling the cut is scrubbed whole.
	// The secrets are listed only for a body that has bytes: most answers
	// have none.
	var secrets []string
	keep := -1
	buf := readBufPool.Get().(*[512]byte)
	defer readBufPool.Put(buf)
	var kept []byte
	var read int64
	for read < s.maxRead {
		n, rerr := resp.Body.Read(buf[:min(int64(len(buf)), s.maxRead-read)])
		if n > 0 && keep < 0 {
			secrets = echoedSecrets(r.Subscription)
			keep = s.maxKeep
			for _, sec := range secrets {
				keep = max(keep, s.maxKeep+len(sec))
			}
			keep = int(min(int64(keep), s.maxRead))
		}
		if n > 0 && len(kept) < keep {
			kept = append(kept, buf[:min(n, keep-len(kept))]...)
		}
		read += int64(n)
		if rerr != nil {
			break
		}
	}
	kept = scrub(kept, secrets)
	kept = kept[:min(len(kept), s.maxKeep)]
	out := Response{StatusCode: resp.StatusCode, Body: kept}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		out.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return out, nil
}

// readBufPool holds the buffers httpSender reads responses through.
var readBufPool = sync.Pool{New: func() any { return new([512]byte) }}

// redactedText replaces secrets in a response body kept in the attempt
// log.
const redactedText = "[redacted]"

// echoedSecrets lists what an endpoint might echo back of the request that
// the attempt log must not keep: the signing secrets, the basic-auth
// password and credentials, each also as JSON escapes "/".
func echoedSecrets(sub *Subscription) []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		out = append(out, s)
		if strings.Contains(s, "/") {
			out = append(out, strings.ReplaceAll(s, "/", `\/`))
		}
	}
	addSecret := func(s string) {
		if b64, ok := strings.CutPrefix(s, SecretPrefix); ok {
			add(b64) // also covers the prefixed form
		} else {
			add(s)
		}
	}
	addSecret(sub.Secret)
	for _, p := range sub.PreviousSecrets {
		addSecret(p.Secret)
	}
	if ba := sub.BasicAuth; ba != nil && ba.Password != "" {
		add(base64.StdEncoding.EncodeToString([]byte(ba.Username + ":" + ba.Password)))
		if len(ba.Password) >= 4 { // a shorter one would blank out ordinary text
			add(ba.Password)
		}
	}
	// Longest first, so a secret containing another is replaced whole.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

func scrub(b []byte, secrets []string) []byte {
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte(redactedText))
		}
	}
	return b
}

// cleanURLError strips the URL (which may carry tokens in its query) from
// an error of http.Client.Do.
func cleanURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &SendError{Op: ue.Op, URL: redactedURL(ue.URL), Err: ue.Err}
	}
	return err
}

// SendError is a failed HTTP attempt: the request did not get an answer.
// Its URL is redacted of credentials and query values.
type SendError struct {
	// Op is the HTTP method.
	Op string
	// URL is the endpoint, redacted.
	URL string
	// Err is why no answer came.
	Err error
}

// Error is Op, URL and Err's message.
func (e *SendError) Error() string { return e.Op + " " + e.URL + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *SendError) Unwrap() error { return e.Err }

// Timeout reports whether the attempt timed out.
func (e *SendError) Timeout() bool {
	var ne net.Error
	return errors.Is(e.Err, context.DeadlineExceeded) || (errors.As(e.Err, &ne) && ne.Timeout())
}
