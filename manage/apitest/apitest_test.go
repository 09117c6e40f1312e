package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/managetest"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/pgstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := loadDoc(t, "http://localhost/")
	require.True(t, doc.IsOpenAPI31OrLater())
	require.NoError(t, doc.Validate(t.Context()))
}

func newMemstore(*testing.T) webhook.Store { return memstore.New() }

// pgstoreFactory returns a maker of pgstores, each on a schema of its own
// dropped when its test ends; it skips the test without a server (fails
// it under CI).
func pgstoreFactory(t *testing.T) func(t *testing.T) webhook.Store {
	url := os.Getenv("RELAYHOOK_PG_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("RELAYHOOK_PG_URL is not set")
		}
		t.Skip("RELAYHOOK_PG_URL is not set: see scripts/postgres.sh")
	}
	return func(t *testing.T) webhook.Store {
		pool, err := pgxpool.New(t.Context(), url)
		require.NoError(t, err)
		schema := fmt.Sprintf("apitest_%d", time.Now().UnixNano())
		s, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
		require.NoError(t, err)
		require.NoError(t, s.Migrate(t.Context()))
		t.Cleanup(func() {
			s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			pool.Close()
		})
		return s
	}
}

// TestEveryOperationOnMemstore and TestEveryOperationOnPgstore call every
// operation of the document once at least.
func TestEveryOperationOnMemstore(t *testing.T) { runSuite(t, newMemstore) }

func TestEveryOperationOnPgstore(t *testing.T) { runSuite(t, pgstoreFactory(t)) }

// TestRouteSuiteOnMemstore and TestRouteSuiteOnPgstore run the route suite
// of managetest with every answer validated against the document.
func TestRouteSuiteOnMemstore(t *testing.T) {
	managetest.Run(t, newMemstore, &managetest.Options{Transport: validatingTransport(t)})
}

func TestRouteSuiteOnPgstore(t *testing.T) {
	managetest.Run(t, pgstoreFactory(t), &managetest.Options{Transport: validatingTransport(t)})
}

// validatingTransport wraps a transport so that every answer is validated
// against the document, with a router per server (each subtest starts its
// own).
func validatingTransport(t *testing.T) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		return &validating{t: t, next: next, seen: map[string]bool{}}
	}
}

func loadDoc(t *testing.T, server string) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(manage.OpenAPI())
	require.NoError(t, err)
	doc.Servers = openapi3.Servers{{URL: server}}
	return doc
}

// validating is a transport that checks every answer against the OpenAPI
// document, and records which operations were answered.
type validating struct {
	t      *testing.T
	next   http.RoundTripper // nil: http.DefaultTransport
	mu     sync.Mutex
	router routers.Router  // for the first server asked
	seen   map[string]bool // "METHOD path-template"
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	next := v.next
	if next == nil {
		next = http.DefaultTransport
	}
	v.mu.Lock()
	if v.router == nil {
		doc := loadDoc(v.t, "http://"+req.URL.Host+"/webhooks/api")
		r, err := legacy.NewRouter(doc)
		if err != nil {
			v.mu.Unlock()
			return nil, err
		}
		v.router = r
	}
	router := v.router
	v.mu.Unlock()
	res, err := next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := router.FindRoute(req)
	if err != nil {
		// No route of the document: the handler must have said 404 or 405.
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
			v.t.Errorf("%s %s: not in the document, answered %d", req.Method, req.URL.Path, res.StatusCode)
		}
		return res, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		v.t.Errorf("%s %s answered %d, not as documented: %v\n%s", req.Method, req.URL.RequestURI(), res.StatusCode, err, body)
	}
	v.mu.Lock()
	v.seen[fmt.Sprintf("%s %s", req.Method, route.Path)] = true
	v.mu.Unlock()
	return res, nil
}

type retryNever struct{}

func (retryNever) NextRetry(webhook.Failure) (time.Duration, bool) { return 0, false }

type client struct {
	t    *testing.T
	http *http.Client
	base string
}

type answer struct {
	status int
	body   []byte
}

func (a answer) field(t *testing.T, path ...string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(a.body, &v), "%s", a.body)
	for _, p := range path {
		v = v.(map[string]any)[p]
	}
	return v
}

func (c *client) do(token, method, path, body string) answer {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return answer{res.StatusCode, b}
}

func (c *client) want(status int, token, method, path, body string) answer {
	c.t.Helper()
	a := c.do(token, method, path, body)
	require.Equal(c.t, status, a.status, "%s %s: %s", method, path, a.body)
	return a
}

var tokens = map[string]manage.Access{
	"admin-a": {OrganizationID: "org_a", Actor: "alice", Capabilities: manage.CanRead | manage.CanManage | manage.CanRevealSecrets},
	"reader":  {OrganizationID: "org_a", Actor: "rita", Capabilities: manage.CanRead},
	"admin-b": {OrganizationID: "org_b", Actor: "bob", Capabilities: manage.CanRead | manage.CanManage | manage.CanRevealSecrets},
}

// runSuite calls every route of the document, answers of success and of
// error, with every answer validated, on a dispatcher over the store.
func runSuite(t *testing.T, newStore func(t *testing.T) webhook.Store) {
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.URL.Path, "/fail") {
			http.Error(w, "boom", http.StatusBadGateway)
		}
	}))
	defer rcv.Close()
	d, err := webhook.NewDispatcher(newStore(t), &webhook.Config{
		EventTypes: []webhook.EventType{
			{Name: "contact.created", Example: json.RawMessage(`{"contactId":1}`)},
			{Name: "sale.changed", Description: "A sale changed."},
		},
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Retry:           retryNever{}, PollInterval: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, d.Start(t.Context()))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, d.Close(ctx))
	}()
	h := manage.NewHandler(d, &manage.Config{SuperOffice: true, Authorize: func(r *http.Request) (manage.Access, error) {
		a, ok := tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		if !ok {
			return manage.Access{}, errors.New("unknown token")
		}
		return a, nil
	}})
	mux := http.NewServeMux()
	mux.Handle("/webhooks/api/", http.StripPrefix("/webhooks/api", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	doc := loadDoc(t, srv.URL+"/webhooks/api")
	v := &validating{t: t, seen: map[string]bool{}}
	c := &client{t: t, http: &http.Client{Transport: v}, base: srv.URL + "/webhooks/api"}

	c.want(200, "reader", "GET", "/openapi.json", "")
	c.want(401, "", "GET", "/subscriptions", "")
	sub := c.want(201, "admin-a", "POST", "/subscriptions",
		fmt.Sprintf(`{"name":"CRM","url":%q,"events":["contact.*","sale.changed"],"basicAuth":{"username":"u","password":"p"},"headers":{"X-A":"1"}}`, rcv.URL+"/fail"))
	id := sub.field(t, "id").(string)
	c.want(422, "admin-a", "POST", "/subscriptions", `{"url":"http://169.254.169.254/","events":["contact.created"]}`)
	c.want(400, "admin-a", "POST", "/subscriptions", `{`)
	c.want(200, "reader", "GET", "/subscriptions?limit=1", "")
	c.want(400, "reader", "GET", "/subscriptions?cursor=nope", "")
	c.want(200, "reader", "GET", "/subscriptions/"+id, "")
	c.want(404, "admin-b", "GET", "/subscriptions/"+id, "")
	c.want(403, "reader", "PUT", "/subscriptions/"+id, `{}`)
	c.want(200, "admin-a", "PUT", "/subscriptions/"+id, fmt.Sprintf(`{"name":"CRM","url":%q,"events":["contact.*"]}`, rcv.URL+"/fail"))
	c.want(200, "admin-a", "PATCH", "/subscriptions/"+id, `{"errorsEmail":"ops@example.com","customParameters":{"k":"v"},"properties":{"p":"q"}}`)
	c.want(422, "admin-a", "PATCH", "/subscriptions/"+id, `{"colour":"red"}`)
	c.want(200, "admin-a", "POST", "/subscriptions/"+id+"/pause", "")
	c.want(409, "admin-a", "POST", "/subscriptions/"+id+"/test", `{"eventType":"contact.created"}`)
	c.want(200, "admin-a", "POST", "/subscriptions/"+id+"/resume", "")
	rot := c.want(200, "admin-a", "POST", "/subscriptions/"+id+"/rotate-secret", "")
	require.Len(t, rot.field(t, "previousSecrets"), 1)
	c.want(200, "admin-a", "GET", "/subscriptions/"+id+"/secret", "")
	c.want(403, "reader", "GET", "/subscriptions/"+id+"/secret", "")

	// Deliveries: one event, one dead delivery with its attempt.
	_, err = d.Dispatch(t.Context(), webhook.Event{Type: "contact.created", OrganizationID: "org_a", Data: json.RawMessage(`{"id":7}`)})
	require.NoError(t, err)
	var dlv string
	require.Eventually(t, func() bool {
		a := c.do("reader", "GET", "/subscriptions/"+id+"/deliveries?state=dead", "")
		list := a.field(t, "data").([]any)
		if len(list) == 1 {
			dlv = list[0].(map[string]any)["id"].(string)
		}
		return dlv != ""
	}, 10*time.Second, 20*time.Millisecond)
	one := c.want(200, "reader", "GET", "/deliveries/"+dlv, "")
	require.Len(t, one.field(t, "attempts"), 1)
	evID := one.field(t, "delivery", "eventId").(string)
	c.want(200, "reader", "GET", "/deliveries?eventId="+evID+"&order=oldest&limit=10", "")
	c.want(400, "reader", "GET", "/deliveries?state=lost", "")
	c.want(200, "reader", "GET", "/events", "")
	c.want(200, "reader", "GET", "/events/"+evID, "")
	c.want(404, "admin-b", "GET", "/events/"+evID, "")
	c.want(200, "reader", "GET", "/event-types", "")
	c.want(200, "reader", "GET", "/subscriptions/"+id+"/stats?window=24h", "")
	c.want(200, "reader", "GET", "/stats", "")
	dry := c.want(200, "admin-a", "POST", "/subscriptions/"+id+"/redeliver", `{"dryRun":true}`)
	require.EqualValues(t, 1, dry.field(t, "count"))
	c.want(200, "admin-a", "POST", "/subscriptions/"+id+"/redeliver", `{"state":"dead","eventType":"contact.created"}`)
	require.Eventually(t, func() bool {
		return c.do("reader", "GET", "/deliveries/"+dlv, "").field(t, "delivery", "state") == "dead"
	}, 10*time.Second, 20*time.Millisecond)
	c.want(202, "admin-a", "POST", "/deliveries/"+dlv+"/redeliver", "")
	c.want(202, "admin-a", "POST", "/subscriptions/"+id+"/test", `{"eventType":"contact.created"}`)
	c.want(200, "admin-a", "POST", "/subscriptions/"+id+"/replay", `{"from":"2000-01-01T00:00:00Z"}`)
	c.want(413, "admin-a", "POST", "/subscriptions", `{"name":"`+strings.Repeat("x", 2<<20)+`"}`)

	// SuperOffice.
	so := c.want(200, "admin-a", "POST", "/api/v1/Webhook",
		fmt.Sprintf(`{"Name":"SO","Events":["contact.created"],"TargetUrl":%q,"Secret":"a-secret-of-twenty-four-bytes","Type":"webhook","Properties":{"x":{}}}`, rcv.URL+"/ok"))
	num := fmt.Sprint(so.field(t, "WebhookId"))
	c.want(422, "admin-a", "POST", "/api/v1/Webhook", `{"Name":"SO","Events":["contact.created"],"TargetUrl":"https://example.com","Type":"ratione"}`)
	c.want(200, "reader", "GET", "/api/v1/Webhook", "")
	c.want(200, "reader", "GET", "/api/v1/Webhook/"+num+"?$select=Name,Events", "")
	c.want(404, "admin-b", "GET", "/api/v1/Webhook/"+num, "")
	c.want(200, "admin-a", "PUT", "/api/v1/Webhook/"+num, fmt.Sprintf(`{"Name":"SO2","Events":["contact.created"],"TargetUrl":%q}`, rcv.URL+"/ok"))
	c.want(204, "admin-a", "DELETE", "/api/v1/Webhook/"+num, "")
	c.want(204, "admin-a", "DELETE", "/subscriptions/"+id, "")
	c.want(404, "reader", "GET", "/subscriptions/"+id, "")
	// Bytes that are not UTF-8, or a NUL, anywhere an ID or filter goes:
	// never a 500.
	for _, bad := range []string{"%ff", "%00", "%c3%28"} {
		c.want(404, "reader", "GET", "/subscriptions/"+bad, "")
		c.want(404, "reader", "GET", "/deliveries/"+bad, "")
		c.want(404, "reader", "GET", "/events/"+bad, "")
		c.want(404, "admin-a", "POST", "/subscriptions/"+bad+"/pause", "")
		c.want(404, "admin-a", "POST", "/subscriptions/"+bad+"/redeliver", `{"dryRun":true}`)
		c.want(404, "admin-a", "POST", "/subscriptions/"+bad+"/replay", `{}`)
		c.want(404, "admin-a", "POST", "/subscriptions/"+bad+"/test", `{"eventType":"contact.created"}`)
		c.want(404, "reader", "GET", "/subscriptions/"+bad+"/stats", "")
		c.want(200, "reader", "GET", "/deliveries?subscriptionId="+bad, "")
		c.want(200, "reader", "GET", "/deliveries?eventId="+bad, "")
		c.want(400, "reader", "GET", "/deliveries?eventType="+bad, "")
		c.want(400, "reader", "GET", "/deliveries?cursor="+bad, "")
		c.want(400, "reader", "GET", "/events?cursor="+bad, "")
	}
	c.want(404, "reader", "GET", "/nowhere", "")
	c.want(405, "reader", "DELETE", "/event-types", "")

	// Every operation of the document was called.
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			require.True(t, v.seen[method+" "+path], "%s %s was never called", method, path)
		}
	}
}
