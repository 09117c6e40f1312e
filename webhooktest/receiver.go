package webhooktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayhook/webhook"
)

// MaxRequestBody is the most bytes of a request body a Receiver reads and
// records.
const MaxRequestBody = 4 << 20

// ErrNoSecret is the VerifyErr of a request that arrived before the
// Receiver was given a secret (with Receiver.SetSecret or
// Dispatcher.Subscribe).
var ErrNoSecret = errors.New("webhooktest: receiver has no secret to verify with")

// Reply is how a Receiver answers one request.
type Reply struct {
	// Status is the HTTP status. Defaults to 200.
	Status int
	// Delay holds the answer back this long (real time), or until the
	// client gives up. Defaults to 0.
	Delay time.Duration
	// Hang never answers: the request is held until the client gives up
	// (at the dispatcher's Config.Timeout) or the Receiver is closed.
	Hang bool
	// RetryAfter, when set, is sent as the Retry-After header: seconds
	// ("30") or an HTTP date.
	RetryAfter string
	// Body is the response body. Defaults to the status's text.
	Body string
}

// Request is one request a Receiver got, recorded when it arrived (before
// it was answered). Its fields must not be modified.
type Request struct {
	// Seq numbers the requests of a Receiver: 1 for the first.
	Seq int
	// Method and Path are the request's method and URL path, so one
	// Receiver can serve several subscriptions on different paths.
	Method string
	Path   string
	// Header holds the request's headers.
	Header http.Header
	// Body is the raw body (at most MaxRequestBody bytes).
	Body []byte
	// JSON is the JSON document sent: Body, or for a form-urlencoded body
	// its field "payload". Nil when the document is not valid JSON.
	JSON json.RawMessage
	// Decoded is JSON decoded (numbers as json.Number); nil when it is
	// not a JSON object.
	Decoded map[string]any
	// Envelope is JSON decoded as the default body format, when it has an
	// "eventTrigger" key; zero for other formats.
	Envelope Envelope
	// Verified reports whether the signature headers verified with the
	// Receiver's secrets; VerifyErr says why not.
	Verified  bool
	VerifyErr error
	// Status is the status the Receiver answers (or answered); 0 for a
	// Reply that hangs.
	Status int
	// Received is when the request arrived, on the Receiver's clock.
	Received time.Time
}

// Envelope is the default body format (webhook.FormatEnvelope), decoded.
// The subscription's Properties, also top-level keys of the body, are in
// Request.Decoded.
type Envelope struct {
	EventTrigger     string            `json:"eventTrigger"`
	EventTimestamp   string            `json:"eventTimestamp"`
	OrganizationID   string            `json:"organizationId"`
	Data             json.RawMessage   `json:"data"`
	CustomParameters map[string]string `json:"customParameters"`
}

// ID returns the webhook-id header: the event's ID.
func (r *Request) ID() string { return r.Header.Get(webhook.HeaderID) }

// EventType returns the event's type as the body names it: the
// Envelope's eventTrigger, or event_type (webhook.FormatGeneric); "" for
// other bodies.
func (r *Request) EventType() string {
	for _, key := range []string{"eventTrigger", "event_type"} {
		if t, ok := r.Decoded[key].(string); ok {
			return t
		}
	}
	return ""
}

// Decode unmarshals the JSON document into v.
func (r *Request) Decode(v any) error {
	if r.JSON == nil {
		return fmt.Errorf("webhooktest: request #%d carries no JSON document", r.Seq)
	}
	return json.Unmarshal(r.JSON, v)
}

// String describes the request on one line: number, method, path, event
// ID, verification and answer.
func (r *Request) String() string {
	verdict := "verified"
	if !r.Verified {
		verdict = fmt.Sprintf("NOT verified (%v)", r.VerifyErr)
	}
	answer := fmt.Sprintf("answered %d", r.Status)
	if r.Status == 0 {
		answer = "left hanging"
	}
	return fmt.Sprintf("#%d %s %s webhook-id=%q %s, %s", r.Seq, r.Method, r.Path, r.ID(), verdict, answer)
}

// ReceiverConfig configures a Receiver. The zero value (or nil) gives the
// defaults. Its secrets are set with Receiver.SetSecret (or by
// Dispatcher.Subscribe), its replies with Receiver.Script.
type ReceiverConfig struct {
	// Clock is what webhook-timestamp is checked against; it must be the
	// dispatcher's when that runs on a fake Clock. Defaults to the system
	// clock; Dispatcher.NewReceiver and Dispatcher.Subscribe set the
	// dispatcher's.
	Clock webhook.Clock
	// RejectUnverified makes the Receiver answer 401 to every request
	// that does not verify, as a real receiver does, without consuming a
	// Reply of the script. Defaults to false: answering from the script
	// whatever the verification said.
	RejectUnverified bool
}

// Statuses returns a Reply with each status, for Receiver.Script:
// rcv.Script(webhooktest.Statuses(500, 200)...).
func Statuses(statuses ...int) []Reply { return statusReplies(statuses) }

func statusReplies(statuses []int) []Reply {
	replies := make([]Reply, len(statuses))
	for i, s := range statuses {
		replies[i] = Reply{Status: s}
	}
	return replies
}

// Receiver is a recording webhook endpoint: a real HTTP server on loopback
// that verifies each request's signature, records it, and answers from a
// script. Any path is accepted. It is closed by the test's Cleanup;
// requests still held by a Delay or a Hang are then cut off. All methods
// are safe for concurrent use.
type Receiver struct {
	// URL is the server's base URL, "http://127.0.0.1:port".
	URL string

	srv              *httptest.Server
	rejectUnverified bool

	mu        sync.Mutex
	clock     webhook.Clock
	verifier  *webhook.Verifier
	secretErr error
	script    []Reply
	scripted  int // requests answered from the current script
	requests  []*Request
	arrived   chan struct{} // closed and replaced when a request arrives
	done      chan struct{} // closed when the Receiver closes
}

// NewReceiver starts a Receiver, closed when the test ends; cfg may be
// nil. It answers 200 OK until Script says otherwise, and verifies with
// the secrets SetSecret gives it (or Dispatcher.Subscribe).
func NewReceiver(tb testing.TB, cfg *ReceiverConfig) *Receiver {
	tb.Helper()
	var c ReceiverConfig
	if cfg != nil {
		c = *cfg
	}
	r := &Receiver{
		clock:            orDefault[webhook.Clock](c.Clock, webhook.SystemClock{}),
		rejectUnverified: c.RejectUnverified,
		secretErr:        ErrNoSecret,
		arrived:          make(chan struct{}),
		done:             make(chan struct{}),
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	tb.Cleanup(func() {
		close(r.done)
		r.srv.Close()
	})
	return r
}

// SetSecret makes the Receiver verify with the secrets, replacing any it
// had: a request verifies if it is signed with any of them. During a
// rotation the dispatcher signs with the new secret and the old ones, so
// the new one alone verifies.
func (r *Receiver) SetSecret(secrets ...string) { r.setSecrets(secrets) }

// expect makes the Receiver verify with the subscription's Secret and
// PreviousSecrets.
func (r *Receiver) expect(sub *webhook.Subscription) {
	secrets := []string{sub.Secret}
	for _, p := range sub.PreviousSecrets {
		secrets = append(secrets, p.Secret)
	}
	r.setSecrets(secrets)
}

func (r *Receiver) setSecrets(secrets []string) {
	v, err := webhook.NewVerifier(secrets...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.verifier, r.secretErr = nil, fmt.Errorf("webhooktest: receiver's secret: %w", err)
		return
	}
	v.Now = r.now
	r.verifier, r.secretErr = v, nil
}

// now reads the Receiver's clock.
func (r *Receiver) now() time.Time {
	r.mu.Lock()
	c := r.clock
	r.mu.Unlock()
	return c.Now()
}

// useClock makes the Receiver read time from c.
func (r *Receiver) useClock(c webhook.Clock) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clock = c
}

// Script sets how the Receiver answers, replacing the script it had: the
// next request gets the first Reply, and so on, the last repeating. No
// replies means 200 OK, as before the first Script. For replies that are
// only statuses, use Statuses.
func (r *Receiver) Script(replies ...Reply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.script, r.scripted = replies, 0
}

// Len returns how many requests arrived.
func (r *Receiver) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

// Requests returns the requests that arrived, in order.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Request, len(r.requests))
	for i, q := range r.requests {
		out[i] = *q
	}
	return out
}

// WaitFor waits until at least n requests arrived and returns all that
// did. If they do not arrive within timeout (real time) it fails the test
// with a summary of what did arrive.
func (r *Receiver) WaitFor(tb testing.TB, n int, timeout time.Duration) []Request {
	tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		got, arrived := len(r.requests), r.arrived
		r.mu.Unlock()
		if got >= n {
			return r.Requests()
		}
		select {
		case <-arrived:
		case <-timer.C:
			tb.Fatalf("webhooktest: waited %v for %d request(s) to %s, %d arrived%s", timeout, n, r.URL, got, r.Summary())
			return nil
		}
	}
}

// WaitForEvents waits until a request has arrived for each of the event
// types (see Request.EventType; a type listed twice needs two requests), in
// any order, and returns all requests that arrived. If they do not arrive
// within timeout it fails the test with the types wanted, those missing,
// and a summary of what did arrive.
func (r *Receiver) WaitForEvents(tb testing.TB, timeout time.Duration, types ...string) []Request {
	tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		arrived := r.arrived
		r.mu.Unlock()
		reqs := r.Requests()
		missing := missingTypes(reqs, types)
		if len(missing) == 0 {
			return reqs
		}
		select {
		case <-arrived:
		case <-timer.C:
			got := make([]string, len(reqs))
			for i := range reqs {
				got[i] = reqs[i].EventType()
			}
			tb.Fatalf("webhooktest: waited %v for events at %s\n  want:    %s\n  got:     %s\n  missing: %s\nrequests%s",
				timeout, r.URL, strings.Join(types, ", "), strings.Join(got, ", "), strings.Join(missing, ", "), orDefault(r.Summary(), ": none"))
			return nil
		}
	}
}

// missingTypes returns the types that no request accounts for, each
// request counting once.
func missingTypes(reqs []Request, types []string) []string {
	have := map[string]int{}
	for i := range reqs {
		have[reqs[i].EventType()]++
	}
	var missing []string
	for _, t := range types {
		if have[t] > 0 {
			have[t]--
			continue
		}
		missing = append(missing, t)
	}
	return missing
}

// Summary describes every request that arrived, one per line with the
// start of its JSON document, for a failure message.
func (r *Receiver) Summary() string {
	reqs := r.Requests()
	if len(reqs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(":")
	for i := range reqs {
		q := &reqs[i]
		doc := q.JSON
		if doc == nil {
			doc = q.Body
		}
		fmt.Fprintf(&b, "\n  %s\n      %s", q, truncate(string(doc), 300))
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, MaxRequestBody))
	q := &Request{
		Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Body: body,
		Received: r.now(),
	}
	q.JSON = jsonDocument(req.Header.Get("Content-Type"), body)
	if q.JSON != nil {
		dec := json.NewDecoder(bytes.NewReader(q.JSON))
		dec.UseNumber()
		if dec.Decode(&q.Decoded) != nil {
			q.Decoded = nil
		}
		if _, ok := q.Decoded["eventTrigger"]; ok {
			_ = json.Unmarshal(q.JSON, &q.Envelope)
		}
	}

	r.mu.Lock()
	verifier, secretErr := r.verifier, r.secretErr
	r.mu.Unlock()
	if verifier != nil {
		q.VerifyErr = verifier.Verify(req.Header, body) // reads the clock through r.now: not under r.mu
	} else {
		q.VerifyErr = secretErr
	}
	q.Verified = q.VerifyErr == nil

	r.mu.Lock()
	var reply Reply
	if !q.Verified && r.rejectUnverified {
		reply = Reply{Status: http.StatusUnauthorized}
	} else if len(r.script) > 0 {
		reply = r.script[min(r.scripted, len(r.script)-1)]
		r.scripted++
	}
	reply.Status = orDefault(reply.Status, http.StatusOK)
	if !reply.Hang {
		q.Status = reply.Status
	}
	q.Seq = len(r.requests) + 1
	r.requests = append(r.requests, q)
	close(r.arrived)
	r.arrived = make(chan struct{})
	r.mu.Unlock()

	if reply.Hang {
		select {
		case <-req.Context().Done():
		case <-r.done:
		}
		panic(http.ErrAbortHandler) // no answer at all
	}
	if reply.Delay > 0 {
		t := time.NewTimer(reply.Delay)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return
		case <-r.done:
			t.Stop()
			panic(http.ErrAbortHandler)
		}
	}
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	if reply.Body == "" {
		reply.Body = http.StatusText(reply.Status)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(reply.Status)
	_, _ = io.WriteString(w, reply.Body)
}

// jsonDocument returns the JSON document of a body: the body itself, or
// the "payload" field of a form; nil if that is not valid JSON.
func jsonDocument(contentType string, body []byte) json.RawMessage {
	doc := body
	if mt, _, _ := mime.ParseMediaType(contentType); mt == webhook.ContentTypeForm {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil
		}
		doc = []byte(form.Get("payload"))
	}
	if !json.Valid(doc) {
		return nil
	}
	return json.RawMessage(doc)
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
