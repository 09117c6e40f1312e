// Command quickstart shows relayhook doing its work on the in-memory store:
// a receiver on loopback, three subscriptions (one whose endpoint fails at
// first and is retried), a few events dispatched, every request verified
// as a Standard Webhooks receiver would, and the attempt log printed.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// orgID is the one organization (tenant) of the demo.
const orgID = "org_acme"

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// lockedWriter serialises writes from the receiver's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func run(w io.Writer) error {
	ctx := context.Background()
	out := &lockedWriter{w: w}
	d, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{
		// The receiver runs on loopback, which is refused by default.
		AllowPrivateNetworks: true,
		// A quick schedule so the demo's retry shows within a second.
		Retry:  &webhook.ExponentialRetry{InitialInterval: 300 * time.Millisecond, MaxAttempts: 5},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}

	// The receiving side: one handler per subscription, each verifying
	// with that subscription's secret.
	var mu sync.Mutex
	secrets := map[string]string{} // path -> secret
	var flaky atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		secret := secrets[r.URL.Path]
		mu.Unlock()
		verdict := "signature verified"
		if err := webhook.Verify(secret, r.Header, body); err != nil {
			verdict = "signature REJECTED: " + err.Error()
		}
		if r.URL.Path == "/flaky" && flaky.Add(1) == 1 {
			fmt.Fprintf(out, "  %-7s answers 503 to %s (first try)\n", r.URL.Path, r.Header.Get("webhook-id"))
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(out, "  %-7s got %s  %s\n          %s\n", r.URL.Path, r.Header.Get("webhook-id"), verdict, body)
	}))
	defer srv.Close()

	subscribe := func(name, path, contentType string, events ...string) (*webhook.Subscription, error) {
		s := &webhook.Subscription{
			OrganizationID: orgID, Name: name, URL: srv.URL + path,
			Events: events, ContentType: contentType,
			CustomParameters: map[string]string{"source": "quickstart"},
		}
		if err := d.CreateSubscription(ctx, s); err != nil {
			return nil, err
		}
		mu.Lock()
		secrets[path] = s.Secret
		mu.Unlock()
		fmt.Fprintf(out, "subscribed %-12q %-8s to %v\n", name, path, events)
		return s, nil
	}
	var subs []*webhook.Subscription
	for _, s := range []struct {
		name, path, ct string
		events         []string
	}{
		{"contacts", "/contacts", webhook.ContentTypeJSON, []string{"contact.*"}},
		{"sales", "/sales", webhook.ContentTypeForm, []string{"sale.changed"}},
		{"flaky", "/flaky", webhook.ContentTypeJSON, []string{"*"}},
	} {
		sub, err := subscribe(s.name, s.path, s.ct, s.events...)
		if err != nil {
			return err
		}
		subs = append(subs, sub)
	}

	if err := d.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "\ndispatching:")
	for _, ev := range []webhook.Event{
		{Type: "contact.created", OrganizationID: orgID, Data: json.RawMessage(`{"id":1,"name":"Ada Lovelace"}`)},
		{Type: "sale.changed", OrganizationID: orgID, Data: json.RawMessage(`{"id":9,"amount":1200}`)},
	} {
		res, err := d.Dispatch(ctx, ev)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s %s -> %d deliveries\n", ev.Type, res.EventID, res.Enqueued)
	}

	// Wait until nothing is pending.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending, _, err := d.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: orgID, State: webhook.DeliveryPending})
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d deliveries still pending after 10s", len(pending))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := d.Close(ctx); err != nil {
		return err
	}

	fmt.Fprintln(out, "\nattempt log:")
	all, _, err := d.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: orgID})
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, s := range subs {
		names[s.ID] = s.Name
	}
	sort.Slice(all, func(i, j int) bool { return names[all[i].SubscriptionID] < names[all[j].SubscriptionID] })
	failed := 0
	for _, dl := range all {
		fmt.Fprintf(out, "  %-9s %s %s\n", names[dl.SubscriptionID], dl.EventID, dl.State)
		_, attempts, err := d.GetDelivery(ctx, orgID, dl.ID)
		if err != nil {
			return err
		}
		for _, a := range attempts {
			res := fmt.Sprintf("%d %s", a.StatusCode, strings.TrimSpace(a.Error))
			fmt.Fprintf(out, "    attempt %d: %-40s -> %s\n", a.Number, res, a.Outcome)
		}
		if dl.State != webhook.DeliveryDelivered {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d deliveries not delivered", failed)
	}
	fmt.Fprintln(out, "\nall deliveries delivered")
	return nil
}
