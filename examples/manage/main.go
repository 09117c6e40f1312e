// Command manage is a host application with relayhook's management API
// mounted under /webhooks/api/, on loopback, on the host's own
// authentication (two demo API keys). It prints curl commands to paste:
// create a subscription to the receiver it also runs, make the host send
// an event, read the deliveries and their attempts, retry in bulk, and
// the same through SuperOffice's /api/v1/Webhook routes. Ctrl-C stops it
// cleanly.
//
//	go run ./examples/manage            # on 127.0.0.1:8080
//	go run ./examples/manage -addr 127.0.0.1:9000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/memstore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "loopback address to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// The host's API keys, as its own authentication knows them.
var apiKeys = map[string]manage.Access{
	"acme-admin":  {OrganizationID: "acme", Actor: "ada@acme.example", Capabilities: manage.CanRead | manage.CanManage | manage.CanRevealSecrets},
	"acme-viewer": {OrganizationID: "acme", Actor: "viv@acme.example", Capabilities: manage.CanRead},
}

// authorize is the host's check of a request: here a bearer API key.
func authorize(r *http.Request) (manage.Access, error) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if a, found := apiKeys[key]; ok && found {
		return a, nil
	}
	return manage.Access{}, errors.New("unknown API key")
}

// run serves until ctx ends, then shuts down: the server first, then the
// dispatcher with a fresh context. ready, when set, is told the base URL.
func run(ctx context.Context, addr string, out io.Writer, ready func(base string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	d, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{
		EventTypes: []webhook.EventType{
			{Name: "contact.created", Description: "A contact was created.", Example: json.RawMessage(`{"contactId":1,"name":"Ada"}`)},
			{Name: "contact.deleted", Description: "A contact was deleted.", Example: json.RawMessage(`{"contactId":1}`)},
		},
		// The demo receiver is on loopback, which is refused by default.
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		// Three quick attempts, so that a failing delivery is dead (and
		// can be retried in bulk) within seconds; the default retries
		// for a day.
		Retry: &webhook.ExponentialRetry{InitialInterval: 500 * time.Millisecond, MaxAttempts: 3, RandomizationFactor: -1},
	})
	if err != nil {
		ln.Close()
		return err
	}
	if err := d.Start(context.Background()); err != nil {
		ln.Close()
		return err
	}

	mux := http.NewServeMux()
	// The management API, under a prefix of the host's choosing.
	api := manage.NewHandler(d, &manage.Config{
		Authorize:   authorize,
		SuperOffice: true,
		Audit: func(c manage.Change) {
			fmt.Fprintf(out, "audit: %s %s %s %s\n", c.Actor, c.Action, c.SubscriptionID, c.DeliveryID)
		},
	})
	mux.Handle("/webhooks/api/", http.StripPrefix("/webhooks/api", api))
	// The host's own business route, which sends an event.
	mux.HandleFunc("POST /contacts", func(w http.ResponseWriter, r *http.Request) {
		a, err := authorize(r)
		if err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		res, err := d.Dispatch(r.Context(), webhook.Event{Type: "contact.created", OrganizationID: a.OrganizationID,
			Data: json.RawMessage(`{"contactId":42,"name":"Grace"}`)})
		if err != nil {
			http.Error(w, "not sent", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "contact created; event %s sent to %d subscription(s)\n", res.EventID, res.Enqueued)
	})
	// A receiver for the subscriptions to point at: /receiver/ok answers
	// 200, /receiver/fail 500.
	mux.HandleFunc("POST /receiver/{verdict}", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(out, "receiver: %s %s\n", r.Header.Get(webhook.HeaderID), r.PathValue("verdict"))
		if r.PathValue("verdict") != "ok" {
			http.Error(w, "failing on purpose", http.StatusInternalServerError)
		}
	})

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if err := help.Execute(out, map[string]string{"Base": base, "API": base + "/webhooks/api"}); err != nil {
		return err
	}
	if ready != nil {
		ready(base)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	fmt.Fprintln(out, "shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = errors.Join(srv.Shutdown(shutCtx), d.Close(shutCtx))
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(serveErr, err)
	}
	return err
}

var help = template.Must(template.New("help").Parse(`relayhook management API on {{.API}}/
Paste these in another terminal (Ctrl-C here stops the host):

  # the OpenAPI document, and the event types
  curl -s -H 'Authorization: Bearer acme-viewer' {{.API}}/openapi.json | head -c 300; echo
  curl -s -H 'Authorization: Bearer acme-viewer' {{.API}}/event-types

  # create a subscription (its secret is shown in this answer only)
  curl -s -H 'Authorization: Bearer acme-admin' -H 'Content-Type: application/json' \
    -d '{"name":"CRM sync","url":"{{.Base}}/receiver/fail","events":["contact.*"]}' {{.API}}/subscriptions
  ID=$(curl -s -H 'Authorization: Bearer acme-viewer' {{.API}}/subscriptions | sed 's/.*"id":"\([^"]*\)".*/\1/')

  # the host sends an event; read the deliveries and one with its attempts
  curl -s -X POST -H 'Authorization: Bearer acme-admin' {{.Base}}/contacts
  curl -s -H 'Authorization: Bearer acme-viewer' "{{.API}}/subscriptions/$ID/deliveries?limit=10"
  curl -s -H 'Authorization: Bearer acme-viewer' {{.API}}/subscriptions/$ID/stats

  # point it at the endpoint that works, then retry what failed: a dry run first
  curl -s -X PATCH -H 'Authorization: Bearer acme-admin' -H 'Content-Type: application/merge-patch+json' \
    -d '{"url":"{{.Base}}/receiver/ok"}' {{.API}}/subscriptions/$ID
  curl -s -H 'Authorization: Bearer acme-admin' -H 'Content-Type: application/json' \
    -d '{"state":"dead","dryRun":true}' {{.API}}/subscriptions/$ID/redeliver
  curl -s -H 'Authorization: Bearer acme-admin' -H 'Content-Type: application/json' \
    -d '{"state":"dead"}' {{.API}}/subscriptions/$ID/redeliver

  # a test event, a rotated secret, a read-only key that may not change anything
  curl -s -H 'Authorization: Bearer acme-admin' -H 'Content-Type: application/json' \
    -d '{"eventType":"contact.created"}' {{.API}}/subscriptions/$ID/test
  curl -s -X POST -H 'Authorization: Bearer acme-admin' {{.API}}/subscriptions/$ID/rotate-secret
  curl -s -X DELETE -H 'Authorization: Bearer acme-viewer' {{.API}}/subscriptions/$ID

  # the same subscriptions as SuperOffice's Webhook entities
  curl -s -H 'Authorization: Bearer acme-viewer' '{{.API}}/api/v1/Webhook?$select=Name,Events'

`))
