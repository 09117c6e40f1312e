package portal_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/portal"
	"github.com/relayhook/webhook/webhooktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var catalog = []webhook.EventType{
	{Name: "contact.created", Description: "A contact was added.", Example: json.RawMessage(`{"id":42,"name":"Ada"}`)},
	{Name: "contact.deleted", Description: "A contact was removed.", Example: json.RawMessage(`{"id":42}`)},
	{Name: "sale.changed", Description: "A sale moved stage.", Example: json.RawMessage(`{"id":7,"stage":"won"}`)},
}

// bundle is what a test needs: a dispatcher, the portal on a server, and
// a client per organization.
type bundle struct {
	d      *webhooktest.Dispatcher
	srv    *httptest.Server
	rcv    *webhooktest.Receiver
	mu     sync.Mutex
	audits []manage.Change
}

const prefix = "/settings/webhooks"

// setup starts a portal whose Authorize reads the organization and the
// capabilities from test headers (a host would read its session).
func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{}
	b.d = webhooktest.NewDispatcher(t, &webhook.Config{EventTypes: catalog})
	b.rcv = b.d.NewReceiver(t, nil)
	h := portal.NewHandler(b.d.Dispatcher, &portal.Config{
		Prefix: prefix,
		Title:  "Acme <CRM>",
		Authorize: func(r *http.Request) (manage.Access, error) {
			org := r.Header.Get("X-Test-Org")
			if org == "" {
				return manage.Access{}, http.ErrNoCookie
			}
			caps := manage.CanRead | manage.CanManage
			switch r.Header.Get("X-Test-Caps") {
			case "read":
				caps = manage.CanRead
			case "all":
				caps |= manage.CanRevealSecrets
			}
			return manage.Access{OrganizationID: org, Actor: "user@" + org, Capabilities: caps}, nil
		},
		Audit: func(c manage.Change) {
			b.mu.Lock()
			b.audits = append(b.audits, c)
			b.mu.Unlock()
		},
	})
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", h)
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

type resp struct {
	status int
	body   string // as sent
	text   string // with HTML's character references decoded
	header http.Header
}

// do sends a request as org (no org: unauthenticated), not following
// redirects. A form body is posted as a browser posts it from the page.
func (b *bundle) do(t *testing.T, org, method, path string, form url.Values, hdr ...string) resp {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.srv.URL+prefix+path, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", b.srv.URL)
	}
	if org != "" {
		req.Header.Set("X-Test-Org", org)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return resp{status: res.StatusCode, body: string(raw), text: html.UnescapeString(string(raw)), header: res.Header}
}

// create adds an endpoint to the receiver through the form and returns it.
func (b *bundle) create(t *testing.T, org, name string, events ...string) *webhook.Subscription {
	t.Helper()
	r := b.do(t, org, "POST", "/endpoints", url.Values{"url": {b.rcv.URL + "/" + name}, "name": {name}, "events": events})
	require.Equal(t, http.StatusCreated, r.status, r.body)
	subs, _, err := b.d.ListSubscriptions(context.Background(), org, webhook.Page{Limit: 1000})
	require.NoError(t, err)
	for _, s := range subs {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("endpoint %q not created", name)
	return nil
}

func TestCreateShowsSecretOnceAndListsEndpoint(t *testing.T) {
	b := setup(t)
	r := b.do(t, "org_a", "POST", "/endpoints", url.Values{
		"url": {b.rcv.URL + "/hook"}, "name": {"Orders"}, "events": {"contact.created", "sale.changed"},
		"patterns": {"contact.*"}, "content_type": {webhook.ContentTypeForm},
		"headers": {"X-Team: sales\nX-Env: prod"}, "basic_user": {"ada"}, "basic_password": {"pa55word-secret"},
	})
	require.Equal(t, http.StatusCreated, r.status, r.body)
	subs, _, err := b.d.ListSubscriptions(context.Background(), "org_a", webhook.Page{})
	require.NoError(t, err)
	require.Len(t, subs, 1)
	s := subs[0]
	require.Equal(t, []string{"contact.created", "sale.changed", "contact.*"}, s.Events)
	require.Equal(t, webhook.ContentTypeForm, s.ContentType)
	require.Equal(t, map[string]string{"X-Team": "sales", "X-Env": "prod"}, s.Headers)
	require.Equal(t, &webhook.BasicAuth{Username: "ada", Password: "pa55word-secret"}, s.BasicAuth)
	require.Equal(t, "user@org_a", s.CreatedBy)
	require.Contains(t, r.text, s.Secret, "the secret is shown right after create")
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))

	for _, path := range []string{"/", "/endpoints/" + s.ID, "/endpoints/" + s.ID + "/edit", "/event-types", "/endpoints/" + s.ID + "/delete"} {
		page := b.do(t, "org_a", "GET", path, nil)
		require.Equal(t, http.StatusOK, page.status, path)
		require.NotContains(t, page.text, s.Secret, path)
		require.NotContains(t, page.text, "pa55word-secret", path)
		require.NotContains(t, page.body, "whsec_", path)
	}
	list := b.do(t, "org_a", "GET", "/", nil)
	require.Contains(t, list.body, "Orders")
	require.Contains(t, list.body, ">Active<")
	b.mu.Lock()
	require.Len(t, b.audits, 1)
	require.Equal(t, manage.ActionCreate, b.audits[0].Action)
	require.Equal(t, b.d.Clock.Now().UTC(), b.audits[0].At, "stamped by the dispatcher's clock")
	require.Equal(t, s.ID, b.audits[0].SubscriptionID)
	require.Equal(t, "org_a", b.audits[0].OrganizationID)
	require.Empty(t, b.audits[0].After.Secret)
	require.Empty(t, b.audits[0].After.BasicAuth.Password)
	b.mu.Unlock()
}

func TestFormErrorsNameTheFieldAndChangeNothing(t *testing.T) {
	b := setup(t)
	cases := []struct {
		name string
		form url.Values
		want string
	}{
		{"bad url", url.Values{"url": {"ftp://x"}, "events": {"contact.created"}}, `id="url-err"`},
		{"no events", url.Values{"url": {b.rcv.URL}}, `id="events-err"`},
		{"typo pattern", url.Values{"url": {b.rcv.URL}, "patterns": {"contakt.created"}}, `id="events-err"`},
		{"bad header", url.Values{"url": {b.rcv.URL}, "events": {"contact.created"}, "headers": {"no colon"}}, `id="headers-err"`},
		{"reserved header", url.Values{"url": {b.rcv.URL}, "events": {"contact.created"}, "headers": {"webhook-signature: x"}}, `id="headers-err"`},
		{"metadata address", url.Values{"url": {"http://169.254.169.254/latest"}, "events": {"contact.created"}}, `id="url-err"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do(t, "org_a", "POST", "/endpoints", tc.form)
			require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
			require.Contains(t, r.body, tc.want)
			if tc.want != `id="events-err"` {
				require.Contains(t, r.body, `aria-invalid="true"`)
			}
			subs, _, err := b.d.ListSubscriptions(context.Background(), "org_a", webhook.Page{})
			require.NoError(t, err)
			require.Empty(t, subs)
		})
	}
}

func TestAnotherOrganizationsRecordsAre404AndUnchanged(t *testing.T) {
	b := setup(t)
	s := b.create(t, "org_a", "a-hook", "contact.created")
	_, err := b.d.Dispatch(context.Background(), webhook.Event{Type: "contact.created", OrganizationID: "org_a", Data: json.RawMessage(`{}`)})
	require.NoError(t, err)
	b.d.WaitIdle(t)
	dls := b.d.Deliveries(t, "org_a", s.ID)
	require.Len(t, dls, 1)
	before, err := b.d.GetSubscription(context.Background(), "org_a", s.ID)
	require.NoError(t, err)

	for _, rq := range []struct{ method, path string }{
		{"GET", "/endpoints/" + s.ID}, {"GET", "/endpoints/" + s.ID + "/edit"}, {"GET", "/endpoints/" + s.ID + "/delete"},
		{"GET", "/endpoints/" + s.ID + "/retry"}, {"GET", "/deliveries/" + dls[0].ID},
		{"POST", "/endpoints/" + s.ID}, {"POST", "/endpoints/" + s.ID + "/pause"}, {"POST", "/endpoints/" + s.ID + "/resume"},
		{"POST", "/endpoints/" + s.ID + "/rotate"}, {"POST", "/endpoints/" + s.ID + "/reveal"}, {"POST", "/endpoints/" + s.ID + "/test"},
		{"POST", "/endpoints/" + s.ID + "/delete"}, {"POST", "/endpoints/" + s.ID + "/retry"}, {"POST", "/deliveries/" + dls[0].ID + "/redeliver"},
	} {
		var form url.Values
		if rq.method == "POST" {
			form = url.Values{"url": {b.rcv.URL + "/stolen"}, "events": {"contact.created"}, "event_type": {"contact.created"}}
		}
		r := b.do(t, "org_b", rq.method, rq.path, form, "X-Test-Caps", "all")
		require.Equal(t, http.StatusNotFound, r.status, "%s %s", rq.method, rq.path)
		missing := b.do(t, "org_b", rq.method, strings.ReplaceAll(strings.ReplaceAll(rq.path, s.ID, "sub_missing"), dls[0].ID, "dlv_missing"), form, "X-Test-Caps", "all")
		require.Equal(t, missing.status, r.status)
		require.Equal(t, missing.body, r.body, "another organization's record looks exactly like a missing one")
		require.NotContains(t, r.body, "a-hook")
	}
	after, err := b.d.GetSubscription(context.Background(), "org_a", s.ID)
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Len(t, b.d.Deliveries(t, "org_a", s.ID), 1)
	list := b.do(t, "org_b", "GET", "/", nil)
	require.NotContains(t, list.body, "a-hook")
}

func TestCrossOriginPostIsRefused(t *testing.T) {
	b := setup(t)
	s := b.create(t, "org_a", "hook", "contact.created")
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Sec-Fetch-Site", "", "Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "", "Origin", "null"},
	} {
		r := b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/pause", url.Values{}, hdr...)
		require.Equal(t, http.StatusForbidden, r.status, "%v", hdr)
		require.Contains(t, r.body, "came from another site")
	}
	got, err := b.d.GetSubscription(context.Background(), "org_a", s.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.StateActive, got.State)

	r := b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/pause", url.Values{}, "Sec-Fetch-Site", "", "Origin", b.srv.URL)
	require.Equal(t, http.StatusSeeOther, r.status, "a same-origin Origin without Sec-Fetch-Site passes")
	got, err = b.d.GetSubscription(context.Background(), "org_a", s.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.StateStopped, got.State)
}

func TestOutputIsEscaped(t *testing.T) {
	b := setup(t)
	evil := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	r := b.do(t, "org_a", "POST", "/endpoints", url.Values{"url": {b.rcv.URL + "/e"}, "name": {evil}, "events": {"contact.created"}})
	require.Equal(t, http.StatusCreated, r.status, r.body)
	require.NotContains(t, r.body, "<script>alert")
	subs, _, err := b.d.ListSubscriptions(context.Background(), "org_a", webhook.Page{})
	require.NoError(t, err)
	for _, path := range []string{"/", "/endpoints/" + subs[0].ID, "/endpoints/" + subs[0].ID + "/edit"} {
		page := b.do(t, "org_a", "GET", path, nil)
		require.NotContains(t, page.body, "<script>alert", path)
		require.NotContains(t, page.body, "<img src=x", path)
		require.Contains(t, page.body, "&lt;script&gt;", path)
	}
	// The Config's title is escaped too.
	require.Contains(t, b.do(t, "org_a", "GET", "/", nil).body, "Acme &lt;CRM&gt;")
	// A form that is refused shows what was typed, escaped.
	bad := b.do(t, "org_a", "POST", "/endpoints", url.Values{"url": {`javascript:alert(1)"><b>`}, "events": {"contact.created"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.NotContains(t, bad.body, `"><b>`)
}

func TestSecurityHeaders(t *testing.T) {
	b := setup(t)
	r := b.do(t, "org_a", "GET", "/", nil)
	csp := r.header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self'")
	require.Contains(t, csp, "style-src 'self'")
	require.Contains(t, csp, "frame-ancestors 'none'")
	require.NotContains(t, csp, "unsafe-inline")
	require.Equal(t, "DENY", r.header.Get("X-Frame-Options"))
	require.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
	// No inline script or style in any page: the CSP would block them.
	require.NotRegexp(t, regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|style="| on[a-z]+="`), r.body)
	css := b.do(t, "", "GET", "/assets/theme.css", nil)
	require.Equal(t, http.StatusOK, css.status)
	require.Contains(t, css.body, "--accent:"+portal.DefaultAccentColor)
}

func TestFrameAncestorsFromConfig(t *testing.T) {
	d := webhooktest.NewDispatcher(t, nil)
	h := portal.NewHandler(d.Dispatcher, &portal.Config{
		Authorize: func(*http.Request) (manage.Access, error) {
			return manage.Access{OrganizationID: "o", Capabilities: manage.CanRead}, nil
		},
		FrameAncestors: []string{"'self'", "https://app.example.com"},
		LogoURL:        "https://cdn.example.com/logo.svg",
		AccentColor:    "#0a7d5a",
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	csp := rec.Header().Get("Content-Security-Policy")
	require.Contains(t, csp, "frame-ancestors 'self' https://app.example.com")
	require.Contains(t, csp, "img-src 'self' data: https://cdn.example.com")
	require.Empty(t, rec.Header().Get("X-Frame-Options"))
	require.Contains(t, rec.Body.String(), `src="https://cdn.example.com/logo.svg"`)

	require.Panics(t, func() {
		portal.NewHandler(d.Dispatcher, &portal.Config{Authorize: func(*http.Request) (manage.Access, error) { return manage.Access{}, nil }, AccentColor: "red;}body{x:y"})
	})
	require.Panics(t, func() {
		portal.NewHandler(d.Dispatcher, &portal.Config{Authorize: func(*http.Request) (manage.Access, error) { return manage.Access{}, nil }, FrameAncestors: []string{"x; script-src *"}})
	})
	require.Panics(t, func() { portal.NewHandler(d.Dispatcher, &portal.Config{}) })
}

func TestAuthorizationAndCapabilities(t *testing.T) {
	b := setup(t)
	s := b.create(t, "org_a", "hook", "contact.created")
	require.Equal(t, http.StatusUnauthorized, b.do(t, "", "GET", "/", nil).status)
	require.Equal(t, http.StatusUnauthorized, b.do(t, "", "POST", "/endpoints/"+s.ID+"/pause", url.Values{}).status)
	// Read-only: sees, cannot change, is offered no action.
	page := b.do(t, "org_a", "GET", "/endpoints/"+s.ID, nil, "X-Test-Caps", "read")
	require.Equal(t, http.StatusOK, page.status)
	require.NotContains(t, page.body, "/pause")
	require.NotContains(t, page.body, "Reveal secret")
	for _, p := range []string{"/pause", "/rotate", "/delete", "/test", "/reveal"} {
		require.Equal(t, http.StatusForbidden, b.do(t, "org_a", "POST", "/endpoints/"+s.ID+p, url.Values{}, "X-Test-Caps", "read").status, p)
	}
	require.Equal(t, http.StatusForbidden, b.do(t, "org_a", "GET", "/endpoints/new", nil, "X-Test-Caps", "read").status)
	// Manage without reveal: no reveal.
	require.Equal(t, http.StatusForbidden, b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/reveal", url.Values{}).status)
	got, err := b.d.GetSubscription(context.Background(), "org_a", s.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.StateActive, got.State)
	// With the capability, the secret is revealed and the reveal audited.
	r := b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/reveal", url.Values{}, "X-Test-Caps", "all")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.text, got.Secret)
	b.mu.Lock()
	require.Equal(t, manage.ActionRevealSecret, b.audits[len(b.audits)-1].Action)
	b.mu.Unlock()
	// Unknown pages and methods.
	require.Equal(t, http.StatusNotFound, b.do(t, "org_a", "GET", "/nope", nil).status)
	require.Equal(t, http.StatusNotFound, b.do(t, "org_a", "DELETE", "/endpoints/"+s.ID, nil).status)
}

func TestDeliveriesAttemptsRedeliverAndBulkRetry(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	s := b.create(t, "org_a", "hook", "contact.created", "sale.changed")
	b.rcv.Script(webhooktest.Statuses(500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500)...)
	_, err := b.d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org_a", Data: json.RawMessage(`{"id":1,"name":"<b>Ada</b>"}`)})
	require.NoError(t, err)
	_, err = b.d.Dispatch(ctx, webhook.Event{Type: "sale.changed", OrganizationID: "org_a", Data: json.RawMessage(`{"id":2}`)})
	require.NoError(t, err)
	b.d.AdvanceUntilIdle(t)
	dls := b.d.Deliveries(t, "org_a", s.ID)
	require.Len(t, dls, 2)
	for _, dl := range dls {
		require.Equal(t, webhook.DeliveryDead, dl.State)
	}

	page := b.do(t, "org_a", "GET", "/endpoints/"+s.ID+"?state=dead&event=sale.changed", nil)
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, "/deliveries/"+dls[1].ID)
	require.NotContains(t, page.body, "/deliveries/"+dls[0].ID)
	bad := b.do(t, "org_a", "GET", "/endpoints/"+s.ID+"?from=yesterday", nil)
	require.Equal(t, http.StatusBadRequest, bad.status)
	require.Contains(t, bad.body, "From is not a date")

	dp := b.do(t, "org_a", "GET", "/deliveries/"+dls[0].ID, nil)
	require.Equal(t, http.StatusOK, dp.status)
	require.Contains(t, dp.body, "Attempt 1")
	require.Contains(t, dp.body, "HTTP 500")
	require.Contains(t, dp.body, "eventTrigger", "the request body is shown")
	require.Contains(t, dp.body, `&lt;b&gt;Ada`, "the body is escaped")
	require.NotContains(t, dp.body, "<b>Ada")

	preview := b.do(t, "org_a", "GET", "/endpoints/"+s.ID+"/retry", nil)
	require.Equal(t, http.StatusOK, preview.status)
	require.Contains(t, preview.body, `<strong id="retry-count">2</strong>`)
	require.Equal(t, webhook.DeliveryDead, b.d.Deliveries(t, "org_a", s.ID)[0].State, "the preview changes nothing")
	one := b.do(t, "org_a", "GET", "/endpoints/"+s.ID+"/retry?event=sale.changed", nil)
	require.Contains(t, one.body, `<strong id="retry-count">1</strong>`)

	b.rcv.Script()
	r := b.do(t, "org_a", "POST", "/deliveries/"+dls[0].ID+"/redeliver", url.Values{})
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, prefix+"/deliveries/"+dls[0].ID+"?done=redelivered", r.header.Get("Location"))
	b.d.WaitIdle(t)
	got, attempts, err := b.d.GetDelivery(ctx, "org_a", dls[0].ID)
	require.NoError(t, err)
	require.Equal(t, webhook.DeliveryDelivered, got.State)
	require.True(t, attempts[len(attempts)-1].Manual)

	r = b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/retry", url.Values{"event": {""}})
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, prefix+"/endpoints/"+s.ID+"?done=retried&n=1", r.header.Get("Location"))
	b.d.WaitIdle(t)
	for _, dl := range b.d.Deliveries(t, "org_a", s.ID) {
		require.Equal(t, webhook.DeliveryDelivered, dl.State)
	}
	require.Contains(t, b.do(t, "org_a", "GET", "/endpoints/"+s.ID+"?done=retried&n=1", nil).body, "1 delivery queued again.")
}

func TestPauseResumeRotateTestDelete(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	s := b.create(t, "org_a", "hook", "contact.created")
	old := s.Secret

	r := b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/pause", url.Values{})
	require.Equal(t, http.StatusSeeOther, r.status)
	got, _ := b.d.GetSubscription(ctx, "org_a", s.ID)
	require.Equal(t, webhook.StateStopped, got.State)
	require.Contains(t, b.do(t, "org_a", "GET", "/endpoints/"+s.ID+"?done=paused", nil).body, "Endpoint paused")
	// A test event to a paused endpoint is a conflict, not a 500.
	require.Equal(t, http.StatusConflict, b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/test", url.Values{"event_type": {"contact.created"}}).status)

	require.Equal(t, http.StatusSeeOther, b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/resume", url.Values{}).status)
	got, _ = b.d.GetSubscription(ctx, "org_a", s.ID)
	require.Equal(t, webhook.StateActive, got.State)

	r = b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/test", url.Values{"event_type": {"sale.changed"}})
	require.Equal(t, http.StatusSeeOther, r.status)
	reqs := b.rcv.WaitFor(t, 1, 5*time.Second)
	require.Equal(t, "sale.changed", reqs[0].EventType())
	require.Equal(t, http.StatusUnprocessableEntity, b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/test", url.Values{"event_type": {"nope.nope"}}).status)

	r = b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/rotate", url.Values{})
	require.Equal(t, http.StatusOK, r.status)
	got, _ = b.d.GetSubscription(ctx, "org_a", s.ID)
	require.NotEqual(t, old, got.Secret)
	require.Contains(t, r.text, got.Secret)
	require.NotContains(t, r.text, old, "the old secret is not shown")
	require.Contains(t, r.body, "keeps signing beside it until")

	// Edit keeps the secret and the stored password.
	r = b.do(t, "org_a", "POST", "/endpoints/"+s.ID, url.Values{"url": {got.URL}, "name": {"renamed"}, "events": {"contact.deleted"}, "basic_user": {"bob"}, "basic_password": {"pw1-long-enough"}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	r = b.do(t, "org_a", "POST", "/endpoints/"+s.ID, url.Values{"url": {got.URL}, "name": {"renamed"}, "events": {"contact.deleted"}, "basic_user": {"bob"}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	edited, _ := b.d.GetSubscription(ctx, "org_a", s.ID)
	require.Equal(t, "renamed", edited.Name)
	require.Equal(t, []string{"contact.deleted"}, edited.Events)
	require.Equal(t, got.Secret, edited.Secret)
	require.Equal(t, "pw1-long-enough", edited.BasicAuth.Password)
	require.NotContains(t, b.do(t, "org_a", "GET", "/endpoints/"+s.ID+"/edit", nil).text, "pw1-long-enough")

	require.Equal(t, http.StatusOK, b.do(t, "org_a", "GET", "/endpoints/"+s.ID+"/delete", nil).status)
	r = b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/delete", url.Values{})
	require.Equal(t, http.StatusSeeOther, r.status)
	_, err := b.d.GetSubscription(ctx, "org_a", s.ID)
	require.ErrorIs(t, err, webhook.ErrNotFound)

	b.mu.Lock()
	var actions []manage.Action
	for _, c := range b.audits {
		actions = append(actions, c.Action)
		require.Equal(t, "user@org_a", c.Actor)
		if c.After != nil {
			require.Empty(t, c.After.Secret)
		}
	}
	b.mu.Unlock()
	require.Equal(t, []manage.Action{manage.ActionCreate, manage.ActionPause, manage.ActionResume, manage.ActionSendTest,
		manage.ActionRotateSecret, manage.ActionUpdate, manage.ActionUpdate, manage.ActionDelete}, actions)
}

func TestEventTypesPage(t *testing.T) {
	b := setup(t)
	r := b.do(t, "org_a", "GET", "/event-types", nil)
	require.Equal(t, http.StatusOK, r.status)
	for _, et := range catalog {
		require.Contains(t, r.body, et.Name)
		require.Contains(t, r.body, et.Description)
	}
	require.Contains(t, r.body, `&#34;stage&#34;: &#34;won&#34;`)
}

func TestPrefixRedirectAndAssets(t *testing.T) {
	b := setup(t)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(b.srv.URL + prefix)
	require.NoError(t, err)
	res.Body.Close()
	// The host's mux redirects the bare prefix itself; either way it ends
	// on the list.
	require.Contains(t, []int{http.StatusMovedPermanently, http.StatusTemporaryRedirect}, res.StatusCode)
	for _, a := range []string{"/assets/portal.css", "/assets/portal.js"} {
		r := b.do(t, "", "GET", a, nil)
		require.Equal(t, http.StatusOK, r.status, a)
	}
	require.Equal(t, http.StatusNotFound, b.do(t, "", "GET", "/assets/", nil).status)
}

func TestBulkRetryKeepsTheTimeRangeOfTheFilter(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	s := b.create(t, "org_a", "hook", "contact.created")
	b.rcv.Script(webhooktest.Statuses(500)...)
	_, err := b.d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org_a"})
	require.NoError(t, err)
	b.d.AdvanceUntilIdle(t)
	b.d.Advance(t, 2*time.Hour)
	from := b.d.Clock.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04")
	_, err = b.d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org_a"})
	require.NoError(t, err)
	b.d.AdvanceUntilIdle(t)

	page := b.do(t, "org_a", "GET", "/endpoints/"+s.ID+"?from="+from, nil)
	require.Contains(t, page.body, `<input type="hidden" name="from" value="`+from+`">`)
	require.Contains(t, b.do(t, "org_a", "GET", "/endpoints/"+s.ID+"/retry", nil).body, `<strong id="retry-count">2</strong>`)
	preview := b.do(t, "org_a", "GET", "/endpoints/"+s.ID+"/retry?event=&from="+from, nil)
	require.Contains(t, preview.body, `<strong id="retry-count">1</strong>`)
	r := b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/retry", url.Values{"from": {from}})
	require.Equal(t, prefix+"/endpoints/"+s.ID+"?done=retried&n=1", r.header.Get("Location"))
	bad := b.do(t, "org_a", "POST", "/endpoints/"+s.ID+"/retry", url.Values{"from": {"soon"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Contains(t, bad.body, "is not a date")
}

func TestEndpointsAndDeliveriesArePaged(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	for i := range 30 {
		require.NoError(t, b.d.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "org_a",
			Name: "hook-" + strconv.Itoa(100+i), URL: b.rcv.URL, Events: []string{"contact.created"}}))
	}
	first := b.do(t, "org_a", "GET", "/", nil)
	require.Equal(t, 25, strings.Count(first.body, `class="strong"`))
	next := regexp.MustCompile(`href="([^"]+)">Next page`).FindStringSubmatch(first.body)
	require.NotNil(t, next)
	link := strings.TrimPrefix(html.UnescapeString(next[1]), prefix)
	second := b.do(t, "org_a", "GET", link, nil)
	require.Equal(t, http.StatusOK, second.status)
	require.Equal(t, 5, strings.Count(second.body, `class="strong"`))
	require.NotContains(t, second.body, "Next page")
	require.Equal(t, http.StatusBadRequest, b.do(t, "org_a", "GET", "/?cursor=garbage", nil).status)

	subs, _, err := b.d.ListSubscriptions(ctx, "org_a", webhook.Page{Limit: 1})
	require.NoError(t, err)
	for range 27 {
		_, err := b.d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org_a"})
		require.NoError(t, err)
	}
	_, err = b.d.SendTest(ctx, "org_a", subs[0].ID, "sale.changed")
	require.NoError(t, err)
	b.d.WaitIdle(t)
	page := b.do(t, "org_a", "GET", "/endpoints/"+subs[0].ID+"?state=delivered", nil)
	require.Equal(t, 25, strings.Count(page.body, `href="/settings/webhooks/deliveries/`))
	require.Contains(t, page.body, `sale.changed</a> <span class="badge off">test</span>`, "newest first, the test event marked")
	older := regexp.MustCompile(`href="([^"]+)">Older deliveries`).FindStringSubmatch(page.body)
	require.NotNil(t, older)
	link = strings.TrimPrefix(html.UnescapeString(older[1]), prefix)
	require.Contains(t, link, "state=delivered", "the filter is kept")
	rest := b.do(t, "org_a", "GET", link, nil)
	require.Equal(t, 3, strings.Count(rest.body, `href="/settings/webhooks/deliveries/`))
}

func TestWithoutACatalog(t *testing.T) {
	d := webhooktest.NewDispatcher(t, nil)
	rcv := d.NewReceiver(t, nil)
	h := portal.NewHandler(d.Dispatcher, &portal.Config{Authorize: func(*http.Request) (manage.Access, error) {
		return manage.Access{OrganizationID: "o", Capabilities: manage.CanRead | manage.CanManage}, nil
	}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	get := func(path string) string {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		return string(body)
	}
	form := get("/endpoints/new")
	require.Contains(t, form, `<label for="patterns">Event types`)
	require.NotContains(t, form, `name="events"`, "no event type to tick")
	res, err := http.PostForm(srv.URL+"/endpoints", url.Values{"url": {rcv.URL}, "patterns": {"contact.*, sale.changed"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	subs, _, err := d.ListSubscriptions(context.Background(), "o", webhook.Page{})
	require.NoError(t, err)
	require.Equal(t, []string{"contact.*", "sale.changed"}, subs[0].Events)
	require.NotContains(t, get("/endpoints/"+subs[0].ID), "Send a test event")
	require.Contains(t, get("/event-types"), "No event types are listed")
	require.Contains(t, get("/endpoints/"+subs[0].ID+"/edit"), `value="contact.*, sale.changed"`)
}
