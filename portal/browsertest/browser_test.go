package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/portal"
	"github.com/relayhook/webhook/webhooktest"
)

// axeSource is axe-core's axe.min.js from its npm package, injected
// into each page to check its accessibility.
//
//go:embed testdata/axe.min.js
var axeSource string

// The one browser of the test binary, started by TestMain.
var (
	browserCtx context.Context
	noBrowser  string // why the tests skip, when they do
)

// screenshotDir is where every run writes its screenshots (git-ignored),
// emptied first.
const screenshotDir = "screenshots"

// The viewports: a desktop window and a phone.
const (
	desktopWidth, desktopHeight = 1280, 900
	phoneWidth, phoneHeight     = 390, 844
)

// findBrowser returns the Chromium to drive: RELAYHOOK_CHROME, else
// Debian's chromium on the PATH.
func findBrowser() (string, error) {
	if p := os.Getenv("RELAYHOOK_CHROME"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium on the PATH (install Debian's chromium package, or set RELAYHOOK_CHROME)")
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	path, err := findBrowser()
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "browsertest: under CI a browser is required:", err)
			return 1
		}
		noBrowser = err.Error()
		return m.Run()
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(desktopWidth, desktopHeight),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("hide-scrollbars", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "browsertest: starting", path, "failed:", err)
		return 1
	}
	browserCtx = ctx
	if err := os.RemoveAll(screenshotDir); err != nil {
		fmt.Fprintln(os.Stderr, "browsertest:", err)
		return 1
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "browsertest:", err)
		return 1
	}
	return m.Run()
}

var catalog = []webhook.EventType{
	{Name: "contact.created", Description: "A contact was added to the CRM.", Example: json.RawMessage(`{"id":42,"name":"Ada Lovelace","email":"ada@example.com"}`)},
	{Name: "contact.deleted", Description: "A contact was removed.", Example: json.RawMessage(`{"id":42}`)},
	{Name: "sale.changed", Description: "A sale changed stage or amount.", Example: json.RawMessage(`{"id":7,"stage":"won","amount":1200}`)},
}

// host is a host application: its login (a cookie naming the
// organization) and the portal mounted under /portal.
type host struct {
	d   *webhooktest.Dispatcher
	rcv *webhooktest.Receiver
	srv *httptest.Server
}

func newHost(t *testing.T) *host {
	t.Helper()
	h := &host{}
	h.d = webhooktest.NewDispatcher(t, &webhook.Config{
		EventTypes: catalog,
		Retry:      &webhook.ExponentialRetry{RandomizationFactor: -1, MaxAttempts: 3},
	})
	h.rcv = h.d.NewReceiver(t, nil)
	mux := http.NewServeMux()
	mux.Handle("/portal/", portal.NewHandler(h.d.Dispatcher, &portal.Config{
		Prefix: "/portal",
		Title:  "Acme CRM · Webhooks",
		Authorize: func(r *http.Request) (manage.Access, error) {
			c, err := r.Cookie("org")
			if err != nil {
				return manage.Access{}, err
			}
			return manage.Access{OrganizationID: c.Value, Actor: "admin@" + c.Value,
				Capabilities: manage.CanRead | manage.CanManage | manage.CanRevealSecrets}, nil
		},
	}))
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "org", Value: r.URL.Query().Get("org"), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/portal/", http.StatusSeeOther)
	})
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

// tab is one browser tab with cookies of its own, as a person signed in
// to one organization.
type tab struct {
	t    *testing.T
	ctx  context.Context
	host *host

	width int64 // the viewport's width between checks

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
	shots    int
}

// newTab opens a tab in a new browser context (its own cookies) and
// signs in as the organization.
func newTab(t *testing.T, h *host, org string) *tab {
	t.Helper()
	if browserCtx == nil {
		t.Skip("browsertest: skipped: " + noBrowser)
	}
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, host: h, width: desktopWidth}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.messages = append(tb.messages, m)
			tb.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	tb.open("/login?org=" + org)
	return tb
}

// do runs steps, failing the test on an error; every step is bounded.
func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	require.NoError(tb.t, chromedp.Do(ctx, steps...))
}

func runTab[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(tb.t, err)
	return v
}

// open navigates to a path of the host and returns the page's status.
func (tb *tab) open(path string) int {
	tb.t.Helper()
	return tb.load(chromedp.Navigate(tb.host.srv.URL + path))
}

// load runs steps that load a page (a click on a link or a submit
// button) and returns the page's HTTP status.
func (tb *tab) load(steps ...chromedp.Action[chromedp.Void]) int {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, steps...)
	require.NoError(tb.t, err)
	return int(res.Status)
}

// click clicks the element and waits for the page it loads.
func (tb *tab) click(sel string) int {
	tb.t.Helper()
	return tb.load(chromedp.Click(chromedp.CSS(sel)))
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return runTab(tb, chromedp.Text(chromedp.CSS(sel)))
}

func (tb *tab) has(sel string) bool {
	tb.t.Helper()
	return runTab(tb, chromedp.Evaluate[bool](fmt.Sprintf("document.querySelector(%q) !== null", sel)))
}

// consoleErrors returns and forgets the errors logged since the last
// call. Errors of the network source for statuses the test expects (a
// 404 page it opened on purpose) are left out when allowNetwork is set.
func (tb *tab) consoleErrors(allowNetwork bool) []string {
	// Let messages of the page just loaded arrive.
	time.Sleep(50 * time.Millisecond)
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var errs []string
	for _, m := range tb.messages {
		if m.Type != chromedp.ConsoleError && !m.IsException() {
			continue
		}
		if allowNetwork && m.Source == "network" {
			continue
		}
		errs = append(errs, m.String()+" at "+m.URL)
	}
	tb.messages = nil
	return errs
}

// violation is one axe-core rule broken, as the page reports it.
type violation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// scheme switches prefers-color-scheme.
func scheme(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: name}}})
		return err
	})
}

// check is what every page gets: axe-core in light and dark with no
// serious or critical violation, a screenshot of each, and no console
// error. expectError says the page is an error page opened on purpose.
func (tb *tab) check(name string, expectError bool) {
	tb.t.Helper()
	runTab(tb, chromedp.Evaluate[bool](axeSource+";true"))
	for _, s := range []string{"light", "dark"} {
		tb.do(scheme(s))
		vs := runTab(tb, chromedp.Evaluate[[]violation](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
			r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))})))`,
			chromedp.EvalAwaitPromise))
		for _, v := range vs {
			if v.Impact == "serious" || v.Impact == "critical" {
				tb.t.Errorf("%s (%s): axe %s %s: %s at %v", name, s, v.Impact, v.ID, v.Help, v.Nodes)
			}
		}
		png := runTab(tb, chromedp.FullScreenshot(100))
		tb.mu.Lock()
		tb.shots++
		n := tb.shots
		tb.mu.Unlock()
		file := filepath.Join(screenshotDir, fmt.Sprintf("%s-%02d-%s-%s.png", tb.t.Name(), n, name, s))
		require.NoError(tb.t, os.WriteFile(file, png, 0o644))
	}
	tb.do(scheme("light"))
	// Usable at phone width: nothing makes the page scroll sideways
	// (wide tables scroll inside their own region).
	tb.do(chromedp.EmulateViewport(phoneWidth, phoneHeight))
	require.True(tb.t, runTab(tb, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)),
		"%s scrolls sideways at phone width", name)
	tb.do(chromedp.EmulateViewport(tb.width, desktopHeight))
	require.Empty(tb.t, tb.consoleErrors(expectError), "console errors on %s", name)
}

// onlySub returns the organization's one subscription.
func (h *host) onlySub(t *testing.T, org string) *webhook.Subscription {
	t.Helper()
	subs, _, err := h.d.ListSubscriptions(context.Background(), org, webhook.Page{})
	require.NoError(t, err)
	require.Len(t, subs, 1)
	return subs[0]
}

func (h *host) dispatch(t *testing.T, org, typ string) {
	t.Helper()
	_, err := h.d.Dispatch(context.Background(), webhook.Event{Type: typ, OrganizationID: org, Data: json.RawMessage(`{"id":1,"name":"Ada"}`)})
	require.NoError(t, err)
}

// TestPortalFlow goes through the portal as a customer would: add an
// endpoint, see a delivery, read its attempts, redeliver a failure,
// retry failures in bulk after the count, pause and resume, rotate the
// secret, read the catalog.
func TestPortalFlow(t *testing.T) {
	h := newHost(t)
	b := newTab(t, h, "org_a")
	require.Contains(t, b.text("h1"), "Endpoints")
	require.Contains(t, b.text("main"), "No endpoints yet")
	b.check("endpoints-empty", false)

	// Add an endpoint through the form.
	require.Equal(t, http.StatusOK, b.click(`a[href="/portal/endpoints/new"]`))
	b.check("add-endpoint", false)
	b.do(
		chromedp.SendKeys(chromedp.CSS("#url"), h.rcv.URL+"/orders"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Order sync"),
		chromedp.Click(chromedp.CSS(`input[value="contact.created"]`)),
		chromedp.Click(chromedp.CSS(`input[value="sale.changed"]`)),
	)
	// A mistake first: a header line without a colon is shown by its field.
	b.do(chromedp.SendKeys(chromedp.CSS("#headers"), "X-Team sales"))
	require.Equal(t, http.StatusUnprocessableEntity, b.click(`form.form button[type="submit"]`))
	require.Contains(t, b.text("#headers-err"), "Line 1")
	require.Equal(t, h.rcv.URL+"/orders", runTab(b, chromedp.Value(chromedp.CSS("#url"))), "what was typed is kept")
	b.check("add-endpoint-error", true)
	b.do(chromedp.SetValue(chromedp.CSS("#headers"), "X-Team: sales"))
	require.Equal(t, http.StatusCreated, b.click(`form.form button[type="submit"]`))
	sub := h.onlySub(t, "org_a")
	secret := runTab(b, chromedp.Value(chromedp.CSS("#secret")))
	require.Equal(t, sub.Secret, secret, "the secret is shown right after create")
	require.True(t, runTab(b, chromedp.Evaluate[bool](`document.querySelector("button[data-copy]").hidden === false`)),
		"with JavaScript a copy button appears")
	require.Equal(t, []string{"contact.created", "sale.changed"}, sub.Events)
	require.Equal(t, map[string]string{"X-Team": "sales"}, sub.Headers)
	b.check("endpoint-created", false)

	// Dispatch from Go; the delivery appears on the endpoint's page.
	require.Equal(t, http.StatusOK, b.click(`main a.button`))
	require.Contains(t, b.text("main"), "No deliveries yet")
	h.dispatch(t, "org_a", "contact.created")
	h.d.WaitIdle(t)
	b.open("/portal/endpoints/" + sub.ID)
	require.Contains(t, b.text("table.list tbody"), "contact.created")
	require.Contains(t, b.text("table.list tbody"), "delivered")
	require.NotContains(t, runTab(b, chromedp.OuterHTML(chromedp.CSS("html"))), secret, "no secret on the endpoint page")
	b.check("endpoint", false)

	// Its attempts.
	require.Equal(t, http.StatusOK, b.click(`table.list tbody a`))
	require.Contains(t, b.text(".attempts"), "Attempt 1")
	require.Contains(t, b.text(".attempts"), "HTTP 200")
	require.Contains(t, b.text("pre[aria-label='Request body']"), `"eventTrigger": "contact.created"`)
	b.check("delivery", false)

	// Make one fail, then redeliver it once the endpoint is fixed.
	h.rcv.Script(webhooktest.Statuses(500)...)
	h.dispatch(t, "org_a", "sale.changed")
	h.d.AdvanceUntilIdle(t)
	b.open("/portal/endpoints/" + sub.ID + "?state=dead")
	require.Contains(t, b.text("table.list tbody"), "sale.changed")
	require.Contains(t, b.text("table.list tbody"), "failed")
	require.NotContains(t, b.text("table.list tbody"), "contact.created", "the filter keeps failures only")
	b.check("endpoint-failed-filter", false)
	require.Equal(t, http.StatusOK, b.click(`table.list tbody a`))
	require.Contains(t, b.text(".attempts"), "HTTP 500")
	require.Contains(t, b.text(".attempts"), "Attempt 3")
	b.check("delivery-failed", false)
	h.rcv.Script()
	require.Equal(t, http.StatusOK, b.click(`form[action$="/redeliver"] button`))
	require.Contains(t, b.text(".notice"), "Delivery queued again.")
	h.d.WaitIdle(t)
	b.do(chromedp.Reload())
	require.Contains(t, b.text("h1"), "delivered")
	require.Contains(t, b.text(".attempts"), "Attempt 4 (by hand)")

	// Bulk retry: two failures, counted before confirming.
	h.rcv.Script(webhooktest.Statuses(500)...)
	h.dispatch(t, "org_a", "contact.created")
	h.dispatch(t, "org_a", "sale.changed")
	h.d.AdvanceUntilIdle(t)
	h.rcv.Script()
	b.open("/portal/endpoints/" + sub.ID)
	require.Equal(t, http.StatusOK, b.click(`form[action$="/retry"] button`))
	require.Equal(t, "2", b.text("#retry-count"))
	b.check("retry-preview", false)
	require.Equal(t, http.StatusOK, b.click(`form[action$="/retry"] button`))
	require.Contains(t, b.text(".notice"), "2 deliveries queued again.")
	h.d.WaitIdle(t)
	for _, dl := range h.d.Deliveries(t, "org_a", sub.ID) {
		require.Equal(t, webhook.DeliveryDelivered, dl.State, dl.ID)
	}

	// Pause and resume, the pause from the keyboard.
	b.open("/portal/endpoints/" + sub.ID)
	require.Equal(t, http.StatusOK, b.load(chromedp.Focus(chromedp.CSS(`form[action$="/pause"] button`)), chromedp.KeyEvent("\r")))
	require.Contains(t, b.text("h1 .badge"), "Stopped")
	require.Contains(t, b.text(".notice"), "Endpoint paused")
	b.check("endpoint-paused", false)
	got, err := h.d.GetSubscription(context.Background(), "org_a", sub.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.StateStopped, got.State)
	require.Equal(t, http.StatusOK, b.click(`form[action$="/resume"] button`))
	require.Contains(t, b.text("h1 .badge"), "Active")

	// A test event from the catalog.
	b.do(chromedp.SetValue(chromedp.CSS("#test-type"), "contact.deleted"))
	require.Equal(t, http.StatusOK, b.click(`form[action$="/test"] button`))
	require.Contains(t, b.text(".notice"), "Test event queued")
	h.d.WaitIdle(t)
	require.Equal(t, "contact.deleted", h.rcv.Requests()[h.rcv.Len()-1].EventType())

	// Rotate the secret: a new one, shown once.
	require.Equal(t, http.StatusOK, b.click(`form[action$="/rotate"] button`))
	rotated := runTab(b, chromedp.Value(chromedp.CSS("#secret")))
	require.NotEqual(t, secret, rotated)
	got, err = h.d.GetSubscription(context.Background(), "org_a", sub.ID)
	require.NoError(t, err)
	require.Equal(t, got.Secret, rotated)
	require.Contains(t, b.text("main"), "previous secret keeps signing")
	b.check("secret-rotated", false)
	// Revealed again later (this login has the capability).
	b.open("/portal/endpoints/" + sub.ID)
	require.NotContains(t, runTab(b, chromedp.OuterHTML(chromedp.CSS("html"))), rotated)
	require.Equal(t, http.StatusOK, b.click(`form[action$="/reveal"] button`))
	require.Equal(t, rotated, runTab(b, chromedp.Value(chromedp.CSS("#secret"))))
	b.check("secret-revealed", false)

	// Edit: the form is filled from the endpoint.
	b.open("/portal/endpoints/" + sub.ID + "/edit")
	require.Equal(t, "Order sync", runTab(b, chromedp.Value(chromedp.CSS("#name"))))
	require.True(t, runTab(b, chromedp.Evaluate[bool](`document.querySelector('input[value="sale.changed"]').checked`)))
	b.check("edit-endpoint", false)
	// The delivery controls: a filter with a mistake first, shown by the
	// filter; what was typed is kept.
	b.do(
		chromedp.SendKeys(chromedp.CSS("#rate_requests"), "20"),
		chromedp.SetValue(chromedp.CSS("#rate_per"), "minute"),
		chromedp.Click(chromedp.CSS("#ordered")),
		chromedp.SendKeys(chromedp.CSS("#filter"), `{"data.id": {"$gte": true}}`),
	)
	require.Equal(t, http.StatusUnprocessableEntity, b.click(`form.form button[type="submit"]`))
	require.Contains(t, b.text("#filter-err"), `At ["data.id"]["$gte"]`)
	require.Equal(t, "20", runTab(b, chromedp.Value(chromedp.CSS("#rate_requests"))))
	b.check("edit-filter-error", true)
	b.do(chromedp.SetValue(chromedp.CSS("#filter"), `{"data.id": {"$gte": 1}}`))
	require.Equal(t, http.StatusOK, b.click(`form.form button[type="submit"]`))
	require.Contains(t, b.text(".facts"), "20 per minute")
	require.Contains(t, b.text(".facts"), "in order, one at a time")
	require.Contains(t, b.text(".facts"), `{"data.id":{"$gte":1}}`)
	got, err = h.d.GetSubscription(context.Background(), "org_a", sub.ID)
	require.NoError(t, err)
	require.Equal(t, &webhook.RateLimit{Requests: 20, Per: webhook.PerMinute}, got.RateLimit)
	require.True(t, got.Ordered)
	b.check("endpoint-controls", false)

	// A screenshot at phone width (check tries every page at it).
	b.open("/portal/endpoints/" + sub.ID)
	b.width = phoneWidth
	b.do(chromedp.EmulateViewport(phoneWidth, phoneHeight))
	b.check("endpoint-phone", false)
	b.width = desktopWidth
	b.do(chromedp.EmulateViewport(desktopWidth, desktopHeight))

	// The list, the catalog, the delete confirmation, and the delete.
	b.open("/portal/")
	require.Contains(t, b.text("table.list"), "Order sync")
	require.Contains(t, b.text("table.list"), "Active")
	b.check("endpoints", false)
	require.Equal(t, http.StatusOK, b.click(`nav a[href="/portal/event-types"]`))
	require.Contains(t, b.text("main"), `"stage": "won"`)
	b.check("event-types", false)
	b.open("/portal/endpoints/" + sub.ID)
	require.Equal(t, http.StatusOK, b.click(`a.danger`))
	b.check("delete-confirm", false)
	require.Equal(t, http.StatusOK, b.click(`form[action$="/delete"] button`))
	require.Contains(t, b.text(".notice"), "Endpoint deleted.")
	_, err = h.d.GetSubscription(context.Background(), "org_a", sub.ID)
	require.ErrorIs(t, err, webhook.ErrNotFound)
}

// TestAnotherOrganizationCannotSeeOrChange opens organization A's
// endpoint and delivery as organization B, by URL.
func TestAnotherOrganizationCannotSeeOrChange(t *testing.T) {
	h := newHost(t)
	a := newTab(t, h, "org_a")
	a.click(`a[href="/portal/endpoints/new"]`)
	a.do(
		chromedp.SendKeys(chromedp.CSS("#url"), h.rcv.URL+"/a"),
		chromedp.SendKeys(chromedp.CSS("#name"), "A's private endpoint"),
		chromedp.Click(chromedp.CSS(`input[value="contact.created"]`)),
	)
	require.Equal(t, http.StatusCreated, a.click(`form.form button[type="submit"]`))
	sub := h.onlySub(t, "org_a")
	h.dispatch(t, "org_a", "contact.created")
	h.d.WaitIdle(t)
	dl := h.d.Deliveries(t, "org_a", sub.ID)[0]

	b := newTab(t, h, "org_b")
	require.Contains(t, b.text("main"), "No endpoints yet")
	for _, path := range []string{"/portal/endpoints/" + sub.ID, "/portal/endpoints/" + sub.ID + "/edit",
		"/portal/endpoints/" + sub.ID + "/delete", "/portal/deliveries/" + dl.ID} {
		require.Equal(t, http.StatusNotFound, b.open(path), path)
		require.Contains(t, b.text("main"), "There is no such page")
		require.NotContains(t, b.text("body"), "private")
	}
	b.check("not-found", true)
	// B's own form posted at A's endpoint: 404, and A's is unchanged.
	b.open("/portal/endpoints/new")
	b.do(
		chromedp.SendKeys(chromedp.CSS("#url"), h.rcv.URL+"/stolen"),
		chromedp.Click(chromedp.CSS(`input[value="contact.created"]`)),
		chromedp.SetAttributeValue(chromedp.CSS("form.form"), "action", "/portal/endpoints/"+sub.ID),
	)
	require.Equal(t, http.StatusNotFound, b.click(`form.form button[type="submit"]`))
	require.Empty(t, b.consoleErrors(true))
	got, err := h.d.GetSubscription(context.Background(), "org_a", sub.ID)
	require.NoError(t, err)
	require.Equal(t, h.rcv.URL+"/a", got.URL)
	subs, _, err := h.d.ListSubscriptions(context.Background(), "org_b", webhook.Page{})
	require.NoError(t, err)
	require.Empty(t, subs)
}

// TestCrossSitePostIsRefused submits, from a page of another origin (the
// same host on another port), a form that would pause the endpoint.
func TestCrossSitePostIsRefused(t *testing.T) {
	h := newHost(t)
	sub := &webhook.Subscription{OrganizationID: "org_a", URL: h.rcv.URL + "/a", Events: []string{"contact.created"}}
	require.NoError(t, h.d.CreateSubscription(context.Background(), sub))
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Win a prize</title><main><h1>Win a prize</h1>
<form method="post" action="%s/portal/endpoints/%s/pause"><button id="go" type="submit">Claim</button></form></main>`, h.srv.URL, sub.ID)
	}))
	t.Cleanup(evil.Close)
	require.False(t, strings.HasPrefix(evil.URL, h.srv.URL+"/"), "another origin")

	b := newTab(t, h, "org_a")
	b.load(chromedp.Navigate(evil.URL))
	require.Equal(t, http.StatusForbidden, b.click("#go"))
	require.Contains(t, b.text("main"), "came from another site")
	b.check("cross-site-refused", true)
	got, err := h.d.GetSubscription(context.Background(), "org_a", sub.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.StateActive, got.State, "the cross-site post changed nothing")

	// The same form on the portal's own page works.
	b.open("/portal/endpoints/" + sub.ID)
	require.Equal(t, http.StatusOK, b.click(`form[action$="/pause"] button`))
	got, err = h.d.GetSubscription(context.Background(), "org_a", sub.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.StateStopped, got.State)
}

// TestWorksWithoutJavaScript adds an endpoint, pauses it and rotates
// its secret with scripts disabled, from the keyboard: the forms post
// back, nothing needs JavaScript.
func TestWorksWithoutJavaScript(t *testing.T) {
	h := newHost(t)
	b := newTab(t, h, "org_a")
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	b.open("/portal/")
	// The first Tab reaches the skip link, which leads to the content.
	b.do(chromedp.KeyEvent("\t"))
	require.Equal(t, "Skip to content", runTab(b, chromedp.Evaluate[string](`document.activeElement.textContent`)))

	require.Equal(t, http.StatusOK, b.load(chromedp.Focus(chromedp.CSS(`a[href="/portal/endpoints/new"]`)), chromedp.KeyEvent("\r")))
	b.do(
		chromedp.Focus(chromedp.CSS("#url")), chromedp.KeyEvent(h.rcv.URL+"/nojs"),
		chromedp.Focus(chromedp.CSS(`input[value="contact.deleted"]`)), chromedp.KeyEvent(" "),
	)
	require.Equal(t, http.StatusCreated, b.load(chromedp.Focus(chromedp.CSS(`form.form button[type="submit"]`)), chromedp.KeyEvent("\r")))
	sub := h.onlySub(t, "org_a")
	require.Equal(t, []string{"contact.deleted"}, sub.Events)
	require.False(t, runTab(b, chromedp.Evaluate[bool](`document.querySelector("button[data-copy]").hidden === false`)),
		"without JavaScript the copy button stays hidden")

	b.open("/portal/endpoints/" + sub.ID)
	require.Equal(t, http.StatusOK, b.load(chromedp.Focus(chromedp.CSS(`form[action$="/pause"] button`)), chromedp.KeyEvent("\r")))
	require.Contains(t, b.text("h1 .badge"), "Stopped")
	require.Equal(t, http.StatusOK, b.load(chromedp.Focus(chromedp.CSS(`form[action$="/rotate"] button`)), chromedp.KeyEvent("\r")))
	got, err := h.d.GetSubscription(context.Background(), "org_a", sub.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.StateStopped, got.State)
	require.Equal(t, got.Secret, runTab(b, chromedp.Value(chromedp.CSS("#secret"))))
	require.NotEqual(t, sub.Secret, got.Secret)
	require.Empty(t, b.consoleErrors(false))
}
