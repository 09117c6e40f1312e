package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/webhooktest"
)

// subscriptionLimits describes each limit on a subscription: the field
// refused past it, how to read it from a Limits, and how to build a
// subscription holding n of what it counts.
var subscriptionLimits = []struct {
	name  string
	field string // prefix of the *ValidationError's Field
	get   func(l *webhook.Limits) *int
	fill  func(s *webhook.Subscription, n int)
}{
	{"URL length", "url", func(l *webhook.Limits) *int { return &l.MaxURLLength }, func(s *webhook.Subscription, n int) {
		s.URL = "https://h.example/" + strings.Repeat("a", n-len("https://h.example/"))
	}},
	{"event patterns", "events", func(l *webhook.Limits) *int { return &l.MaxEventPatterns }, func(s *webhook.Subscription, n int) {
		s.Events = patterns(n)
	}},
	{"event pattern length", "events[0]", func(l *webhook.Limits) *int { return &l.MaxEventTypeLength }, func(s *webhook.Subscription, n int) {
		s.Events = []string{strings.Repeat("a", n)}
	}},
	{"prefix pattern length", "events[0]", func(l *webhook.Limits) *int { return &l.MaxEventTypeLength }, func(s *webhook.Subscription, n int) {
		s.Events = []string{strings.Repeat("a", n-2) + ".*"}
	}},
	{"headers", "headers", func(l *webhook.Limits) *int { return &l.MaxHeaders }, func(s *webhook.Subscription, n int) {
		s.Headers = manyStrings(n)
	}},
	{"header name length", `headers["`, func(l *webhook.Limits) *int { return &l.MaxNameLength }, func(s *webhook.Subscription, n int) {
		s.Headers = map[string]string{"X" + strings.Repeat("n", n-1): "v"}
	}},
	{"header value length", `headers["X-A"]`, func(l *webhook.Limits) *int { return &l.MaxValueLength }, func(s *webhook.Subscription, n int) {
		s.Headers = map[string]string{"X-A": strings.Repeat("v", n)}
	}},
	{"custom parameters", "customParameters", func(l *webhook.Limits) *int { return &l.MaxCustomParameters }, func(s *webhook.Subscription, n int) {
		s.CustomParameters = manyStrings(n)
	}},
	{"custom parameter key length", "customParameters", func(l *webhook.Limits) *int { return &l.MaxNameLength }, func(s *webhook.Subscription, n int) {
		s.CustomParameters = map[string]string{strings.Repeat("k", n): "v"}
	}},
	{"custom parameter value length", `customParameters["k"]`, func(l *webhook.Limits) *int { return &l.MaxValueLength }, func(s *webhook.Subscription, n int) {
		s.CustomParameters = map[string]string{"k": strings.Repeat("v", n)}
	}},
	{"properties", "properties", func(l *webhook.Limits) *int { return &l.MaxProperties }, func(s *webhook.Subscription, n int) {
		s.Properties = manyStrings(n)
	}},
	{"property value length", `properties["k"]`, func(l *webhook.Limits) *int { return &l.MaxValueLength }, func(s *webhook.Subscription, n int) {
		s.Properties = map[string]string{"k": strings.Repeat("v", n)}
	}},
	{"name length", "name", func(l *webhook.Limits) *int { return &l.MaxNameLength }, func(s *webhook.Subscription, n int) {
		s.Name = strings.Repeat("n", n)
	}},
	{"organization length", "organizationId", func(l *webhook.Limits) *int { return &l.MaxNameLength }, func(s *webhook.Subscription, n int) {
		s.OrganizationID = strings.Repeat("o", n)
	}},
	{"password length", "basicAuth.password", func(l *webhook.Limits) *int { return &l.MaxValueLength }, func(s *webhook.Subscription, n int) {
		s.BasicAuth = &webhook.BasicAuth{Username: "u", Password: strings.Repeat("p", n)}
	}},
	{"previous secrets", "previousSecrets", func(l *webhook.Limits) *int { return &l.MaxPreviousSecrets }, func(s *webhook.Subscription, n int) {
		s.PreviousSecrets = nil
		for range n {
			s.PreviousSecrets = append(s.PreviousSecrets, webhook.PreviousSecret{Secret: webhook.NewSecret(), ExpiresAt: t0.Add(time.Hour)})
		}
	}},
}

func limitSubscription() *webhook.Subscription {
	return &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"}}
}

func checkLimitError(t *testing.T, err error, field, name string) {
	t.Helper()
	require.ErrorIs(t, err, webhook.ErrInvalidSubscription, name)
	var ve *webhook.ValidationError
	require.ErrorAs(t, err, &ve, name)
	require.True(t, strings.HasPrefix(ve.Field, field), "%s: field %q, want %q", name, ve.Field, field)
}

// TestSubscriptionLimitsAtTheBoundary: each default limit, and each
// limit changed through Config.Limits (down and up), accepts a
// subscription at the limit and refuses one past it.
func TestSubscriptionLimitsAtTheBoundary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	defaults := webhook.DefaultLimits()
	for _, tc := range subscriptionLimits {
		limit := *tc.get(&defaults)

		s := limitSubscription()
		tc.fill(s, limit)
		require.NoError(t, s.Validate(), "%s at the default %d", tc.name, limit)
		s = limitSubscription()
		tc.fill(s, limit+1)
		checkLimitError(t, s.Validate(), tc.field, tc.name)

		// A dispatcher with the default limits agrees.
		d := newIdleDispatcher(t, nil)
		s = limitSubscription()
		tc.fill(s, limit)
		require.NoError(t, d.CreateSubscription(ctx, s), tc.name)
		s = limitSubscription()
		tc.fill(s, limit+1)
		checkLimitError(t, d.CreateSubscription(ctx, s), tc.field, tc.name)

		// Lowered and raised through Config.Limits.
		for _, custom := range []int{max(limit/2, 2), limit * 2} {
			var l webhook.Limits
			*tc.get(&l) = custom
			d := newIdleDispatcher(t, func(c *webhook.Config) { c.Limits = l })
			s := limitSubscription()
			tc.fill(s, custom)
			require.NoError(t, d.CreateSubscription(ctx, s), "%s at %d", tc.name, custom)
			s = limitSubscription()
			tc.fill(s, custom+1)
			checkLimitError(t, d.CreateSubscription(ctx, s), tc.field, tc.name+" past "+strconv.Itoa(custom))
		}
	}
}

// newIdleDispatcher returns a dispatcher that is not started, over a new
// memstore.
func newIdleDispatcher(t *testing.T, adjust func(*webhook.Config)) *webhook.Dispatcher {
	t.Helper()
	cfg := &webhook.Config{Clock: webhooktest.NewClock(t0), Retention: -1}
	if adjust != nil {
		adjust(cfg)
	}
	d, err := webhook.NewDispatcher(memstore.New(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close(context.Background())) })
	return d
}

// TestEventLimitsAtTheBoundary: Dispatch accepts an event at each limit
// and refuses one past it with a *ValidationError, storing nothing.
func TestEventLimitsAtTheBoundary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type eventLimit struct {
		name, field string
		limit       int
		config      func(c *webhook.Config)
		event       func(n int) webhook.Event
	}
	data := func(n int) webhook.Event {
		return webhook.Event{Type: "a.b", OrganizationID: "o", Data: jsonString(n)}
	}
	typ := func(n int) webhook.Event {
		return webhook.Event{Type: strings.Repeat("t", n), OrganizationID: "o"}
	}
	dottedType := func(n int) webhook.Event {
		return webhook.Event{Type: "a." + strings.Repeat("t", n-2), OrganizationID: "o"}
	}
	org := func(n int) webhook.Event {
		return webhook.Event{Type: "a.b", OrganizationID: strings.Repeat("o", n)}
	}
	id := func(n int) webhook.Event {
		return webhook.Event{ID: strings.Repeat("i", n), Type: "a.b", OrganizationID: "o"}
	}
	depth := func(n int) webhook.Event {
		return webhook.Event{Type: "a.b", OrganizationID: "o", Data: nestedData(n)}
	}
	for _, tc := range []eventLimit{
		{"data, default", "data", defaultMaxDataBytes, nil, data},
		{"data, lowered", "data", 100, func(c *webhook.Config) { c.MaxDataBytes = 100 }, data},
		{"data, raised", "data", 2 * defaultMaxDataBytes, func(c *webhook.Config) { c.MaxDataBytes = 2 * defaultMaxDataBytes }, data},
		{"type, default", "type", defLimits.MaxEventTypeLength, nil, typ},
		{"dotted type, default", "type", defLimits.MaxEventTypeLength, nil, dottedType},
		{"type, lowered", "type", 10, func(c *webhook.Config) { c.Limits.MaxEventTypeLength = 10 }, typ},
		{"type, raised", "type", 300, func(c *webhook.Config) { c.Limits.MaxEventTypeLength = 300 }, typ},
		{"organization, default", "organizationId", defLimits.MaxNameLength, nil, org},
		{"organization, lowered", "organizationId", minNameLength, func(c *webhook.Config) { c.Limits.MaxNameLength = minNameLength }, org},
		{"ID, default", "id", defLimits.MaxNameLength, nil, id},
		{"ID, raised", "id", 1000, func(c *webhook.Config) { c.Limits.MaxNameLength = 1000 }, id},
		{"data depth, default", "data", defLimits.MaxDataDepth, nil, depth},
		{"data depth, lowered", "data", 3, func(c *webhook.Config) { c.Limits.MaxDataDepth = 3 }, depth},
		{"data depth, at the cap", "data", maxDataDepthCap, func(c *webhook.Config) { c.Limits.MaxDataDepth = maxDataDepthCap }, depth},
	} {
		d := newIdleDispatcher(t, tc.config)
		ev := tc.event(tc.limit)
		res, err := d.Dispatch(ctx, ev)
		require.NoError(t, err, "%s at %d", tc.name, tc.limit)
		evs, _, err := d.ListEvents(ctx, webhook.EventFilter{OrganizationID: ev.OrganizationID})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, res.EventID, evs[0].ID)

		ev = tc.event(tc.limit + 1)
		_, err = d.Dispatch(ctx, ev)
		require.ErrorIs(t, err, webhook.ErrInvalidEvent, tc.name)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve, tc.name)
		require.Equal(t, tc.field, ve.Field, tc.name)
		if ev.OrganizationID == "o" {
			evs, _, err = d.ListEvents(ctx, webhook.EventFilter{OrganizationID: "o"})
			require.NoError(t, err)
			require.Len(t, evs, 1, "%s: nothing more was stored", tc.name)
		}
	}
}

func TestLimitsConfigValidation(t *testing.T) {
	t.Parallel()
	l := webhook.Limits{}
	fields := map[string]*int{
		"MaxURLLength": &l.MaxURLLength, "MaxEventPatterns": &l.MaxEventPatterns,
		"MaxEventTypeLength": &l.MaxEventTypeLength, "MaxHeaders": &l.MaxHeaders,
		"MaxCustomParameters": &l.MaxCustomParameters, "MaxProperties": &l.MaxProperties,
		"MaxNameLength": &l.MaxNameLength, "MaxValueLength": &l.MaxValueLength,
		"MaxPreviousSecrets": &l.MaxPreviousSecrets, "MaxDataDepth": &l.MaxDataDepth,
	}
	for name, p := range fields {
		l = webhook.Limits{}
		*p = -1
		_, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{Limits: l})
		require.ErrorIs(t, err, webhook.ErrInvalidConfig, name)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, "Limits."+name, ve.Field)
	}
	for field, cfg := range map[string]*webhook.Config{
		"DialTimeout":            {DialTimeout: -1},
		"TLSHandshakeTimeout":    {TLSHandshakeTimeout: -1},
		"ResponseHeaderTimeout":  {ResponseHeaderTimeout: -1},
		"MaxResponseHeaderBytes": {MaxResponseHeaderBytes: -1},
		"SecretGracePeriod":      {SecretGracePeriod: -1},
		"AllowedNetworks[1]":     {AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}}},
		"Limits.MaxNameLength":   {Limits: webhook.Limits{MaxNameLength: minNameLength - 1}},
		"Limits.MaxDataDepth":    {Limits: webhook.Limits{MaxDataDepth: maxDataDepthCap + 1}},
	} {
		_, err := webhook.NewDispatcher(memstore.New(), cfg)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve, field)
		require.Equal(t, field, ve.Field)
		require.ErrorIs(t, err, webhook.ErrInvalidConfig)
	}
	// The defaults Limits' docs give.
	require.Equal(t, webhook.Limits{
		MaxURLLength: 2048, MaxEventPatterns: 100, MaxEventTypeLength: 128, MaxHeaders: 32,
		MaxCustomParameters: 64, MaxProperties: 64, MaxNameLength: 256, MaxValueLength: 4096,
		MaxPreviousSecrets: 5, MaxDataDepth: 128,
	}, webhook.DefaultLimits())
}

// TestResponseBodyLimitsAtTheBoundary: MaxResponseBodyKept keeps exactly
// that many bytes; MaxResponseBodyRead reads exactly that many, which
// shows in the connection: a body read to its end lets the next attempt
// reuse the connection, a longer one is cut and the connection dropped.
func TestResponseBodyLimitsAtTheBoundary(t *testing.T) {
	t.Parallel()
	const limit = 700
	body := strings.Repeat("r", limit+1)
	var size atomic.Int64
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(size.Load())
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = w.Write([]byte(body[:n]))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	attempt := func(b *bundle, org string, n int) string {
		size.Store(int64(n))
		s := b.subscribe(org, srv.URL, "*")
		b.dispatch(webhook.Event{Type: "a.b", OrganizationID: org})
		dl := b.waitAttempts(s, 1)
		require.Equal(t, webhook.DeliveryDelivered, dl.State)
		attempts, err := b.store.ListAttempts(context.Background(), dl.OrganizationID, dl.ID)
		require.NoError(t, err)
		return attempts[0].ResponseBody
	}

	// Kept: at the limit all of it, past it the limit.
	kept := setup(t, func(c *webhook.Config) { c.MaxResponseBodyKept = limit })
	require.Len(t, attempt(kept, "k1", limit), limit)
	require.Len(t, attempt(kept, "k2", limit+1), limit)

	// Read: at the limit the connection is reused; past it, it is not.
	read := setup(t, func(c *webhook.Config) { c.MaxResponseBodyRead = limit; c.Workers = 1 })
	before := conns.Load()
	require.Len(t, attempt(read, "r1", limit), limit) // kept is capped at read
	require.Len(t, attempt(read, "r2", limit), limit)
	require.Equal(t, before+1, conns.Load(), "a body of MaxResponseBodyRead bytes is read whole and the connection reused")
	require.Len(t, attempt(read, "r3", limit+1), limit) // may take the idle connection, and closes it
	before = conns.Load()
	require.Len(t, attempt(read, "r4", limit+1), limit)
	require.Len(t, attempt(read, "r5", limit+1), limit)
	require.Equal(t, before+2, conns.Load(), "a longer body is cut, and its connection closed")
}

// TestTimeoutsAtTheBoundary: an endpoint answering inside each timeout is
// delivered; one past it fails with that timeout's error.
func TestTimeoutsAtTheBoundary(t *testing.T) {
	t.Parallel()
	const limit = 300 * time.Millisecond
	delayed := func(d time.Duration) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client leave
			select {
			case <-time.After(d):
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	for _, tc := range []struct {
		name   string
		config func(c *webhook.Config)
		errHas string
	}{
		{"total", func(c *webhook.Config) { c.Timeout = limit }, "deadline exceeded"},
		{"response header", func(c *webhook.Config) { c.Timeout = 10 * limit; c.ResponseHeaderTimeout = limit }, "timeout awaiting response headers"},
	} {
		b := setup(t, tc.config)
		inside := b.subscribe("in-"+tc.name, delayed(limit/3), "*")
		past := b.subscribe("past-"+tc.name, delayed(3*limit), "*")
		b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "in-" + tc.name})
		b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "past-" + tc.name})
		require.Equal(t, webhook.DeliveryDelivered, b.waitAttempts(inside, 1).State, tc.name)
		dl := b.waitAttempts(past, 1)
		require.Equal(t, webhook.DeliveryPending, dl.State, tc.name)
		require.Contains(t, dl.LastError, tc.errHas, tc.name)
	}
}

// TestTLSHandshakeTimeoutAtTheBoundary: a handshake that completes inside
// TLSHandshakeTimeout fails only on the certificate; one that stalls
// fails on the timeout.
func TestTLSHandshakeTimeoutAtTheBoundary(t *testing.T) {
	t.Parallel()
	tlsSrv := quietTLSServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	stall := newRawListener(t, "127.0.0.1:0", (*rawListener).countBytes)
	b := setup(t, func(c *webhook.Config) { c.Timeout = 5 * time.Second; c.TLSHandshakeTimeout = 1500 * time.Millisecond })
	done := b.subscribe("o1", tlsSrv.URL, "*")
	stalled := b.subscribe("o2", "https://"+stall.Addr().String()+"/", "*")
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o1"})
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o2"})
	dl := b.waitAttempts(done, 1)
	require.Contains(t, dl.LastError, "certificate")
	require.NotContains(t, dl.LastError, "timeout")
	dl = b.waitAttempts(stalled, 1)
	require.Contains(t, dl.LastError, "TLS handshake timeout")
}

// TestResponseHeaderBytesLimit: response headers well under
// MaxResponseHeaderBytes are read; past it the attempt fails.
func TestResponseHeaderBytesLimit(t *testing.T) {
	t.Parallel()
	const limit = 8 << 10
	withHeader := func(n int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Big", strings.Repeat("h", n))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	b := setup(t, func(c *webhook.Config) { c.MaxResponseHeaderBytes = limit })
	under := b.subscribe("o1", withHeader(limit/2), "*")
	past := b.subscribe("o2", withHeader(limit+1), "*")
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o1"})
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o2"})
	require.Equal(t, webhook.DeliveryDelivered, b.waitAttempts(under, 1).State)
	dl := b.waitAttempts(past, 1)
	require.Equal(t, webhook.DeliveryPending, dl.State)
	require.Contains(t, dl.LastError, "headers exceeded")
}

// TestVerifyBodyLimitAtTheBoundary: Verify and the middleware accept a
// body of MaxBodyBytes and refuse one byte more with ErrBodyTooLarge; the
// middleware refuses an announced Content-Length past it unread.
func TestVerifyBodyLimitAtTheBoundary(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	signer, err := webhook.NewSigner(secret)
	require.NoError(t, err)
	now := time.Now()
	for _, limit := range []int64{0, 64} {
		v, err := webhook.NewVerifier(secret)
		require.NoError(t, err)
		v.MaxBodyBytes = limit
		eff := limit
		if eff == 0 {
			eff = defaultMaxBodyBytes
		}
		for n, want := range map[int64]error{eff: nil, eff + 1: webhook.ErrBodyTooLarge} {
			body := []byte(strings.Repeat("b", int(n)))
			h := signedHeader("msg_1", strconv.FormatInt(now.Unix(), 10), signer.Sign("msg_1", now, body))
			if want == nil {
				require.NoError(t, v.Verify(h, body))
			} else {
				require.ErrorIs(t, v.Verify(h, body), want)
				require.ErrorIs(t, v.Verify(h, body), webhook.ErrVerification)
			}
		}
	}

	v, err := webhook.NewVerifier(secret)
	require.NoError(t, err)
	v.MaxBodyBytes = 16
	called := false
	h := v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	read := 0
	r := httptest.NewRequest(http.MethodPost, "/", readCounter{&read})
	r.ContentLength = 17
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	require.False(t, called)
	require.Zero(t, read, "the body was not read")
}

// readCounter is an endless body that counts the bytes read from it.
type readCounter struct{ n *int }

func (r readCounter) Read(p []byte) (int, error) {
	*r.n += len(p)
	return len(p), nil
}

// nestedData returns JSON nested n deep, arrays and objects in turn, with
// a string at the bottom.
func nestedData(n int) json.RawMessage {
	var b strings.Builder
	for i := range n {
		if i%2 == 0 {
			b.WriteString(`[1,`)
		} else {
			b.WriteString(`{"k":`)
		}
	}
	b.WriteString(`"x"`)
	for i := n - 1; i >= 0; i-- {
		if i%2 == 0 {
			b.WriteString(`]`)
		} else {
			b.WriteString(`}`)
		}
	}
	return json.RawMessage(b.String())
}

// TestEventDataDepthIsDeliverable: data at the deepest Limits.MaxDataDepth
// allows is accepted, and the body of every built-in format, in either
// content type, decodes with encoding/json; the default format's body is
// delivered and decodes at the receiver. One level more is refused.
func TestEventDataDepthIsDeliverable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// The default limit, through a real delivery.
	b := setup(t, nil)
	rcv := newReceiver(t)
	s := b.subscribe("o", rcv.URL, "*")
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o", Data: nestedData(defLimits.MaxDataDepth)})
	require.Equal(t, webhook.DeliveryDelivered, b.waitAttempts(s, 1).State)
	var got any
	require.NoError(t, json.Unmarshal(rcv.get(0).body, &got))
	_, err := b.d.Dispatch(ctx, webhook.Event{Type: "a.b", OrganizationID: "o", Data: nestedData(defLimits.MaxDataDepth + 1)})
	require.ErrorIs(t, err, webhook.ErrInvalidEvent)
	var ve *webhook.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "data", ve.Field)

	// The highest limit a host may set: every built-in format's body
	// still decodes.
	d := newIdleDispatcher(t, func(c *webhook.Config) { c.Limits.MaxDataDepth = maxDataDepthCap })
	res, err := d.Dispatch(ctx, webhook.Event{Type: "a.b", OrganizationID: "o", Data: nestedData(maxDataDepthCap)})
	require.NoError(t, err)
	ev, err := d.Store().GetEvent(ctx, "o", res.EventID)
	require.NoError(t, err)
	for name, f := range map[string]webhook.Format{webhook.FormatEnvelope: webhook.Envelope, webhook.FormatAgileCRM: webhook.AgileCRM, webhook.FormatGeneric: webhook.Generic} {
		for _, ct := range []string{webhook.ContentTypeJSON, webhook.ContentTypeForm} {
			sub := &webhook.Subscription{Format: name, ContentType: ct, CustomParameters: map[string]string{"a": "b"}}
			body, _, err := webhook.AppendBody(nil, f, ev, sub)
			require.NoError(t, err)
			if ct == webhook.ContentTypeForm {
				form, err := url.ParseQuery(string(body))
				require.NoError(t, err)
				body = []byte(form.Get("payload"))
			}
			var got any
			require.NoError(t, json.Unmarshal(body, &got), "%s %s", name, ct)
		}
	}
}

// TestEventDataMustBeUTF8: JSON text is UTF-8 (RFC 8259), and strict
// receivers refuse anything else: Dispatch refuses Data with invalid
// UTF-8 in a string or key, and stores nothing.
func TestEventDataMustBeUTF8(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newIdleDispatcher(t, nil)
	for _, data := range []string{
		"\"\xff\"",
		"{\"name\":\"caf\xe9\"}", // Latin-1
		"[\"\xc3\x28\"]",         // bad continuation
		"[\"\xc0\xaf\"]",         // overlong
		"[\"\xed\xa0\x80\"]",     // UTF-16 surrogate
		"[\"\xf4\x90\x80\x80\"]", // past U+10FFFF
		"[\"\xe2\x82\"]",         // truncated
		"{\"\xfe\":1}",           // in a key
		"[\"ok\",\"\\n\xff\"]",   // after an escape
		"[\"" + strings.Repeat("a", 100) + "\x80\"]",
	} {
		_, err := d.Dispatch(ctx, webhook.Event{Type: "a.b", OrganizationID: "o", Data: json.RawMessage(data)})
		require.ErrorIs(t, err, webhook.ErrInvalidEvent, "%q", data)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve, "%q", data)
		require.Equal(t, "data", ve.Field, "%q", data)
	}
	evs, _, err := d.Store().ListEvents(ctx, webhook.EventFilter{OrganizationID: "o"})
	require.NoError(t, err)
	require.Empty(t, evs)

	_, err = d.Dispatch(ctx, webhook.Event{Type: "a.b", OrganizationID: "o", Data: json.RawMessage(`{"name":"Zoë Ångström","note":"日本語 🎉","esc":"\u00e9\ud83c\udf89"}`)})
	require.NoError(t, err)
}
