// Command genericcrm makes relayhook look like a generic CRM's REST
// notifications: the built-in format webhook.FormatGeneric sends
// {"event_time","event_type","current_context","data"}, and an API key
// travels as a custom header that the receiver checks. A subscription
// with a revoked key is refused, and its delivery given up at once.
package main

import (
	"context"
	"crypto/subtle"
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
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

const (
	orgID = "acme"
	// apiKey is the key the receiver issued to the CRM.
	apiKey = "k_live_7f3a9c"
	// apiKeyHeader carries it.
	apiKeyHeader = "X-Api-Key"
)

// received is one request as the receiver saw it.
type received struct {
	id, path, verdict, body string
	status                  int
}

// notification is the body the receiver expects.
type notification struct {
	EventTime      time.Time         `json:"event_time"`
	EventType      string            `json:"event_type"`
	CurrentContext map[string]string `json:"current_context"`
	Data           json.RawMessage   `json:"data"`
}

func run(out io.Writer) error {
	ctx := context.Background()
	d, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{
		AllowPrivateNetworks: true, // the receiver runs on loopback
		// The events carry fixed timestamps in the past: keep them, rather
		// than prune them at once as older than the retention.
		Retention: -1,
		// A refused API key will not be accepted on a retry either.
		Retry:  &webhook.ExponentialRetry{PermanentStatuses: []int{http.StatusUnauthorized}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}

	// The receiver checks the API key first, then the signature, then
	// reads the notification.
	var mu sync.Mutex
	secrets := map[string]string{} // path -> secret
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		rec := received{id: r.Header.Get(webhook.HeaderID), path: r.URL.Path, body: string(body), status: http.StatusOK}
		var n notification
		switch {
		case subtle.ConstantTimeCompare([]byte(r.Header.Get(apiKeyHeader)), []byte(apiKey)) != 1:
			rec.status, rec.verdict = http.StatusUnauthorized, "rejected: wrong API key"
		case webhook.Verify(secrets[r.URL.Path], r.Header, body) != nil:
			rec.status, rec.verdict = http.StatusUnauthorized, "rejected: bad signature"
		case json.Unmarshal(body, &n) != nil:
			rec.status, rec.verdict = http.StatusBadRequest, "rejected: not a notification"
		default:
			rec.verdict = fmt.Sprintf("accepted: API key ok, signature ok, %s at %s for %s",
				n.EventType, n.EventTime.Format(time.RFC3339), n.CurrentContext["organization_id"])
		}
		got = append(got, rec)
		w.WriteHeader(rec.status)
	}))
	defer srv.Close()

	subs := []*webhook.Subscription{{
		Name: "Data warehouse", URL: srv.URL + "/notify",
		Headers:          map[string]string{apiKeyHeader: apiKey},
		CustomParameters: map[string]string{"user_id": "u_17", "locale": "en-US"},
	}, {
		Name: "Old integration", URL: srv.URL + "/old",
		Headers: map[string]string{apiKeyHeader: "k_live_revoked"},
	}}
	fmt.Fprintln(out, "subscriptions (notification type REST):")
	for _, s := range subs {
		s.OrganizationID = orgID
		s.Events = []string{"*"}
		s.Format = webhook.FormatGeneric
		if err := d.CreateSubscription(ctx, s); err != nil {
			return err
		}
		mu.Lock()
		secrets[s.URL[len(srv.URL):]] = s.Secret
		mu.Unlock()
		fmt.Fprintf(out, "  %-18q format=%s, %s header set\n", s.Name, s.Format, apiKeyHeader)
	}

	if err := d.Start(ctx); err != nil {
		return err
	}
	defer d.Close(ctx)
	events := []webhook.Event{
		{ID: "gen_1", Type: "contact.created", Timestamp: time.Date(2026, 1, 24, 9, 42, 59, 0, time.UTC),
			Data: json.RawMessage(`{"id":"c_42","name":"Ada Lovelace","email":"ada@example.com"}`)},
		{ID: "gen_2", Type: "deal.won", Timestamp: time.Date(2026, 1, 24, 10, 15, 0, 250e6, time.FixedZone("", 3600)),
			Data: json.RawMessage(`{"id":"d_7","amount":1200,"currency":"EUR"}`)},
	}
	fmt.Fprintln(out, "\nsent:")
	for _, ev := range events {
		ev.OrganizationID = orgID
		res, err := d.Dispatch(ctx, ev)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %-15s %s -> %d deliveries\n", ev.Type, res.EventID, res.Enqueued)
	}
	if err := waitFinished(ctx, d, 2*len(events)); err != nil {
		return err
	}
	if err := d.Close(ctx); err != nil {
		return err
	}

	fmt.Fprintln(out, "\nreceived:")
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(got, func(i, j int) bool {
		if got[i].path != got[j].path {
			return got[i].path < got[j].path
		}
		return got[i].id < got[j].id
	})
	for _, r := range got {
		fmt.Fprintf(out, "  %s %-7s %d %s\n    %s\n", r.id, r.path, r.status, r.verdict, r.body)
	}

	fmt.Fprintln(out, "\ndeliveries:")
	for _, s := range subs {
		ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: orgID, SubscriptionID: s.ID})
		if err != nil {
			return err
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i].EventID < ds[j].EventID })
		for _, dl := range ds {
			fmt.Fprintf(out, "  %-18q %s %s after %d attempt(s)\n", s.Name, dl.EventID, dl.State, dl.Attempts)
		}
	}
	return nil
}

// waitFinished waits until the organization has n deliveries, none pending.
func waitFinished(ctx context.Context, d *webhook.Dispatcher, n int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		all, _, err := d.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: orgID, Page: webhook.Page{Limit: webhook.MaxPageLimit}})
		if err != nil {
			return err
		}
		finished := 0
		for _, dl := range all {
			if dl.State != webhook.DeliveryPending {
				finished++
			}
		}
		if finished == n && len(all) == n {
			return nil
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, dl := range all {
				fmt.Fprintf(&b, "; %s %s after %d attempt(s) %s", dl.EventID, dl.State, dl.Attempts, dl.LastError)
			}
			return fmt.Errorf("%d of %d deliveries finished after 10s%s", finished, n, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
