// Command neoncrm makes relayhook look like NeonCRM to its subscribers:
// CREATE/UPDATE/DELETE events per data type (account, donation,
// membership), the Envelope body as JSON or as the form field "payload",
// HTTP basic authentication, and custom parameters on every POST. A
// loopback receiver checks each request as a NeonCRM subscriber would and
// prints it.
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
	"net/url"
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

// The organization's NeonCRM instance and the credentials its subscribers
// gave for basic authentication.
const (
	orgID    = "neon_org_1"
	username = "neon-webhooks"
	password = "correct horse battery staple"
)

// neonZone is the offset of the organization's timestamps, as in NeonCRM's
// documentation ("2017-01-24T03:42:59.000-06:00").
var neonZone = time.FixedZone("CST", -6*60*60)

// received is one request as the subscriber saw it.
type received struct {
	id, path, contentType string
	authOK, signatureOK   bool
	raw, payload          string
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

	// The subscriber's endpoint: checks basic auth and the signature,
	// then reads the Envelope from the body or the form field "payload".
	var mu sync.Mutex
	secrets := map[string]string{} // path -> the subscription's secret
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		user, pass, ok := r.BasicAuth()
		mu.Lock()
		defer mu.Unlock()
		rec := received{
			id: r.Header.Get(webhook.HeaderID), path: r.URL.Path, contentType: r.Header.Get("Content-Type"),
			authOK:      ok && user == username && pass == password,
			signatureOK: webhook.Verify(secrets[r.URL.Path], r.Header, raw) == nil,
			raw:         string(raw), payload: string(raw),
		}
		if rec.contentType == webhook.ContentTypeForm {
			form, err := url.ParseQuery(string(raw))
			if err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			rec.payload = form.Get("payload")
		}
		got = append(got, rec)
		if !rec.authOK || !rec.signatureOK {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}))
	defer srv.Close()

	// One webhook per data type, as a NeonCRM administrator would set
	// them up: the triggers of that type, a content type, credentials and
	// custom parameters sent with every POST.
	auth := &webhook.BasicAuth{Username: username, Password: password}
	subs := []*webhook.Subscription{{
		Name: "Accounts to the mailing list", URL: srv.URL + "/accounts",
		Events:      []string{"createAccount", "updateAccount", "deleteAccount"},
		ContentType: webhook.ContentTypeJSON, BasicAuth: auth,
		CustomParameters: map[string]string{"list": "newsletter", "apiVersion": "2.6"},
	}, {
		Name: "Donations to accounting", URL: srv.URL + "/donations",
		Events:      []string{"createDonation", "updateDonation", "deleteDonation"},
		ContentType: webhook.ContentTypeForm, BasicAuth: auth,
		CustomParameters: map[string]string{"fund": "general"},
	}, {
		Name: "Memberships to the portal", URL: srv.URL + "/memberships",
		Events:      []string{"createMembership", "updateMembership", "deleteMembership"},
		ContentType: webhook.ContentTypeJSON, BasicAuth: auth,
		CustomParameters: map[string]string{"portal": "members.example.org"},
	}}
	fmt.Fprintf(out, "NeonCRM webhooks of %s:\n", orgID)
	for _, s := range subs {
		s.OrganizationID = orgID
		if err := d.CreateSubscription(ctx, s); err != nil {
			return err
		}
		mu.Lock()
		secrets[strings.TrimPrefix(s.URL, srv.URL)] = s.Secret
		mu.Unlock()
		fmt.Fprintf(out, "  %-32q %-34s basic auth %-14s %s\n", s.Name, s.ContentType, s.BasicAuth.Username, strings.Join(s.Events, ", "))
	}

	if err := d.Start(ctx); err != nil {
		return err
	}
	at := func(minute int) time.Time { return time.Date(2017, 1, 24, 3, 42+minute, 59, 0, neonZone) }
	events := []webhook.Event{
		{ID: "neon_1", Type: "createAccount", Timestamp: at(0), Data: json.RawMessage(`{"accountId":"1001","firstName":"Ada","lastName":"Lovelace","email":"ada@example.org"}`)},
		{ID: "neon_2", Type: "createDonation", Timestamp: at(1), Data: json.RawMessage(`{"donationId":"5001","accountId":"1001","amount":250.00,"fund":"General & Operating"}`)},
		{ID: "neon_3", Type: "createMembership", Timestamp: at(2), Data: json.RawMessage(`{"membershipId":"7001","accountId":"1001","level":"Gold","term":"Annual"}`)},
		{ID: "neon_4", Type: "updateAccount", Timestamp: at(3), Data: json.RawMessage(`{"accountId":"1001","email":"ada@lovelace.example"}`)},
		{ID: "neon_5", Type: "updateDonation", Timestamp: at(4), Data: json.RawMessage(`{"donationId":"5001","amount":300.00}`)},
		{ID: "neon_6", Type: "deleteMembership", Timestamp: at(5), Data: json.RawMessage(`{"membershipId":"7001"}`)},
		{ID: "neon_7", Type: "deleteAccount", Timestamp: at(6), Data: json.RawMessage(`{"accountId":"1002"}`)},
	}
	fmt.Fprintln(out, "\nsent:")
	for _, ev := range events {
		ev.OrganizationID = orgID
		res, err := d.Dispatch(ctx, ev)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %-16s %s -> %d delivery\n", ev.Type, res.EventID, res.Enqueued)
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
	bad := 0
	for _, r := range got {
		check := func(ok bool) string {
			if ok {
				return "ok"
			}
			bad++
			return "FAILED"
		}
		fmt.Fprintf(out, "  %s POST %s (%s) basic auth %s, signature %s\n", r.id, r.path, r.contentType, check(r.authOK), check(r.signatureOK))
		if r.raw != r.payload {
			fmt.Fprintf(out, "    body:    %s\n", r.raw)
			fmt.Fprintf(out, "    payload: %s\n", r.payload)
		} else {
			fmt.Fprintf(out, "    body: %s\n", r.raw)
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d checks failed", bad)
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
