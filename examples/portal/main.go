// Command portal is a demo CRM with relayhook's webhook portal mounted in
// it: two organizations, each with a login of its own, an event catalog,
// a few endpoints (one of which always answers 500) and their deliveries.
// It serves on 127.0.0.1 until Ctrl-C.
//
//	go run ./examples/portal
//	go run ./examples/portal -addr 127.0.0.1:9090
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/portal"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve the demo on (loopback)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *addr); err != nil {
		log.Fatal(err)
	}
}

// organizations are the demo's tenants: ID and display name.
var organizations = []struct{ ID, Name string }{
	{"acme", "Acme Ltd"},
	{"globex", "Globex Corporation"},
}

// catalog is the CRM's event types, shown in the portal with examples.
var catalog = []webhook.EventType{
	{Name: "contact.created", Description: "A contact was added to the CRM.",
		Example: json.RawMessage(`{"contactId":42,"name":"Ada Lovelace","email":"ada@example.com"}`)},
	{Name: "contact.updated", Description: "A contact's details changed.",
		Example: json.RawMessage(`{"contactId":42,"changed":["email"]}`)},
	{Name: "contact.deleted", Description: "A contact was removed.", Example: json.RawMessage(`{"contactId":42}`)},
	{Name: "sale.changed", Description: "A sale moved to another stage or changed amount.",
		Example: json.RawMessage(`{"saleId":7,"stage":"won","amount":1200,"currency":"EUR"}`)},
	{Name: "sale.created", Description: "A sale was opened. Deprecated: subscribe to sale.changed.",
		Example: json.RawMessage(`{"saleId":7}`), Deprecated: true},
}

// run starts the receivers, the dispatcher and the demo server on addr,
// prints how to use it, and serves until ctx ends.
func run(ctx context.Context, w io.Writer, addr string) error {
	// The customers' endpoints, on loopback: /ok answers 200, /fail 500.
	var received atomic.Int64
	rcvLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	receivers := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/fail" {
			http.Error(w, `{"error":"database unavailable"}`, http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	})}
	go func() { _ = receivers.Serve(rcvLn) }()
	defer receivers.Close()
	rcvURL := "http://" + rcvLn.Addr().String()

	d, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{
		EventTypes: catalog,
		// The demo's endpoints are on loopback, refused by default.
		AllowPrivateNetworks: true,
		// A short schedule, so the failing endpoint's deliveries fail
		// for good within seconds.
		Retry:  &webhook.ExponentialRetry{InitialInterval: time.Second, MaxAttempts: 3},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.Close(cctx)
	}()
	if err := seed(ctx, d, rcvURL); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (try -addr 127.0.0.1:0)", addr, err)
	}
	base := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: newCRM(d), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	fmt.Fprintf(w, "Demo CRM with the webhook portal at %s/\n", base)
	for _, o := range organizations {
		fmt.Fprintf(w, "  log in as %-19s %s/login?org=%s\n", o.Name+":", base, o.ID)
	}
	fmt.Fprintf(w, "The portal is mounted at %s/settings/webhooks/; endpoints receive at %s (/fail answers 500).\n", base, rcvURL)
	fmt.Fprintln(w, "Press Ctrl-C to stop.")

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintf(w, "Stopped; the endpoints received %d requests.\n", received.Load())
	return nil
}

// seed creates each organization's endpoints and a few events.
func seed(ctx context.Context, d *webhook.Dispatcher, rcvURL string) error {
	subs := []*webhook.Subscription{
		{OrganizationID: "acme", Name: "Order sync", URL: rcvURL + "/ok/orders", Events: []string{"sale.changed", "contact.*"}, CreatedBy: "ada@acme.example"},
		{OrganizationID: "acme", Name: "Legacy ERP", URL: rcvURL + "/fail", Events: []string{"contact.created"}, CreatedBy: "ada@acme.example",
			Headers: map[string]string{"X-ERP-Tenant": "acme-01"}},
		{OrganizationID: "acme", Name: "Newsletter", URL: rcvURL + "/ok/newsletter", Events: []string{"contact.created", "contact.deleted"},
			ContentType: webhook.ContentTypeForm, State: webhook.StateStopped, CreatedBy: "ada@acme.example"},
		{OrganizationID: "globex", Name: "Slack bridge", URL: rcvURL + "/ok/slack", Events: []string{"*"}, CreatedBy: "hank@globex.example"},
	}
	for _, s := range subs {
		if err := d.CreateSubscription(ctx, s); err != nil {
			return fmt.Errorf("creating %q: %w", s.Name, err)
		}
	}
	events := []webhook.Event{
		{OrganizationID: "acme", Type: "contact.created", Data: json.RawMessage(`{"contactId":1,"name":"Ada Lovelace"}`)},
		{OrganizationID: "acme", Type: "sale.changed", Data: json.RawMessage(`{"saleId":7,"stage":"won","amount":1200,"currency":"EUR"}`)},
		{OrganizationID: "acme", Type: "contact.created", Data: json.RawMessage(`{"contactId":2,"name":"Charles Babbage"}`)},
		{OrganizationID: "acme", Type: "contact.updated", Data: json.RawMessage(`{"contactId":1,"changed":["email"]}`)},
		{OrganizationID: "globex", Type: "contact.created", Data: json.RawMessage(`{"contactId":9,"name":"Hank Scorpio"}`)},
		{OrganizationID: "globex", Type: "sale.changed", Data: json.RawMessage(`{"saleId":3,"stage":"lost","amount":90,"currency":"USD"}`)},
	}
	for _, ev := range events {
		if _, err := d.Dispatch(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

// newCRM is the host: a login per organization (a cookie), a home page
// that creates contacts, and the portal under /settings/webhooks/.
func newCRM(d *webhook.Dispatcher) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/settings/webhooks/", portal.NewHandler(d, &portal.Config{
		Prefix:      "/settings/webhooks",
		Title:       "Acme CRM · Webhooks",
		AccentColor: "#0b7a53",
		Authorize:   authorize,
		Audit: func(c manage.Change) {
			log.Printf("audit: %s %s by %s in %s", c.Action, c.SubscriptionID, c.Actor, c.OrganizationID)
		},
	}))
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		org := r.URL.Query().Get("org")
		for _, o := range organizations {
			if o.ID == org {
				http.SetCookie(w, &http.Cookie{Name: "demo_org", Value: org, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
				next := r.URL.Query().Get("next") // a page of this site only
				if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
					next = "/"
				}
				http.Redirect(w, r, next, http.StatusSeeOther)
				return
			}
		}
		render(w, http.StatusOK, "", "")
	})
	mux.HandleFunc("POST /contacts", func(w http.ResponseWriter, r *http.Request) {
		acc, err := authorize(r)
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		name := r.FormValue("name")
		data, _ := json.Marshal(map[string]any{"contactId": time.Now().UnixMilli() % 100000, "name": name})
		if _, err := d.Dispatch(r.Context(), webhook.Event{OrganizationID: acc.OrganizationID, Type: "contact.created", Data: data}); err != nil {
			http.Error(w, "could not dispatch", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/?created=1", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		acc, err := authorize(r)
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		note := ""
		if r.URL.Query().Get("created") != "" {
			note = "Contact created: a contact.created event was dispatched."
		}
		render(w, http.StatusOK, acc.OrganizationID, note)
	})
	return mux
}

// authorize is the host's session check: the organization in the demo's
// cookie, with every capability.
func authorize(r *http.Request) (manage.Access, error) {
	c, err := r.Cookie("demo_org")
	if err != nil {
		return manage.Access{}, err
	}
	for _, o := range organizations {
		if o.ID == c.Value {
			return manage.Access{OrganizationID: o.ID, Actor: "admin@" + o.ID + ".example",
				Capabilities: manage.CanRead | manage.CanManage | manage.CanRevealSecrets}, nil
		}
	}
	return manage.Access{}, errors.New("unknown organization")
}

var page = template.Must(template.New("crm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo CRM</title></head>
<body><main>
<h1>Demo CRM</h1>
{{if .Org}}
<p>Signed in to <strong>{{.OrgName}}</strong>. <a href="/login">Switch organization</a></p>
{{if .Note}}<p role="status">{{.Note}}</p>{{end}}
<p><a href="/settings/webhooks/">Webhook settings</a></p>
<form method="post" action="/contacts"><label for="name">New contact</label> <input id="name" name="name" value="Grace Hopper"> <button type="submit">Create contact</button></form>
{{else}}
<p>Log in as:</p>
<ul>{{range .Orgs}}<li><a href="/login?org={{.ID}}">{{.Name}}</a></li>{{end}}</ul>
{{end}}
</main></body></html>
`))

func render(w http.ResponseWriter, status int, org, note string) {
	name := ""
	for _, o := range organizations {
		if o.ID == org {
			name = o.Name
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = page.Execute(w, map[string]any{"Org": org, "OrgName": name, "Note": note, "Orgs": organizations})
}
