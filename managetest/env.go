package managetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
)

// retryNever gives up after the first failed attempt, so a failing
// endpoint makes dead deliveries at once.
type retryNever struct{}

func (retryNever) NextRetry(webhook.Failure) (time.Duration, bool) { return 0, false }

// tokens are the host's API tokens of the tests, as its Authorize reads
// them from the Authorization header.
var tokens = map[string]manage.Access{
	"admin-a":   {OrganizationID: "org_a", Actor: "alice", Capabilities: manage.CanRead | manage.CanManage | manage.CanRevealSecrets},
	"manager-a": {OrganizationID: "org_a", Actor: "mona", Capabilities: manage.CanRead | manage.CanManage},
	"reader-a":  {OrganizationID: "org_a", Actor: "rita", Capabilities: manage.CanRead},
	"admin-b":   {OrganizationID: "org_b", Actor: "bob", Capabilities: manage.CanRead | manage.CanManage | manage.CanRevealSecrets},
	"no-org":    {Actor: "nobody", Capabilities: manage.CanRead | manage.CanManage},
}

var catalog = []webhook.EventType{
	{Name: "contact.created", Description: "A contact was created.", Example: json.RawMessage(`{"contactId":1}`)},
	{Name: "contact.changed", Description: "A contact was changed."},
	{Name: "sale.changed", Description: "A sale was changed.", Deprecated: true},
}

type env struct {
	t       *testing.T
	d       *webhook.Dispatcher
	srv     *httptest.Server
	client  *http.Client
	base    string // the API's URL, under /webhooks/api
	rcvURL  string // a receiver that answers 200
	failURL string // a receiver that answers 500
	mu      sync.Mutex
	changes []manage.Change
}

func authorize(r *http.Request) (manage.Access, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a, found := tokens[tok]
	if !ok || !found {
		return manage.Access{}, errors.New("no such token")
	}
	return a, nil
}

func (s *suite) setup(t *testing.T) *env {
	t.Helper()
	return s.setupWith(t, nil)
}

// setupWith is setup with changes to the dispatcher's and the handler's
// configuration.
func (s *suite) setupWith(t *testing.T, change func(*webhook.Config, *manage.Config)) *env {
	t.Helper()
	e := &env{t: t}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.URL.Path, "/fail") {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "boom")
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rcv.Close)
	e.rcvURL, e.failURL = rcv.URL+"/ok", rcv.URL+"/fail"
	wcfg := &webhook.Config{
		EventTypes: catalog, AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Retry: retryNever{}, PollInterval: 10 * time.Millisecond,
	}
	mcfg := &manage.Config{
		Authorize:   authorize,
		SuperOffice: true,
		Audit: func(c manage.Change) {
			e.mu.Lock()
			e.changes = append(e.changes, c)
			e.mu.Unlock()
		},
		MaxBodyBytes: 64 << 10,
	}
	if change != nil {
		change(wcfg, mcfg)
	}
	d, err := webhook.NewDispatcher(s.newStore(t), wcfg)
	require.NoError(t, err)
	require.NoError(t, d.Start(t.Context()))
	e.d = d
	h := manage.NewHandler(d, mcfg)
	mux := http.NewServeMux()
	mux.Handle("/webhooks/api/", http.StripPrefix("/webhooks/api", h))
	e.srv = httptest.NewServer(mux)
	e.client = e.srv.Client()
	if s.opts.Transport != nil {
		e.client.Transport = s.opts.Transport(e.client.Transport)
	}
	e.base = e.srv.URL + "/webhooks/api"
	t.Cleanup(func() {
		e.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, d.Close(ctx))
	})
	return e
}

// resp is an answer read whole.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// do sends a request with the token (none when empty) and a JSON body
// (none when empty).
func (e *env) do(token, method, path, body string) resp {
	e.t.Helper()
	return e.doType(token, method, path, body, "application/json")
}

func (e *env) doType(token, method, path, body, contentType string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	require.NoError(e.t, err)
	if body != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.client.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return resp{res.StatusCode, res.Header, b}
}

// create makes a subscription through the API and returns its JSON.
func (e *env) create(token, body string) map[string]any {
	e.t.Helper()
	r := e.do(token, "POST", "/subscriptions", body)
	require.Equal(e.t, http.StatusCreated, r.status, "%s", r.body)
	return r.json(e.t)
}

func (e *env) createTo(token, url string) string {
	e.t.Helper()
	return e.create(token, fmt.Sprintf(`{"url":%q,"events":["contact.*"],"name":"crm"}`, url))["id"].(string)
}

// snapshot is everything stored for both organizations, to compare before
// and after a request that must change nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	ctx := e.t.Context()
	var sb strings.Builder
	for _, org := range []string{"org_a", "org_b"} {
		subs, _, err := e.d.ListSubscriptions(ctx, org, webhook.Page{Limit: webhook.MaxPageLimit})
		require.NoError(e.t, err)
		for _, s := range subs {
			b, _ := json.Marshal(s)
			fmt.Fprintf(&sb, "%s %s %s\n", b, s.Secret, s.PreviousSecrets)
		}
		dls, _, err := e.d.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: org, Page: webhook.Page{Limit: webhook.MaxPageLimit}})
		require.NoError(e.t, err)
		for _, dl := range dls {
			fmt.Fprintf(&sb, "%s %s %d %v\n", dl.ID, dl.State, dl.Attempts, dl.RedeliveredAt)
		}
		evs, _, err := e.d.ListEvents(ctx, webhook.EventFilter{OrganizationID: org, Page: webhook.Page{Limit: webhook.MaxPageLimit}})
		require.NoError(e.t, err)
		fmt.Fprintf(&sb, "%d events\n", len(evs))
	}
	return sb.String()
}

// waitDeliveries waits until the organization has n finished deliveries.
func (e *env) waitDeliveries(org string, n int) []*webhook.Delivery {
	e.t.Helper()
	var dls []*webhook.Delivery
	require.Eventually(e.t, func() bool {
		all, _, err := e.d.ListDeliveries(e.t.Context(), webhook.DeliveryFilter{OrganizationID: org, Page: webhook.Page{Limit: 100}})
		require.NoError(e.t, err)
		dls = dls[:0]
		for _, dl := range all {
			if dl.State != webhook.DeliveryPending {
				dls = append(dls, dl)
			}
		}
		return len(dls) >= n
	}, 10*time.Second, 10*time.Millisecond)
	return dls
}

func (e *env) dispatch(org, typ string) {
	e.t.Helper()
	_, err := e.d.Dispatch(e.t.Context(), webhook.Event{Type: typ, OrganizationID: org, Data: json.RawMessage(`{"n":1}`)})
	require.NoError(e.t, err)
}

// secretRE matches a secret's value.
var secretRE = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]{16,}`)

func requireProblem(t *testing.T, r resp, status int, field string) {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	var p manage.Problem
	require.NoError(t, json.Unmarshal(r.body, &p), "%s", r.body)
	require.Equal(t, status, p.Status)
	require.Equal(t, "about:blank", p.Type)
	require.Equal(t, http.StatusText(status), p.Title)
	require.NotEmpty(t, p.Detail)
	if field != "" {
		require.NotEmpty(t, p.Errors, "%s", r.body)
		require.Equal(t, field, p.Errors[0].Field, "%s", r.body)
		require.NotEmpty(t, p.Errors[0].Reason)
	}
	require.NotRegexp(t, secretRE, string(r.body))
	require.NotContains(t, string(r.body), "Config.")
}
