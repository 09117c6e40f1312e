// Command agilecrm makes relayhook look like Agile CRM to its subscribers:
// the built-in format webhook.FormatAgileCRM sends
// {"eventName":"Contact is Created","eventData":{...}}, and subscriptions
// are per module (contacts, deals). A loopback receiver verifies each
// request and prints what it got.
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
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

const orgID = "agile_domain_1"

// received is one request as the subscriber saw it.
type received struct {
	id, module, eventName, body string
	verified                    bool
}

func run(out io.Writer) error {
	ctx := context.Background()
	d, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{
		AllowPrivateNetworks: true, // the receiver runs on loopback
		// The events carry fixed timestamps in the past: keep them, rather
		// than prune them at once as older than the retention.
		Retention: -1,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}

	// The subscriber: one URL per module, each verified with its own
	// subscription's secret.
	var mu sync.Mutex
	secrets := map[string]string{} // module -> secret
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		module := strings.TrimPrefix(r.URL.Path, "/agile/")
		var msg struct {
			EventName string          `json:"eventName"`
			EventData json.RawMessage `json:"eventData"`
		}
		if err := json.Unmarshal(body, &msg); err != nil || msg.EventName == "" {
			http.Error(w, "not an Agile CRM webhook", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		rec := received{
			id: r.Header.Get(webhook.HeaderID), module: module, eventName: msg.EventName, body: string(body),
			verified: webhook.Verify(secrets[module], r.Header, body) == nil,
		}
		got = append(got, rec)
		if !rec.verified {
			http.Error(w, "bad signature", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()

	fmt.Fprintln(out, "subscriptions, one per module:")
	for _, m := range []struct{ module, pattern string }{
		{"contacts", "contact.*"},
		{"deals", "deal.*"},
	} {
		s := &webhook.Subscription{
			OrganizationID: orgID,
			Name:           "Agile CRM " + m.module,
			URL:            srv.URL + "/agile/" + m.module,
			Events:         []string{m.pattern},
			Format:         webhook.FormatAgileCRM,
		}
		if err := d.CreateSubscription(ctx, s); err != nil {
			return err
		}
		mu.Lock()
		secrets[m.module] = s.Secret
		mu.Unlock()
		fmt.Fprintf(out, "  %-20q %-10s format=%s\n", s.Name, m.pattern, s.Format)
	}

	if err := d.Start(ctx); err != nil {
		return err
	}
	defer d.Close(ctx)
	events := []webhook.Event{
		{ID: "agile_1", Type: "contact.created", Data: json.RawMessage(`{"id":5629499534213120,"type":"PERSON","properties":[{"type":"SYSTEM","name":"first_name","value":"Ada"},{"type":"SYSTEM","name":"email","subtype":"work","value":"ada@example.com"}],"tags":["lead"]}`)},
		{ID: "agile_2", Type: "deal.created", Data: json.RawMessage(`{"id":5707702298738688,"name":"Analytical Engine","expected_value":1200,"milestone":"New","probability":10,"contact_ids":["5629499534213120"]}`)},
		{ID: "agile_3", Type: "contact.updated", Data: json.RawMessage(`{"id":5629499534213120,"type":"PERSON","properties":[{"type":"SYSTEM","name":"first_name","value":"Ada"},{"type":"SYSTEM","name":"last_name","value":"Lovelace"}],"tags":["lead","vip"]}`)},
		{ID: "agile_4", Type: "deal.updated", Data: json.RawMessage(`{"id":5707702298738688,"name":"Analytical Engine","expected_value":1500,"milestone":"Won","probability":100,"contact_ids":["5629499534213120"]}`)},
	}
	fmt.Fprintln(out, "\nsent:")
	for _, ev := range events {
		ev.OrganizationID = orgID
		ev.Timestamp = time.Date(2026, 1, 24, 9, 42, 59, 0, time.UTC)
		res, err := d.Dispatch(ctx, ev)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %-16s %s -> %d delivery (%s)\n", ev.Type, res.EventID, res.Enqueued, webhook.AgileCRMEventName(ev.Type))
	}
	if err := waitDelivered(ctx, d, len(events)); err != nil {
		return err
	}
	if err := d.Close(ctx); err != nil {
		return err
	}

	fmt.Fprintln(out, "\nreceived:")
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(got, func(i, j int) bool { return got[i].id < got[j].id })
	for _, r := range got {
		verdict := "signature ok"
		if !r.verified {
			verdict = "signature FAILED"
		}
		fmt.Fprintf(out, "  %s /agile/%-8s %-18q %s\n    %s\n", r.id, r.module, r.eventName, verdict, r.body)
		if !r.verified {
			return fmt.Errorf("request %s did not verify", r.id)
		}
	}
	return nil
}

// waitDelivered waits until n deliveries are delivered and none is pending.
func waitDelivered(ctx context.Context, d *webhook.Dispatcher, n int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		all, _, err := d.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: orgID, Page: webhook.Page{Limit: webhook.MaxPageLimit}})
		if err != nil {
			return err
		}
		done := 0
		for _, dl := range all {
			if dl.State == webhook.DeliveryDelivered {
				done++
			}
		}
		if done == n && len(all) == n {
			return nil
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, dl := range all {
				fmt.Fprintf(&b, "; %s %s after %d attempt(s) %s", dl.EventID, dl.State, dl.Attempts, dl.LastError)
			}
			return fmt.Errorf("%d of %d deliveries delivered after 10s%s", done, n, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
