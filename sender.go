package webhook

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
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
	client  *http.Client
	maxRead int64
	maxKeep int
}

func (s *httpSender) Send(ctx context.Context, r *Request) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.Subscription.URL, bytes.NewReader(r.Body))
	if err != nil {
		return Response{}, Permanent(errors.New("cannot build request for " + redactedURL(r.Subscription.URL)))
	}
	req.Header = r.Header
	resp, err := s.client.Do(req)
	if err != nil {
		return Response{}, cleanURLError(err)
	}
	defer resp.Body.Close()
	// Read at most maxRead bytes, so the connection can be reused when
	// the body is short and an endless body cannot hold the worker.
	var buf [512]byte
	var kept []byte
	var read int64
	for read < s.maxRead {
		n, rerr := resp.Body.Read(buf[:min(int64(len(buf)), s.maxRead-read)])
		if n > 0 && len(kept) < s.maxKeep {
			kept = append(kept, buf[:min(n, s.maxKeep-len(kept))]...)
		}
		read += int64(n)
		if rerr != nil {
			break
		}
	}
	out := Response{StatusCode: resp.StatusCode, Body: kept}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		out.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return out, nil
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
	Op  string
	URL string
	Err error
}

func (e *SendError) Error() string { return e.Op + " " + e.URL + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *SendError) Unwrap() error { return e.Err }

// Timeout reports whether the attempt timed out.
func (e *SendError) Timeout() bool {
	var ne net.Error
	return errors.Is(e.Err, context.DeadlineExceeded) || (errors.As(e.Err, &ne) && ne.Timeout())
}

// NewHTTPClient returns the http.Client the dispatcher uses by default: a
// transport of its own (no proxy from the environment, keep-alive
// connections pooled per host, connect and TLS handshake timeouts) that
// follows no redirect.
func NewHTTPClient() *http.Client {
	t := &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   DefaultDialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   DefaultTLSHandshakeTimeout,
		ResponseHeaderTimeout: 0, // the attempt's timeout bounds it
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: t, CheckRedirect: noRedirect}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Timeouts of the default HTTP client.
const (
	DefaultDialTimeout         = 10 * time.Second
	DefaultTLSHandshakeTimeout = 10 * time.Second
)

