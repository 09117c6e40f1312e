// Command receiver is the receiving side of relayhook's webhooks: a plain
// net/http server that verifies each request with webhook.Verifier's
// Middleware (Standard Webhooks signature, timestamp tolerance) and
// de-duplicates on webhook-id, since delivery is at least once. Run, it
// starts itself on loopback, sends itself a few requests (a duplicate, a
// tampered body, a stale timestamp, a wrong secret among them), prints
// what it accepted and rejected, and exits.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relayhook/webhook"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// secret is the subscription's secret, as the sender showed it when the
// subscription was created.
var secret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("receiver-example-secret-32bytes!"))

// retention is how long a handled webhook-id is remembered: as long as
// the sender may retry it (the default schedule ends after 24 hours).
var retention = webhook.DefaultRetryPolicy().MaxElapsedTime + time.Hour

// Receiver handles verified webhooks, each event once.
type Receiver struct {
	seen *SeenIDs
	// Handle processes one event; an error makes the sender retry.
	Handle func(id string, env Envelope) error
}

// Envelope is the default body the sender posts.
type Envelope struct {
	EventTrigger   string          `json:"eventTrigger"`
	EventTimestamp string          `json:"eventTimestamp"`
	OrganizationID string          `json:"organizationId"`
	Data           json.RawMessage `json:"data"`
}

// NewHandler returns the endpoint: the library's verifying middleware in
// front of the Receiver.
func NewHandler(secret string, r *Receiver) (http.Handler, error) {
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		return nil, err
	}
	return v.Middleware(r), nil
}

// ServeHTTP handles a request that the middleware verified. A duplicate of
// a handled event is acknowledged (so the sender stops) and not handled
// again; one arriving while the first copy is still being handled gets
// 409, so the sender retries later.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(webhook.HeaderID)
	switch rc.seen.Begin(id) {
	case Duplicate:
		fmt.Fprintln(w, "duplicate of a handled event, ignored")
		return
	case InProgress:
		http.Error(w, "the same event is being handled", http.StatusConflict)
		return
	}
	var env Envelope
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(body, &env)
	}
	if err == nil {
		err = rc.Handle(id, env)
	}
	rc.seen.Finish(id, err == nil)
	if err != nil {
		http.Error(w, "not handled: "+err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "accepted")
}

// Verdicts of SeenIDs.Begin.
const (
	New        = iota // not seen: handle it
	Duplicate         // handled before
	InProgress        // being handled now
)

// SeenIDs remembers the webhook-ids handled for a retention time. (The
// webhook-id is the event's ID, unique within one sending organization;
// a receiver fed by several should key on the organization too.)
type SeenIDs struct {
	mu        sync.Mutex
	retention time.Duration
	now       func() time.Time
	handled   map[string]time.Time // id -> when handled
	inFlight  map[string]bool
	lastSweep time.Time
}

// NewSeenIDs returns an empty SeenIDs.
func NewSeenIDs(retention time.Duration, now func() time.Time) *SeenIDs {
	return &SeenIDs{retention: retention, now: now, handled: map[string]time.Time{}, inFlight: map[string]bool{}}
}

// Begin reports whether id is New (and marks it in progress), a
// Duplicate, or InProgress.
func (s *SeenIDs) Begin(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.lastSweep) > time.Minute {
		for k, at := range s.handled {
			if now.Sub(at) > s.retention {
				delete(s.handled, k)
			}
		}
		s.lastSweep = now
	}
	if at, ok := s.handled[id]; ok && now.Sub(at) <= s.retention {
		return Duplicate
	}
	if s.inFlight[id] {
		return InProgress
	}
	s.inFlight[id] = true
	return New
}

// Finish ends the handling of id begun by Begin: remembered if ok,
// forgotten otherwise so that the sender's retry is handled.
func (s *SeenIDs) Finish(id string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inFlight, id)
	if ok {
		s.handled[id] = s.now()
	}
}

func run(out io.Writer) error {
	var mu sync.Mutex
	var accepted []string
	rc := &Receiver{
		seen: NewSeenIDs(retention, time.Now),
		Handle: func(id string, env Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			accepted = append(accepted, fmt.Sprintf("%s %s %s", id, env.EventTrigger, env.Data))
			return nil
		},
	}
	h, err := NewHandler(secret, rc)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks", h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintln(out, "receiver listening on loopback, POST /webhooks")

	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	url := "http://" + ln.Addr().String() + "/webhooks"
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("some-other-subscriptions-secret!"))
	created := `{"eventTrigger":"contact.created","eventTimestamp":"2026-01-24T09:42:59.000+00:00","organizationId":"org_1","data":{"id":42},"customParameters":{}}`
	changed := `{"eventTrigger":"sale.changed","eventTimestamp":"2026-01-24T09:43:10.000+00:00","organizationId":"org_1","data":{"id":9},"customParameters":{}}`
	for _, c := range []struct {
		what, id, body, secret string
		age                    time.Duration
		tamper                 bool
	}{
		{what: "contact.created", id: "evt_1", body: created, secret: secret},
		{what: "the same event again (a retry)", id: "evt_1", body: created, secret: secret},
		{what: "a body changed after signing", id: "evt_2", body: changed, secret: secret, tamper: true},
		{what: "a request signed 10 minutes ago", id: "evt_3", body: changed, secret: secret, age: 10 * time.Minute},
		{what: "signed with another secret", id: "evt_4", body: changed, secret: other},
		{what: "sale.changed", id: "evt_5", body: changed, secret: secret},
	} {
		signed := time.Now().Add(-c.age)
		sig, err := sign(c.secret, c.id, signed, c.body)
		if err != nil {
			return err
		}
		body := c.body
		if c.tamper {
			body = strings.Replace(body, `"id":9`, `"id":10`, 1)
		}
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", webhook.ContentTypeJSON)
		req.Header.Set(webhook.HeaderID, c.id)
		req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(signed.Unix(), 10))
		req.Header.Set(webhook.HeaderSignature, sig)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(out, "  %s %-33s -> %d %s\n", c.id, c.what, resp.StatusCode, strings.TrimSpace(string(answer)))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(out, "handled %d event(s):\n", len(accepted))
	for _, a := range accepted {
		fmt.Fprintf(out, "  %s\n", a)
	}
	return nil
}

// sign is what the sender does: a Standard Webhooks signature of the
// message.
func sign(secret, id string, at time.Time, body string) (string, error) {
	s, err := webhook.NewSigner(secret)
	if err != nil {
		return "", err
	}
	return s.Sign(id, at, []byte(body)), nil
}
