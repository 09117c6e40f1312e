package webhook_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/webhooktest"
)

const (
	timeoutShort = 5 * time.Second
	tick         = time.Millisecond
)

func itoa(i int) string { return strconv.Itoa(i) }

// storeSnapshot is everything a store holds for some organizations.
type storeSnapshot struct {
	Subs       []*webhook.Subscription
	Events     []*webhook.Event
	Deliveries []*webhook.Delivery
}

func snapshot(t *testing.T, store webhook.Store, orgs ...string) storeSnapshot {
	t.Helper()
	ctx := context.Background()
	var s storeSnapshot
	for _, org := range orgs {
		subs, _, err := store.ListSubscriptions(ctx, org, webhook.Page{Limit: webhook.MaxPageLimit})
		require.NoError(t, err)
		s.Subs = append(s.Subs, subs...)
		evs, _, err := store.ListEvents(ctx, webhook.EventFilter{OrganizationID: org, Page: webhook.Page{Limit: webhook.MaxPageLimit}})
		require.NoError(t, err)
		s.Events = append(s.Events, evs...)
		ds, _, err := store.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: org, Page: webhook.Page{Limit: webhook.MaxPageLimit}})
		require.NoError(t, err)
		s.Deliveries = append(s.Deliveries, ds...)
	}
	return s
}

// TestBadInputTable is the "done means" table: bad inputs across
// Dispatch, the subscription writes and Verify, each refused with its
// typed error, and the Store unchanged after each.
func TestBadInputTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memstore.New()
	clock := webhooktest.NewClock(t0)
	d, err := webhook.NewDispatcher(store, &webhook.Config{Clock: clock, HTTPSOnly: true, Retention: -1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close(ctx)) })

	good := &webhook.Subscription{OrganizationID: "org1", URL: "https://hooks.example.com/in", Events: []string{"*"}, BasicAuth: &webhook.BasicAuth{Username: "u", Password: "pw-secret"}}
	require.NoError(t, d.CreateSubscription(ctx, good))
	_, err = d.Dispatch(ctx, webhook.Event{ID: "evt_1", Type: "contact.created", OrganizationID: "org1", Data: json.RawMessage(`{"id":1}`)})
	require.NoError(t, err)

	sub := func(mutate func(s *webhook.Subscription)) func() error {
		return func() error {
			s := &webhook.Subscription{OrganizationID: "org1", URL: "https://hooks.example.com/new", Events: []string{"contact.*"}}
			mutate(s)
			id := s.ID
			err := d.CreateSubscription(ctx, s)
			if errors.Is(err, webhook.ErrInvalidSubscription) && s.ID != id {
				return errors.New("an invalid subscription was changed")
			}
			return err
		}
	}
	withURL := func(u string) func() error { return sub(func(s *webhook.Subscription) { s.URL = u }) }
	upd := func(mutate func(s *webhook.Subscription)) func() error {
		return func() error {
			s := *good
			s.Headers = nil
			mutate(&s)
			return d.UpdateSubscription(ctx, &s)
		}
	}
	dispatch := func(ev webhook.Event) func() error {
		return func() error { _, err := d.Dispatch(ctx, ev); return err }
	}
	secret := webhook.NewSecret()
	signer, err := webhook.NewSigner(secret)
	require.NoError(t, err)
	now := time.Now()
	body := []byte(`{"a":1}`)
	verify := func(id, ts, sig string, body []byte) func() error {
		return func() error { return webhook.Verify(secret, signedHeader(id, ts, sig), body) }
	}
	ts := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	sig := func(t time.Time, b []byte) string { return signer.Sign("msg_1", t, b) }
	big := bytes.Repeat([]byte("x"), defaultMaxBodyBytes+1)

	tests := []struct {
		name  string
		op    func() error
		want  error
		field string // of the *ValidationError, when there is one
	}{
		// Dispatch.
		{"event without type", dispatch(webhook.Event{OrganizationID: "org1"}), webhook.ErrInvalidEvent, "type"},
		{"event type with a space", dispatch(webhook.Event{Type: "contact created", OrganizationID: "org1"}), webhook.ErrInvalidEvent, "type"},
		{"event type a pattern", dispatch(webhook.Event{Type: "contact.*", OrganizationID: "org1"}), webhook.ErrInvalidEvent, "type"},
		{"event type trailing dot", dispatch(webhook.Event{Type: "contact.", OrganizationID: "org1"}), webhook.ErrInvalidEvent, "type"},
		{"event type too long", dispatch(webhook.Event{Type: strings.Repeat("a", defLimits.MaxEventTypeLength+1), OrganizationID: "org1"}), webhook.ErrInvalidEvent, "type"},
		{"event type with NUL", dispatch(webhook.Event{Type: "a\x00b", OrganizationID: "org1"}), webhook.ErrInvalidEvent, "type"},
		{"event without organization", dispatch(webhook.Event{Type: "a.b"}), webhook.ErrInvalidEvent, "organizationId"},
		{"event organization too long", dispatch(webhook.Event{Type: "a.b", OrganizationID: strings.Repeat("o", defLimits.MaxNameLength+1)}), webhook.ErrInvalidEvent, "organizationId"},
		{"event organization with newline", dispatch(webhook.Event{Type: "a.b", OrganizationID: "org1\n"}), webhook.ErrInvalidEvent, "organizationId"},
		{"event ID too long", dispatch(webhook.Event{ID: strings.Repeat("e", defLimits.MaxNameLength+1), Type: "a.b", OrganizationID: "org1"}), webhook.ErrInvalidEvent, "id"},
		{"event ID with control byte", dispatch(webhook.Event{ID: "evt\x1b[31m", Type: "a.b", OrganizationID: "org1"}), webhook.ErrInvalidEvent, "id"},
		{"event data not JSON", dispatch(webhook.Event{Type: "a.b", OrganizationID: "org1", Data: json.RawMessage(`{`)}), webhook.ErrInvalidEvent, "data"},
		{"event data two values", dispatch(webhook.Event{Type: "a.b", OrganizationID: "org1", Data: json.RawMessage(`{} {}`)}), webhook.ErrInvalidEvent, "data"},
		{"event data over the limit", dispatch(webhook.Event{Type: "a.b", OrganizationID: "org1", Data: jsonString(defaultMaxDataBytes + 1)}), webhook.ErrInvalidEvent, "data"},

		// CreateSubscription.
		{"nil subscription", func() error { return d.CreateSubscription(ctx, nil) }, webhook.ErrInvalidSubscription, "Subscription"},
		{"no URL", withURL(""), webhook.ErrInvalidSubscription, "url"},
		{"ftp URL", withURL("ftp://hooks.example.com/"), webhook.ErrInvalidSubscription, "url"},
		{"http under HTTPSOnly", withURL("http://hooks.example.com/"), webhook.ErrInvalidSubscription, "url"},
		{"credentials in URL", withURL("https://user:pw@hooks.example.com/"), webhook.ErrInvalidSubscription, "url"},
		{"URL too long", withURL("https://h.example/" + strings.Repeat("a", defLimits.MaxURLLength)), webhook.ErrInvalidSubscription, "url"},
		{"loopback", withURL("https://127.0.0.1/"), webhook.ErrInvalidSubscription, "url"},
		{"private network", withURL("https://10.0.0.7/"), webhook.ErrInvalidSubscription, "url"},
		{"metadata endpoint", withURL("https://169.254.169.254/latest/meta-data/"), webhook.ErrInvalidSubscription, "url"},
		{"IPv6 loopback", withURL("https://[::1]/"), webhook.ErrInvalidSubscription, "url"},
		{"IPv4-mapped loopback", withURL("https://[::ffff:127.0.0.1]/"), webhook.ErrInvalidSubscription, "url"},
		{"NAT64 metadata", withURL("https://[64:ff9b::a9fe:a9fe]/"), webhook.ErrInvalidSubscription, "url"},
		{"6to4 private", withURL("https://[2002:a00:1::1]/"), webhook.ErrInvalidSubscription, "url"},
		{"localhost", withURL("https://localhost/"), webhook.ErrInvalidSubscription, "url"},
		{"decimal IPv4", withURL("https://2130706433/"), webhook.ErrInvalidSubscription, "url"},
		{"hex IPv4", withURL("https://0x7f.1/"), webhook.ErrInvalidSubscription, "url"},
		{"IPv6 zone", withURL("https://[fe80::1%25eth0]/"), webhook.ErrInvalidSubscription, "url"},
		{"port zero", withURL("https://hooks.example.com:0/"), webhook.ErrInvalidSubscription, "url"},
		{"signature header", sub(func(s *webhook.Subscription) { s.Headers = map[string]string{"Webhook-Signature": "v1,x"} }), webhook.ErrInvalidSubscription, `headers["Webhook-Signature"]`},
		{"Host header", sub(func(s *webhook.Subscription) { s.Headers = map[string]string{"Host": "internal"} }), webhook.ErrInvalidSubscription, `headers["Host"]`},
		{"header injection", sub(func(s *webhook.Subscription) { s.Headers = map[string]string{"X-A": "1\r\nX-Injected: 1"} }), webhook.ErrInvalidSubscription, `headers["X-A"]`},
		{"duplicate header names", sub(func(s *webhook.Subscription) { s.Headers = map[string]string{"X-A": "1", "x-a": "2"} }), webhook.ErrInvalidSubscription, `headers["x-a"]`},
		{"Authorization with basic auth", sub(func(s *webhook.Subscription) {
			s.BasicAuth = &webhook.BasicAuth{Username: "u"}
			s.Headers = map[string]string{"Authorization": "Bearer t"}
		}), webhook.ErrInvalidSubscription, `headers["Authorization"]`},
		{"short secret", sub(func(s *webhook.Subscription) { s.Secret = secretOfLen(webhook.MinSecretBytes-1, 1) }), webhook.ErrInvalidSubscription, "secret"},
		{"too many event patterns", sub(func(s *webhook.Subscription) { s.Events = patterns(defLimits.MaxEventPatterns + 1) }), webhook.ErrInvalidSubscription, "events"},
		{"unknown format", sub(func(s *webhook.Subscription) { s.Format = "xml" }), webhook.ErrInvalidSubscription, "format"},
		{"unknown type", sub(func(s *webhook.Subscription) { s.Type = "carrier-pigeon" }), webhook.ErrInvalidSubscription, "type"},
		{"property replacing a standard key", sub(func(s *webhook.Subscription) { s.Properties = map[string]string{"Data": "x"} }), webhook.ErrInvalidSubscription, `properties["Data"]`},
		{"ID taken", sub(func(s *webhook.Subscription) { s.ID = good.ID }), webhook.ErrAlreadyExists, ""},

		// UpdateSubscription, SetSubscriptionState, ListSubscriptions, RotateSecret.
		{"update to ftp", upd(func(s *webhook.Subscription) { s.URL = "ftp://hooks.example.com" }), webhook.ErrInvalidSubscription, "url"},
		{"update to a private address", upd(func(s *webhook.Subscription) { s.URL = "https://192.168.0.10/" }), webhook.ErrInvalidSubscription, "url"},
		{"update to http under HTTPSOnly", upd(func(s *webhook.Subscription) { s.URL = "http://hooks.example.com/" }), webhook.ErrInvalidSubscription, "url"},
		{"update with a bad header", upd(func(s *webhook.Subscription) { s.Headers = map[string]string{"Content-Length": "0"} }), webhook.ErrInvalidSubscription, `headers["Content-Length"]`},
		{"update naming another organization (its record is not found)", upd(func(s *webhook.Subscription) { s.OrganizationID = "org2" }), webhook.ErrNotFound, ""},
		{"update without ID", upd(func(s *webhook.Subscription) { s.ID = "" }), webhook.ErrInvalidSubscription, "ID"},
		{"update of a missing subscription", upd(func(s *webhook.Subscription) { s.ID = "sub_missing" }), webhook.ErrNotFound, ""},
		{"update nil", func() error { return d.UpdateSubscription(ctx, nil) }, webhook.ErrInvalidSubscription, "Subscription"},
		{"unknown state", func() error { return d.SetSubscriptionState(ctx, good.OrganizationID, good.ID, "Paused") }, webhook.ErrInvalidArgument, "state"},
		{"page too large", func() error {
			_, _, err := d.ListSubscriptions(ctx, "org1", webhook.Page{Limit: webhook.MaxPageLimit + 1})
			return err
		}, webhook.ErrInvalidArgument, "limit"},
		{"rotate to a bad secret", func() error { _, err := d.RotateSecret(ctx, good.OrganizationID, good.ID, "whsec_short"); return err }, webhook.ErrInvalidArgument, "newSecret"},
		{"rotate to the same secret", func() error { _, err := d.RotateSecret(ctx, good.OrganizationID, good.ID, good.Secret); return err }, webhook.ErrInvalidArgument, "newSecret"},
		{"rotate a missing subscription", func() error { _, err := d.RotateSecret(ctx, good.OrganizationID, "sub_missing", ""); return err }, webhook.ErrNotFound, ""},

		// Verify.
		{"verify without id", verify("", ts(now), sig(now, body), body), webhook.ErrMissingHeader, ""},
		{"verify without signature", verify("msg_1", ts(now), "", body), webhook.ErrMissingHeader, ""},
		{"verify timestamp with a sign", verify("msg_1", "+"+ts(now), sig(now, body), body), webhook.ErrInvalidHeader, ""},
		{"verify timestamp in milliseconds", verify("msg_1", strconv.FormatInt(now.UnixMilli(), 10), sig(now, body), body), webhook.ErrTimestampTooNew, ""},
		{"verify timestamp too old", verify("msg_1", ts(now.Add(-time.Hour)), sig(now.Add(-time.Hour), body), body), webhook.ErrTimestampTooOld, ""},
		{"verify timestamp too new", verify("msg_1", ts(now.Add(time.Hour)), sig(now.Add(time.Hour), body), body), webhook.ErrTimestampTooNew, ""},
		{"verify unknown version", verify("msg_1", ts(now), strings.Replace(sig(now, body), "v1,", "v9,", 1), body), webhook.ErrUnsupportedVersion, ""},
		{"verify malformed entry", verify("msg_1", ts(now), "v1", body), webhook.ErrInvalidHeader, ""},
		{"verify tampered body", verify("msg_1", ts(now), sig(now, body), []byte(`{"a":2}`)), webhook.ErrSignatureMismatch, ""},
		{"verify oversized body", verify("msg_1", ts(now), sig(now, big), big), webhook.ErrBodyTooLarge, ""},
		{"verify with a bad secret", func() error { return webhook.Verify("whsec_???", http.Header{}, body) }, webhook.ErrInvalidSecret, ""},
	}
	require.GreaterOrEqual(t, len(tests), 40)

	before := snapshot(t, store, "org1", "org2")
	require.Len(t, before.Subs, 1)
	require.Len(t, before.Events, 1)
	require.Len(t, before.Deliveries, 1)
	for _, tc := range tests {
		err := tc.op()
		require.ErrorIs(t, err, tc.want, tc.name)
		var ve *webhook.ValidationError
		if tc.field != "" {
			require.ErrorAs(t, err, &ve, tc.name)
			require.Equal(t, tc.field, ve.Field, tc.name)
			require.NotEmpty(t, ve.Reason, tc.name)
		} else {
			require.False(t, errors.As(err, &ve), "%s: %v is not a validation error", tc.name, err)
		}
		require.NotContains(t, err.Error(), "pw-secret", tc.name)
		require.NotContains(t, err.Error(), strings.TrimPrefix(good.Secret, webhook.SecretPrefix), tc.name)
		require.Equal(t, before, snapshot(t, store, "org1", "org2"), "%s changed the store", tc.name)
	}
}

// jsonString returns a JSON string of n bytes, quotes included.
func jsonString(n int) json.RawMessage {
	return json.RawMessage(`"` + strings.Repeat("x", n-2) + `"`)
}

func patterns(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "e" + itoa(i)
	}
	return out
}

// ssrfClasses are literal targets of every refused class, as URL hosts.
var ssrfClasses = []struct{ class, host string }{
	{"IPv4 loopback", "127.0.0.1"},
	{"IPv4 loopback, not .1", "127.1.2.3"},
	{"RFC 1918 10/8", "10.0.0.1"},
	{"RFC 1918 172.16/12", "172.16.5.4"},
	{"RFC 1918 192.168/16", "192.168.1.1"},
	{"link-local", "169.254.10.10"},
	{"cloud metadata", "169.254.169.254"},
	{"carrier-grade NAT", "100.64.1.1"},
	{"this network 0/8", "0.0.0.0"},
	{"this network 0/8, not 0", "0.1.2.3"},
	{"broadcast", "255.255.255.255"},
	{"IPv4 multicast", "224.0.0.251"},
	{"IPv6 loopback", "[::1]"},
	{"IPv6 unspecified", "[::]"},
	{"unique local", "[fd00::1]"},
	{"IPv6 link-local", "[fe80::1]"},
	{"IPv6 multicast", "[ff02::1]"},
	{"IPv4-mapped loopback", "[::ffff:127.0.0.1]"},
	{"IPv4-mapped metadata", "[::ffff:169.254.169.254]"},
	{"IPv4-mapped private", "[::ffff:10.0.0.1]"},
	{"NAT64 loopback", "[64:ff9b::7f00:1]"},
	{"NAT64 metadata", "[64:ff9b::a9fe:a9fe]"},
	{"Azure WireServer", "168.63.129.16"},
	{"Oracle Cloud metadata", "192.0.0.192"},
	{"local-use NAT64 metadata", "[64:ff9b:1::a9fe:a9fe]"},
	{"6to4 loopback", "[2002:7f00:1::]"},
	{"6to4 private", "[2002:c0a8:101::1]"},
	{"localhost", "localhost"},
	{"localhost, upper case with a dot", "LocalHost."},
	{"under localhost", "api.localhost"},
}

func TestSSRFRefusedWhenSaved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, func(c *webhook.Config) { c.AllowPrivateNetworks = false })
	for _, tc := range ssrfClasses {
		s := &webhook.Subscription{OrganizationID: "o", URL: "http://" + tc.host + ":8080/in", Events: []string{"*"}}
		err := b.d.CreateSubscription(ctx, s)
		require.ErrorIs(t, err, webhook.ErrInvalidSubscription, tc.class)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve, tc.class)
		require.Equal(t, "url", ve.Field, tc.class)
		require.Contains(t, ve.Reason, "not allowed", tc.class)
		require.ErrorIs(t, err, webhook.ErrAddressNotAllowed, tc.class)
		require.NotContains(t, ve.Reason, "Config", tc.class)
		require.Empty(t, s.ID, tc.class)
	}
	subs, _, err := b.store.ListSubscriptions(ctx, "o", webhook.Page{})
	require.NoError(t, err)
	require.Empty(t, subs)

	// AllowPrivateNetworks lets the private ranges through, never the
	// metadata endpoint, unspecified, broadcast or multicast addresses.
	p := setup(t, nil)
	for host, ok := range map[string]bool{
		"127.0.0.1": true, "10.0.0.1": true, "[::1]": true, "[fd00::1]": true, "localhost": true, "[::ffff:192.168.1.1]": true,
		"169.254.169.254": false, "0.0.0.0": false, "255.255.255.255": false, "[ff02::1]": false, "[64:ff9b::a9fe:a9fe]": false,
		"168.63.129.16": false, "192.0.0.192": false, "[64:ff9b:1::a9fe:a9fe]": false, "[64:ff9b:1::a83f:8110]": false,
		"[64:ff9b:1::7f00:1]": true, "192.0.0.170": true,
	} {
		err := p.d.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "o", URL: "http://" + host + "/", Events: []string{"*"}})
		if ok {
			require.NoError(t, err, host)
		} else {
			require.ErrorIs(t, err, webhook.ErrInvalidSubscription, host)
		}
	}
}

// storeDirectly writes a subscription to the store without the
// dispatcher's checks, as if it was saved before the policy changed.
func (b *bundle) storeDirectly(id, rawURL string) *webhook.Subscription {
	b.t.Helper()
	s := &webhook.Subscription{
		ID: id, OrganizationID: "o", URL: rawURL, Events: []string{"*"}, Secret: webhook.NewSecret(),
		State: webhook.StateActive, Type: webhook.TypeWebhook, Format: webhook.FormatEnvelope,
		ContentType: webhook.ContentTypeJSON, CreatedAt: t0, UpdatedAt: t0,
	}
	require.NoError(b.t, b.store.CreateSubscription(context.Background(), s))
	return s
}

// refusedAttempt waits for the only attempt of the subscription and
// checks it was refused by the address policy: recorded with the reason,
// dead at once (not retried).
func (b *bundle) refusedAttempt(sub *webhook.Subscription, words string) *webhook.AddressError {
	b.t.Helper()
	dl := b.waitAttempts(sub, 1)
	require.Equal(b.t, webhook.DeliveryDead, dl.State, "a refused address is not retried")
	require.Zero(b.t, dl.LastStatusCode)
	require.Contains(b.t, dl.LastError, "address not allowed")
	require.Contains(b.t, dl.LastError, words)
	attempts, err := b.store.ListAttempts(context.Background(), dl.OrganizationID, dl.ID)
	require.NoError(b.t, err)
	require.Len(b.t, attempts, 1)
	require.Equal(b.t, dl.LastError, attempts[0].Error)
	deadline := time.After(timeoutShort)
	for {
		select {
		case info := <-b.infos:
			if info.SubscriptionID != sub.ID {
				continue
			}
			var ae *webhook.AddressError
			require.ErrorIs(b.t, info.Err, webhook.ErrAddressNotAllowed)
			require.ErrorAs(b.t, info.Err, &ae)
			var perm *webhook.PermanentError
			require.ErrorAs(b.t, info.Err, &perm)
			return ae
		case <-deadline:
			b.t.Fatalf("no attempt of %s was observed", sub.ID)
		}
	}
}

func TestSSRFStoredTargetsRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	ln4 := listenAndDrop(t, "127.0.0.1:0")
	port := itoa(ln4.Addr().(*net.TCPAddr).Port)
	b := setup(t, func(c *webhook.Config) { c.AllowPrivateNetworks = false })
	for i, tc := range ssrfClasses {
		s := b.storeDirectly("sub_"+itoa(i), "http://"+tc.host+":"+port+"/in")
		b.dispatch(webhook.Event{ID: "evt_" + itoa(i), Type: "a.b", OrganizationID: "o"})
		ae := b.refusedAttempt(s, "not allowed")
		require.NotEmpty(t, ae.Reason, tc.class)
		// Out of the way of the next event.
		require.NoError(t, b.store.DeleteSubscription(context.Background(), s.OrganizationID, s.ID))
	}
	require.Zero(t, ln4.accepted.Load(), "no connection reached the loopback listener")
}

// dnsTargets maps names to addresses of every refused class, for the
// dial-time tests.
var dnsTargets = []struct {
	name, class string
	addrs       []string
	words       string
}{
	{"loop4.test", "IPv4 loopback", []string{"127.0.0.1"}, "loopback"},
	{"loop6.test", "IPv6 loopback", []string{"::1"}, "loopback"},
	{"mapped.test", "IPv4-mapped loopback", []string{"::ffff:127.0.0.1"}, "loopback"},
	{"nat64.test", "NAT64 loopback", []string{"64:ff9b::7f00:1"}, "NAT64 form of 127.0.0.1"},
	{"sixtofour.test", "6to4 loopback", []string{"2002:7f00:1::1"}, "6to4 form of 127.0.0.1"},
	{"rfc1918.test", "private networks", []string{"10.0.0.1", "172.16.0.1", "192.168.0.1"}, "RFC 1918"},
	{"metadata.test", "cloud metadata", []string{"169.254.169.254"}, "metadata"},
	{"metadata6.test", "cloud metadata over NAT64", []string{"64:ff9b::a9fe:a9fe"}, "metadata"},
	{"wireserver.test", "Azure WireServer", []string{"168.63.129.16"}, "metadata"},
	{"oracle.test", "Oracle Cloud metadata", []string{"192.0.0.192"}, "metadata"},
	{"localnat64.test", "cloud metadata over local-use NAT64", []string{"64:ff9b:1::a9fe:a9fe"}, "local-use NAT64 form of 169.254.169.254"},
	{"linklocal.test", "link-local", []string{"169.254.3.4", "fe80::1"}, "link-local"},
	{"cgnat.test", "carrier-grade NAT", []string{"100.64.0.1"}, "carrier-grade NAT"},
	{"zero.test", "this network", []string{"0.0.0.0"}, "unspecified"},
	{"unspecified6.test", "IPv6 unspecified", []string{"::"}, "unspecified"},
	{"ula.test", "unique local", []string{"fd00::1"}, "unique local"},
	{"multicast.test", "multicast", []string{"224.0.0.1", "ff02::1"}, "multicast"},
	{"broadcast.test", "broadcast", []string{"255.255.255.255"}, "broadcast"},
	{"rebind.test", "every loopback form at once", []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"}, "loopback"},
}

func dnsRecords() map[string][]string {
	m := map[string][]string{}
	for _, tc := range dnsTargets {
		m[tc.name] = tc.addrs
	}
	return m
}

// TestSSRFHostNamesRefusedAtDialTime points host names at every refused
// class through a DNS server of the test's: the names pass when the
// subscription is saved, and the dialer refuses each resolved address
// before connecting.
func TestSSRFHostNamesRefusedAtDialTime(t *testing.T) {
	t.Parallel()
	dns := newFakeDNS(t, dnsRecords())
	ln := listenAndDrop(t, "127.0.0.1:0")
	port := itoa(ln.Addr().(*net.TCPAddr).Port)
	b := setup(t, func(c *webhook.Config) {
		c.AllowPrivateNetworks = false
		c.Resolver = dns.resolver()
	})
	for _, tc := range dnsTargets {
		s := b.subscribe("o-"+tc.name, "http://"+tc.name+":"+port+"/in", "*")
		b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o-" + tc.name})
		ae := b.refusedAttempt(s, tc.words)
		require.Equal(t, tc.name, ae.Host, tc.class)
		found := false
		for _, a := range tc.addrs {
			found = found || netip.MustParseAddr(a).Unmap() == ae.IP.Unmap()
		}
		require.True(t, found, "%s: refused %s, not one of %v", tc.class, ae.IP, tc.addrs)
	}
	require.Zero(t, ln.accepted.Load(), "no connection reached the loopback listener")

	// The same names do reach the listener when private networks are
	// allowed: the refusals above were the guard's, not the network's.
	p := setup(t, func(c *webhook.Config) { c.Resolver = dns.resolver() })
	for _, name := range []string{"loop4.test", "mapped.test", "rebind.test"} {
		s := p.subscribe("o-"+name, "http://"+name+":"+port+"/in", "*")
		p.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o-" + name})
		dl := p.waitAttempts(s, 1)
		require.NotContains(t, dl.LastError, "address not allowed", name)
	}
	require.Positive(t, ln.accepted.Load())

	// Metadata endpoints stay refused at dial time with private networks
	// allowed, in whatever form.
	for _, name := range []string{"metadata.test", "metadata6.test", "wireserver.test", "oracle.test", "localnat64.test"} {
		s := p.subscribe("o-"+name, "http://"+name+":"+port+"/in", "*")
		p.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o-" + name})
		p.refusedAttempt(s, "metadata")
	}
}

// TestSSRFEveryResolvedAddressIsChecked: a name resolving to an allowed
// and a refused address connects only to the allowed one.
func TestSSRFEveryResolvedAddressIsChecked(t *testing.T) {
	t.Parallel()
	refused := listenAndDrop(t, "127.0.0.2:0")
	port := refused.Addr().(*net.TCPAddr).Port
	var hits int
	var mu sync.Mutex
	okLn, err := net.Listen("tcp", "127.0.0.1:"+itoa(port))
	if err != nil {
		t.Skipf("port %d is taken on 127.0.0.1: %v", port, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	srv.Listener.Close()
	srv.Listener = okLn
	srv.Start()
	t.Cleanup(srv.Close)

	dns := newFakeDNS(t, map[string][]string{"mixed.test": {"127.0.0.2", "127.0.0.1"}})
	b := setup(t, func(c *webhook.Config) {
		c.AllowPrivateNetworks = false
		c.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Resolver = dns.resolver()
	})
	for i := range 3 {
		s := b.subscribe("o"+itoa(i), "http://mixed.test:"+itoa(port)+"/", "*")
		b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o" + itoa(i)})
		dl := b.waitAttempts(s, 1)
		require.Equal(t, webhook.DeliveryDelivered, dl.State, dl.LastError)
	}
	mu.Lock()
	require.Equal(t, 3, hits)
	mu.Unlock()
	require.Zero(t, refused.accepted.Load(), "127.0.0.2 is not allow-listed and was never connected to")
}

// TestSSRFRedirectToPrivateAddress: an allowed endpoint that redirects to
// a private address, by IP or by name, gets its 3xx recorded; the
// redirect is not followed and nothing reaches the private target.
func TestSSRFRedirectToPrivateAddress(t *testing.T) {
	t.Parallel()
	target := listenAndDrop(t, "127.0.0.2:0")
	port := itoa(target.Addr().(*net.TCPAddr).Port)
	dns := newFakeDNS(t, map[string][]string{"inside.test": {"127.0.0.2"}})
	for _, location := range []string{
		"http://127.0.0.2:" + port + "/admin",
		"http://inside.test:" + port + "/admin",
		"http://[::ffff:127.0.0.2]:" + port + "/admin",
		"http://169.254.169.254/latest/meta-data/",
	} {
		redirector := httptest.NewServer(http.RedirectHandler(location, http.StatusTemporaryRedirect))
		t.Cleanup(redirector.Close)
		b := setup(t, func(c *webhook.Config) {
			c.AllowPrivateNetworks = false
			c.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			c.Resolver = dns.resolver()
			c.Retry = &webhook.ExponentialRetry{MaxAttempts: 1}
		})
		s := b.subscribe("o", redirector.URL, "*")
		b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
		dl := b.waitAttempts(s, 1)
		require.Equal(t, http.StatusTemporaryRedirect, dl.LastStatusCode, location)
		require.Contains(t, dl.LastError, "307", location)
	}
	require.Zero(t, target.accepted.Load())
}

// rawListener accepts connections on loopback and hands each to serve in
// its own goroutine; Cleanup closes it and every connection and waits for
// the goroutines.
type rawListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
	bytes int64 // bytes read by serveRead
}

func newRawListener(tb testing.TB, addr string, serve func(r *rawListener, c net.Conn)) *rawListener {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Skipf("cannot listen on %s: %v", addr, err)
	}
	r := &rawListener{Listener: ln}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer c.Close()
				serve(r, c)
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for _, c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *rawListener) accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

func (r *rawListener) url() string { return "http://" + r.Addr().String() + "/in" }

// countBytes reads a connection to its end, counting the bytes.
func (r *rawListener) countBytes(c net.Conn) {
	n, _ := io.Copy(io.Discard, c)
	r.mu.Lock()
	r.bytes += n
	r.mu.Unlock()
}

func (r *rawListener) read() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes
}

// TestHostHTTPClientIsGuarded: a client of the host's with an
// *http.Transport gets the guard on a copy of its transport.
func TestHostHTTPClientIsGuarded(t *testing.T) {
	t.Parallel()
	dns := newFakeDNS(t, map[string][]string{"inside.test": {"127.0.0.1"}})
	raw := newRawListener(t, "127.0.0.1:0", (*rawListener).countBytes)
	port := itoa(raw.Addr().(*net.TCPAddr).Port)

	// A transport without a dialer of its own: the guarded dialer with
	// the host's resolver... here, the dispatcher's Resolver.
	t.Run("transport without dialer", func(t *testing.T) {
		hostTransport := &http.Transport{}
		b := setup(t, func(c *webhook.Config) {
			c.AllowPrivateNetworks = false
			c.Resolver = dns.resolver()
			c.HTTPClient = &http.Client{Transport: hostTransport}
		})
		s := b.subscribe("o", "http://inside.test:"+port+"/", "*")
		b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
		b.refusedAttempt(s, "loopback")
		require.Nil(t, hostTransport.DialContext, "the host's transport is not modified")
	})
	// A transport with a DialContext of its own: each connection it
	// makes is checked before a byte is written.
	t.Run("transport with dialer", func(t *testing.T) {
		dialer := &net.Dialer{Resolver: dns.resolver()}
		b := setup(t, func(c *webhook.Config) {
			c.AllowPrivateNetworks = false
			c.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
		})
		s := b.subscribe("o", "http://inside.test:"+port+"/", "*")
		b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
		b.refusedAttempt(s, "loopback")
	})
	// A client that is not an *http.Transport is not guarded at dial
	// time, but a literal IP is still refused before the request.
	t.Run("other RoundTripper", func(t *testing.T) {
		b := setup(t, func(cfg *webhook.Config) {
			cfg.AllowPrivateNetworks = false
			cfg.HTTPClient = &http.Client{Transport: roundTripperFunc(http.DefaultTransport.RoundTrip)}
		})
		s := b.storeDirectly("sub_rt", "http://127.0.0.1:"+port+"/")
		b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
		b.refusedAttempt(s, "loopback")
	})
	require.Eventually(t, func() bool { return raw.accepted() >= 1 }, timeoutShort, tick)
	require.Zero(t, raw.read(), "no request byte reached the listener")
}

// TestHostProxyIsUsed: a proxy the host sets on its own transport is
// dialled even though it is on a private address; the target is the
// proxy's to resolve.
func TestHostProxyIsUsed(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.String())
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(proxy.Close)
	proxyURL, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	b := setup(t, func(c *webhook.Config) {
		c.AllowPrivateNetworks = false
		c.HTTPClient = &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	})
	s := b.subscribe("o", "http://hooks.example.com/in", "*")
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
	dl := b.waitAttempts(s, 1)
	require.Equal(t, webhook.DeliveryDelivered, dl.State, dl.LastError)
	mu.Lock()
	require.Equal(t, []string{"http://hooks.example.com/in"}, seen)
	mu.Unlock()

	// A literal private target is still refused before the request.
	require.NoError(t, b.d.DeleteSubscription(context.Background(), s.OrganizationID, s.ID))
	p := b.storeDirectly("sub_p", "http://10.0.0.1/in")
	b.dispatch(webhook.Event{Type: "a.c", OrganizationID: "o"})
	require.Eventually(t, func() bool {
		ds, _, err := b.store.ListDeliveries(context.Background(), webhook.DeliveryFilter{OrganizationID: p.OrganizationID, SubscriptionID: p.ID})
		return err == nil && len(ds) == 1 && ds[0].State == webhook.DeliveryDead && strings.Contains(ds[0].LastError, "RFC 1918")
	}, timeoutShort, tick)
	mu.Lock()
	require.Len(t, seen, 1, "the refused request never reached the proxy")
	mu.Unlock()
}

// TestProxyAddressIsGuardedWhenNotChosen: the proxy's own host:port is
// dialled unguarded only when the Proxy function chose it for the request
// being sent. A subscription naming that address, for which Proxy returns
// nil, is dialled directly and the guard refuses it, even after the proxy
// has served other requests.
func TestProxyAddressIsGuardedWhenNotChosen(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.String())
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(proxy.Close)
	port := itoa(proxy.Listener.Addr().(*net.TCPAddr).Port)
	dns := newFakeDNS(t, map[string][]string{"proxy.test": {"127.0.0.1"}})
	proxyURL, err := url.Parse("http://proxy.test:" + port)
	require.NoError(t, err)
	// Like NO_PROXY naming the proxy itself: no proxy for requests to it.
	proxyFunc := func(r *http.Request) (*url.URL, error) {
		if r.URL.Hostname() == "proxy.test" {
			return nil, nil
		}
		return proxyURL, nil
	}
	b := setup(t, func(c *webhook.Config) {
		c.AllowPrivateNetworks = false
		c.Resolver = dns.resolver()
		c.HTTPClient = &http.Client{Transport: &http.Transport{Proxy: proxyFunc}}
	})
	ok := b.subscribe("o", "http://hooks.example.com/in", "a.b")
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
	dl := b.waitAttempts(ok, 1)
	require.Equal(t, webhook.DeliveryDelivered, dl.State, dl.LastError)

	direct := b.subscribe("o", "http://proxy.test:"+port+"/direct", "a.c")
	b.dispatch(webhook.Event{Type: "a.c", OrganizationID: "o"})
	b.refusedAttempt(direct, "loopback")
	mu.Lock()
	require.Equal(t, []string{"http://hooks.example.com/in"}, seen, "the direct request never reached the proxy's address")
	mu.Unlock()
}

// TestProxyFromEnvironmentIsIgnored: HTTP_PROXY does not divert the
// default client.
func TestProxyFromEnvironmentIsIgnored(t *testing.T) {
	proxy := listenAndDrop(t, "127.0.0.1:0")
	t.Setenv("HTTP_PROXY", "http://"+proxy.Addr().String())
	t.Setenv("http_proxy", "http://"+proxy.Addr().String())
	t.Setenv("NO_PROXY", "")
	rcv := newReceiver(t)
	b := setup(t, nil)
	s := b.subscribe("o", rcv.URL, "*")
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
	dl := b.waitAttempts(s, 1)
	require.Equal(t, webhook.DeliveryDelivered, dl.State, dl.LastError)
	require.Equal(t, 1, rcv.count())
	require.Zero(t, proxy.accepted.Load())
}

func TestHTTPSOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newReceiver(t)
	b := setup(t, func(c *webhook.Config) { c.HTTPSOnly = true })
	err := b.d.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "o", URL: rcv.URL, Events: []string{"*"}})
	var ve *webhook.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "url", ve.Field)
	require.Contains(t, ve.Reason, "https")
	require.NotContains(t, ve.Reason, "HTTPSOnly")
	require.Equal(t, "Config.HTTPSOnly", ve.Hint)
	require.ErrorIs(t, err, webhook.ErrAddressNotAllowed)

	// One saved before HTTPSOnly was turned on is refused when sent.
	s := b.storeDirectly("sub_http", rcv.URL)
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
	b.refusedAttempt(s, "HTTPSOnly")
	require.Zero(t, rcv.count())
}

// TestSecretsNeverInTheAttemptLogOrLogs: an endpoint that echoes the
// request (its headers, in several encodings) and fails; neither the
// attempt log, nor the delivery, nor the dispatcher's logs, nor what the
// Observer and Notifier see show a secret or the password.
func TestSecretsNeverInTheAttemptLogOrLogs(t *testing.T) {
	t.Parallel()
	const password = "hunter2-Sup3rS3cret/+pw"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		dump, _ := json.Marshal(map[string]any{"headers": r.Header, "user": user, "pass": pass})
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write(dump)
		_, _ = io.WriteString(w, strings.ReplaceAll(r.Header.Get("Authorization"), "/", `\/`)+" "+pass)
	}))
	t.Cleanup(echo.Close)
	var logs syncBuffer
	b := setup(t, func(c *webhook.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.FailureThreshold = 2
		c.MaxResponseBodyKept = 4096
		c.Retry = &webhook.ExponentialRetry{MaxAttempts: 2, RandomizationFactor: -1}
	})
	ctx := context.Background()
	s := &webhook.Subscription{OrganizationID: "o", URL: echo.URL + "/in?token=tok-5b4a3c2d", Events: []string{"*"},
		BasicAuth: &webhook.BasicAuth{Username: "neon", Password: password}, ErrorsEmail: "ops@example.com"}
	require.NoError(t, b.d.CreateSubscription(ctx, s))
	rotated, err := b.d.RotateSecret(ctx, s.OrganizationID, s.ID, "")
	require.NoError(t, err)
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
	dl := b.waitAttempts(s, 1)
	b.advanceTo(dl.NextAttemptAt)
	dl = b.waitAttempts(s, 2)
	require.Equal(t, webhook.DeliveryDead, dl.State)
	note := <-b.notes

	secrets := []string{
		password, base64.StdEncoding.EncodeToString([]byte("neon:" + password)),
		s.Secret, strings.TrimPrefix(s.Secret, webhook.SecretPrefix),
		rotated.Secret, strings.TrimPrefix(rotated.Secret, webhook.SecretPrefix),
		"tok-5b4a3c2d",
	}
	attempts, err := b.store.ListAttempts(ctx, dl.OrganizationID, dl.ID)
	require.NoError(t, err)
	require.Len(t, attempts, 2)
	outputs := []string{dl.LastError, note.Reason, logs.String()}
	for _, a := range attempts {
		outputs = append(outputs, a.Error, a.ResponseBody, strings.ReplaceAll(a.ResponseBody, `\/`, "/"))
		require.Contains(t, a.ResponseBody, "[redacted]", "the echo was scrubbed, not dropped")
		require.Contains(t, a.ResponseBody, "neon")
	}
	for {
		select {
		case info := <-b.infos:
			if info.Err != nil {
				outputs = append(outputs, info.Err.Error())
			}
			continue
		default:
		}
		break
	}
	for _, out := range outputs {
		for _, secret := range secrets {
			require.NotContains(t, out, secret)
		}
	}
	require.Contains(t, logs.String(), s.ID, "the logs still name the subscription")
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
