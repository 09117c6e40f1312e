// Command superoffice makes relayhook look like SuperOffice's webhooks to
// its subscribers: a webhook entity with a name, events, a target URL, a
// secret, custom headers, properties injected into the body and a state;
// a receiver verifying the HMAC-SHA256 signature; a failing endpoint
// driven to TooManyErrors with its errors e-mail notified, then fixed and
// re-activated; and a second plugin type, "crmscript", handled in-process.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
	tenant = "Cust12345"
	// typeCRMScript is SuperOffice's plugin that runs a CRMScript instead
	// of POSTing.
	typeCRMScript = "crmscript"
)

// partnerSecret is the secret the partner chose when registering its
// webhook: "whsec_" and the base64 of 32 bytes.
var partnerSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("superoffice-partner-shared-key!!"))

// recorder keeps what the endpoints and the script saw, for printing in
// order at the end.
type recorder struct {
	mu    sync.Mutex
	lines map[string][]string // endpoint -> lines
}

func (r *recorder) add(endpoint, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines[endpoint] = append(r.lines[endpoint], fmt.Sprintf(format, args...))
}

func (r *recorder) count(endpoint string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lines[endpoint])
}

// sorted returns an endpoint's lines ordered by event ID, in the order
// they came for one event.
func (r *recorder) sorted(endpoint string) []string {
	r.mu.Lock()
	lines := append([]string(nil), r.lines[endpoint]...)
	r.mu.Unlock()
	id := func(l string) string { return strings.Fields(l)[0] }
	sort.SliceStable(lines, func(i, j int) bool { return id(lines[i]) < id(lines[j]) })
	return lines
}

func run(out io.Writer) error {
	ctx := context.Background()
	rec := &recorder{lines: map[string][]string{}}
	notes := make(chan webhook.Notification, 4)

	// The crmscript plugin: runs the script named by the webhook's URL
	// in-process, with the same body a webhook would get.
	runScript := webhook.SenderFunc(func(ctx context.Context, r *webhook.Request) (webhook.Response, error) {
		var body struct {
			EventTrigger string
			Data         struct {
				SaleID int
				Status string
			}
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			return webhook.Response{}, webhook.Permanent(err)
		}
		rec.add("crmscript", "%s %s(%s): sale %d is now %s", r.Event.ID, path.Base(r.Subscription.URL), body.EventTrigger, body.Data.SaleID, body.Data.Status)
		return webhook.Response{}, nil
	})

	d, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{
		AllowPrivateNetworks: true, // the endpoints run on loopback
		// The events carry fixed timestamps in the past: keep them, rather
		// than prune them at once as older than the retention.
		Retention: -1,
		// Three consecutive failures turn a webhook to TooManyErrors
		// (SuperOffice's own threshold is higher), and retries come
		// quickly, so the demo finishes in a fraction of a second.
		FailureThreshold: 3,
		Retry:            &webhook.ExponentialRetry{InitialInterval: 50 * time.Millisecond, Multiplier: 2, RandomizationFactor: -1, MaxAttempts: 8},
		Notifier: webhook.NotifierFunc(func(_ context.Context, n webhook.Notification) {
			notes <- n
		}),
		Senders: map[string]webhook.Sender{typeCRMScript: runScript},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}

	// The partner's endpoint verifies the signature with the secret it
	// registered; the ERP's endpoint is down at first.
	verifier, err := webhook.NewVerifier(partnerSecret)
	if err != nil {
		return err
	}
	var erpDown atomic.Bool
	erpDown.Store(true)
	mux := http.NewServeMux()
	mux.Handle("POST /partner", verifier.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.add("partner", "%s signature ok, X-SuperOffice-Tenant: %s\n      %s", r.Header.Get(webhook.HeaderID), r.Header.Get("X-SuperOffice-Tenant"), body)
	})))
	mux.HandleFunc("POST /erp", func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusOK
		if erpDown.Load() {
			status = http.StatusInternalServerError
		}
		rec.add("erp", "%s answered %d", r.Header.Get(webhook.HeaderID), status)
		w.WriteHeader(status)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	partner := &webhook.Subscription{
		Name:        "Partner sales sync",
		Events:      []string{"contact.created", "sale.changed"},
		URL:         srv.URL + "/partner",
		Secret:      partnerSecret,
		Headers:     map[string]string{"X-SuperOffice-Tenant": tenant},
		Properties:  map[string]string{"ContextIdentifier": tenant, "Environment": "sod"},
		ErrorsEmail: "integrations@partner.example",
		CreatedBy:   "ADA",
	}
	erp := &webhook.Subscription{
		Name:        "Legacy ERP",
		Events:      []string{"sale.changed"},
		URL:         srv.URL + "/erp",
		ErrorsEmail: "erp-team@partner.example",
		CreatedBy:   "ADA",
	}
	script := &webhook.Subscription{
		Name:   "Sale script",
		Events: []string{"sale.changed"},
		Type:   typeCRMScript,
		// A crmscript webhook has no endpoint, but a subscription needs
		// an http(s) URL: it names the script.
		URL:       "https://" + strings.ToLower(tenant) + ".superoffice.example/scripts/OnSaleChanged",
		CreatedBy: "BOB",
	}
	fmt.Fprintf(out, "webhooks of %s:\n", tenant)
	for _, s := range []*webhook.Subscription{partner, erp, script} {
		s.OrganizationID = tenant
		if err := d.CreateSubscription(ctx, s); err != nil {
			return err
		}
		fmt.Fprintf(out, "  %-20q type=%-9s state=%-6s events=%s registered by %s", s.Name, s.Type, s.State, strings.Join(s.Events, ","), s.CreatedBy)
		if s.ErrorsEmail != "" {
			fmt.Fprintf(out, ", errors to %s", s.ErrorsEmail)
		}
		fmt.Fprintln(out)
	}

	if err := d.Start(ctx); err != nil {
		return err
	}
	defer d.Close(ctx)
	dispatch := func(id, typ, data string) error {
		res, err := d.Dispatch(ctx, webhook.Event{
			ID: id, Type: typ, OrganizationID: tenant,
			Timestamp: time.Date(2026, 1, 24, 9, 42, 59, 0, time.UTC),
			Data:      json.RawMessage(data),
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %-15s %s -> %s\n", typ, res.EventID, deliveries(res.Enqueued))
		return nil
	}

	fmt.Fprintln(out, "\ndispatching:")
	if err := dispatch("so_1", "contact.created", `{"ContactId":42,"Name":"Lovelace Ltd"}`); err != nil {
		return err
	}
	if err := dispatch("so_2", "sale.changed", `{"SaleId":9,"Status":"Won","Amount":1200}`); err != nil {
		return err
	}

	// The ERP fails every attempt; after the third in a row its webhook
	// turns to TooManyErrors and its errors e-mail is told.
	select {
	case n := <-notes:
		fmt.Fprintf(out, "\ne-mail to %s: webhook %q is now %s (%s)\n", n.Email, n.Subscription.Name, n.State, n.Reason)
	case <-time.After(10 * time.Second):
		return errors.New("no TooManyErrors notification after 10s")
	}
	// Wait for the other two deliveries, and for the ERP's third attempt
	// to be recorded (the Notifier may be told first).
	if err := waitUntil(func() bool {
		ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: tenant, SubscriptionID: erp.ID})
		return err == nil && len(ds) == 1 && ds[0].Attempts == 3 &&
			rec.count("partner") == 2 && rec.count("crmscript") == 1
	}); err != nil {
		return err
	}
	if err := printState(ctx, out, d, erp.ID); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nwhile it is off, it is skipped:")
	if err := dispatch("so_3", "sale.changed", `{"SaleId":10,"Status":"Lost","Amount":300}`); err != nil {
		return err
	}

	// The ERP team fixes the endpoint and re-activates the webhook: the
	// delivery that was waiting resumes, and Replay sends what it missed.
	fmt.Fprintln(out, "\nthe ERP is fixed and its webhook re-activated:")
	erpDown.Store(false)
	if err := d.SetSubscriptionState(ctx, tenant, erp.ID, webhook.StateActive); err != nil {
		return err
	}
	replayed, err := d.Replay(ctx, tenant, erp.ID, time.Time{}, time.Time{})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  replayed %d missed event(s)\n", replayed)
	if err := waitAllDelivered(ctx, d, 7); err != nil {
		return err
	}
	if err := printState(ctx, out, d, erp.ID); err != nil {
		return err
	}

	// A stopped webhook receives nothing.
	if err := d.SetSubscriptionState(ctx, tenant, partner.ID, webhook.StateStopped); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%q stopped:\n", partner.Name)
	if err := dispatch("so_4", "contact.created", `{"ContactId":43,"Name":"Babbage & Co"}`); err != nil {
		return err
	}
	if err := d.Close(ctx); err != nil {
		return err
	}

	for _, endpoint := range []string{"partner", "crmscript", "erp"} {
		fmt.Fprintf(out, "\n%s saw:\n", endpoint)
		for _, l := range rec.sorted(endpoint) {
			fmt.Fprintf(out, "  %s\n", l)
		}
	}
	return nil
}

func printState(ctx context.Context, out io.Writer, d *webhook.Dispatcher, id string) error {
	s, err := d.GetSubscription(ctx, tenant, id)
	if err != nil {
		return err
	}
	ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: tenant, SubscriptionID: id})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  %q: state=%s, consecutive failures=%d", s.Name, s.State, s.ConsecutiveFailures)
	for _, dl := range ds {
		fmt.Fprintf(out, ", %s %s after %d attempt(s)", dl.EventID, dl.State, dl.Attempts)
	}
	fmt.Fprintln(out)
	return nil
}

func deliveries(n int) string {
	if n == 1 {
		return "1 delivery"
	}
	return fmt.Sprintf("%d deliveries", n)
}

// waitUntil polls cond until it holds, for at most 10 seconds.
func waitUntil(cond func() bool) error {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out after 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// waitAllDelivered waits until the tenant has n deliveries, all
// delivered.
func waitAllDelivered(ctx context.Context, d *webhook.Dispatcher, n int) error {
	var last string
	err := waitUntil(func() bool {
		all, _, err := d.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: tenant, Page: webhook.Page{Limit: webhook.MaxPageLimit}})
		if err != nil {
			return false
		}
		done := 0
		for _, dl := range all {
			if dl.State == webhook.DeliveryDelivered {
				done++
			}
		}
		last = fmt.Sprintf("%d of %d deliveries delivered, %d expected", done, len(all), n)
		return done == n && len(all) == n
	})
	if err != nil {
		return fmt.Errorf("%w: %s", err, last)
	}
	return nil
}
