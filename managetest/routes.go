package managetest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
)

func testSubscriptionLifecycle(t *testing.T, ts *suite) {
	e := ts.setup(t)
	created := e.create("manager-a", fmt.Sprintf(`{"name":"CRM","url":%q,"events":["contact.*"],
		"basicAuth":{"username":"u","password":"p4ss"},"headers":{"X-One":"1","X-Two":"2"}}`, e.rcvURL))
	id := created["id"].(string)
	secret := created["secret"].(string)
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	require.Equal(t, "org_a", created["organizationId"])
	require.Equal(t, "mona", created["createdBy"])
	require.Positive(t, created["number"])

	got := e.do("reader-a", "GET", "/subscriptions/"+id, "")
	require.Equal(t, http.StatusOK, got.status)
	require.NotContains(t, string(got.body), secret)
	require.NotContains(t, string(got.body), "p4ss")
	require.Equal(t, "CRM", got.json(t)["name"])

	// A second one, and the list in pages of one.
	id2 := e.createTo("admin-a", e.rcvURL)
	page1 := e.do("reader-a", "GET", "/subscriptions?limit=1", "").json(t)
	require.Len(t, page1["data"], 1)
	next := page1["nextCursor"].(string)
	page2 := e.do("reader-a", "GET", "/subscriptions?limit=1&cursor="+next, "").json(t)
	require.Len(t, page2["data"], 1)
	require.Nil(t, page2["nextCursor"])
	require.Equal(t, id2, page2["data"].([]any)[0].(map[string]any)["id"])

	// PATCH: merge patch; null removes; the password is kept.
	r := e.doType("manager-a", "PATCH", "/subscriptions/"+id, `{"name":"Renamed","headers":{"X-One":null}}`, "application/merge-patch+json")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	p := r.json(t)
	require.Equal(t, "Renamed", p["name"])
	require.Equal(t, map[string]any{"X-Two": "2"}, p["headers"])
	s, err := e.d.GetSubscription(t.Context(), "org_a", id)
	require.NoError(t, err)
	require.Equal(t, "p4ss", s.BasicAuth.Password)
	require.Equal(t, secret, s.Secret)

	// PUT replaces: what is left out is gone.
	r = e.do("manager-a", "PUT", "/subscriptions/"+id, fmt.Sprintf(`{"url":%q,"events":["contact.created"]}`, e.rcvURL))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	p = r.json(t)
	require.Nil(t, p["name"])
	require.Nil(t, p["headers"])
	require.Equal(t, []any{"contact.created"}, p["events"])

	// Pause and resume.
	r = e.do("manager-a", "POST", "/subscriptions/"+id+"/pause", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "Stopped", r.json(t)["state"])
	r = e.do("manager-a", "POST", "/subscriptions/"+id+"/resume", "")
	require.Equal(t, "Active", r.json(t)["state"])

	// Rotate: the new secret is shown once; the old one keeps signing.
	r = e.do("manager-a", "POST", "/subscriptions/"+id+"/rotate-secret", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	rot := r.json(t)
	newSecret := rot["secret"].(string)
	require.NotEqual(t, secret, newSecret)
	require.Len(t, rot["previousSecrets"], 1)
	require.NotContains(t, string(r.body), secret)

	// Reveal needs its capability.
	requireProblem(t, e.do("manager-a", "GET", "/subscriptions/"+id+"/secret", ""), http.StatusForbidden, "")
	r = e.do("admin-a", "GET", "/subscriptions/"+id+"/secret", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, newSecret, r.json(t)["secret"])

	// Delete.
	r = e.do("manager-a", "DELETE", "/subscriptions/"+id, "")
	require.Equal(t, http.StatusNoContent, r.status)
	requireProblem(t, e.do("reader-a", "GET", "/subscriptions/"+id, ""), http.StatusNotFound, "")

	// The audit saw every change, in order, with secrets redacted.
	e.mu.Lock()
	defer e.mu.Unlock()
	var actions []manage.Action
	for _, c := range e.changes {
		actions = append(actions, c.Action)
		require.Equal(t, "org_a", c.OrganizationID)
		for _, s := range []*webhook.Subscription{c.Before, c.After} {
			if s != nil {
				require.Empty(t, s.Secret)
				if s.BasicAuth != nil {
					require.Empty(t, s.BasicAuth.Password)
				}
				for _, ps := range s.PreviousSecrets {
					require.Empty(t, ps.Secret)
				}
			}
		}
	}
	require.Equal(t, []manage.Action{manage.ActionCreate, manage.ActionCreate, manage.ActionUpdate, manage.ActionUpdate,
		manage.ActionPause, manage.ActionResume, manage.ActionRotateSecret, manage.ActionRevealSecret, manage.ActionDelete}, actions)
	require.Equal(t, "alice", e.changes[7].Actor)
	require.Equal(t, "Renamed", e.changes[2].After.Name)
	require.Equal(t, "CRM", e.changes[2].Before.Name)
	require.Nil(t, e.changes[8].After)
}

func testDeliveriesEventsStatsAndRetry(t *testing.T, ts *suite) {
	e := ts.setup(t)
	id := e.createTo("manager-a", e.failURL)
	e.dispatch("org_a", "contact.created")
	e.dispatch("org_a", "contact.changed")
	dead := e.waitDeliveries("org_a", 2)

	// Listings: per subscription, per event, filtered, newest first.
	r := e.do("reader-a", "GET", "/subscriptions/"+id+"/deliveries?state=dead", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	list := r.json(t)["data"].([]any)
	require.Len(t, list, 2)
	require.Greater(t, list[0].(map[string]any)["id"], list[1].(map[string]any)["id"], "newest first")
	r = e.do("reader-a", "GET", "/deliveries?eventType=contact.changed&order=oldest", "")
	require.Len(t, r.json(t)["data"], 1)
	r = e.do("reader-a", "GET", "/deliveries?eventId="+dead[0].EventID, "")
	require.Len(t, r.json(t)["data"], 1)
	r = e.do("reader-a", "GET", "/subscriptions/"+id+"/deliveries?state=delivered", "")
	require.Len(t, r.json(t)["data"], 0)

	// One delivery with its attempt log.
	r = e.do("reader-a", "GET", "/deliveries/"+dead[0].ID, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	one := r.json(t)
	attempts := one["attempts"].([]any)
	require.Len(t, attempts, 1)
	require.EqualValues(t, 500, attempts[0].(map[string]any)["statusCode"])
	require.Equal(t, "boom", attempts[0].(map[string]any)["responseBody"])

	// Events: list and one with its deliveries.
	r = e.do("reader-a", "GET", "/events?type=contact.created", "")
	evs := r.json(t)["data"].([]any)
	require.Len(t, evs, 1)
	evID := evs[0].(map[string]any)["id"].(string)
	r = e.do("reader-a", "GET", "/events/"+evID, "")
	require.Equal(t, http.StatusOK, r.status)
	require.Len(t, r.json(t)["deliveries"], 1)

	// The catalog.
	r = e.do("reader-a", "GET", "/event-types", "")
	require.Len(t, r.json(t)["data"], 3)

	// Stats.
	r = e.do("reader-a", "GET", "/subscriptions/"+id+"/stats?window=48h", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	st := r.json(t)
	require.EqualValues(t, 2, st["dead"])
	require.EqualValues(t, 2, st["attempts"])
	require.EqualValues(t, 0, st["successRate"])
	require.EqualValues(t, 500, st["lastStatusCode"])
	r = e.do("reader-a", "GET", "/stats", "")
	require.EqualValues(t, 2, r.json(t)["dead"])

	// Bulk retry: the dry run counts and changes nothing.
	before := e.snapshot()
	r = e.do("manager-a", "POST", "/subscriptions/"+id+"/redeliver", `{"eventType":"contact.created","dryRun":true}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, map[string]any{"count": 1.0, "dryRun": true}, r.json(t))
	require.Equal(t, before, e.snapshot())
	r = e.do("manager-a", "POST", "/subscriptions/"+id+"/redeliver", `{"state":"dead"}`)
	require.Equal(t, map[string]any{"count": 2.0, "dryRun": false}, r.json(t))
	redone := e.waitDeliveries("org_a", 2)
	for _, dl := range redone {
		require.Equal(t, 2, dl.Attempts)
	}

	// Redeliver one.
	r = e.do("manager-a", "POST", "/deliveries/"+dead[0].ID+"/redeliver", "")
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	again := r.json(t)
	require.NotNil(t, again["redeliveredAt"], "%s", r.body)
	if again["state"] != "pending" { // the worker may have tried it already
		require.EqualValues(t, 3, again["attempts"], "%s", r.body)
	}

	// A test event to this endpoint only, of a catalogued type.
	r = e.do("manager-a", "POST", "/subscriptions/"+id+"/test", `{"eventType":"contact.created"}`)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	require.Equal(t, id, r.json(t)["subscriptionId"])
	requireProblem(t, e.do("manager-a", "POST", "/subscriptions/"+id+"/test", `{"eventType":"contakt.created"}`), http.StatusUnprocessableEntity, "eventType")

	// Replay to a second subscription: it gets both stored events.
	id2 := e.createTo("manager-a", e.rcvURL)
	r = e.do("manager-a", "POST", "/subscriptions/"+id2+"/replay", `{"from":"2000-01-01T00:00:00Z"}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.EqualValues(t, 2, r.json(t)["count"])

	// A test event to a stopped subscription is a conflict.
	e.do("manager-a", "POST", "/subscriptions/"+id2+"/pause", "")
	requireProblem(t, e.do("manager-a", "POST", "/subscriptions/"+id2+"/test", `{"eventType":"contact.created"}`), http.StatusConflict, "")
}

// TestOtherOrganizationIsNotFound asks, for every route that names a
// record, for org_a's record with org_b's token: 404, exactly as for a
// missing ID, and nothing changes.
func testOtherOrganizationIsNotFound(t *testing.T, ts *suite) {
	e := ts.setup(t)
	sub := e.create("admin-a", fmt.Sprintf(`{"url":%q,"events":["contact.*"]}`, e.failURL))
	id := sub["id"].(string)
	num := fmt.Sprint(sub["number"])
	e.dispatch("org_a", "contact.created")
	dl := e.waitDeliveries("org_a", 1)[0]
	e.createTo("admin-b", e.rcvURL) // org_b has records of its own

	routes := []struct{ method, path, body string }{
		{"GET", "/subscriptions/%s", ""},
		{"PUT", "/subscriptions/%s", `{"url":"https://example.com/x","events":["contact.created"]}`},
		{"PATCH", "/subscriptions/%s", `{"name":"x"}`},
		{"DELETE", "/subscriptions/%s", ""},
		{"POST", "/subscriptions/%s/pause", ""},
		{"POST", "/subscriptions/%s/resume", ""},
		{"POST", "/subscriptions/%s/rotate-secret", ""},
		{"GET", "/subscriptions/%s/secret", ""},
		{"POST", "/subscriptions/%s/test", `{"eventType":"contact.created"}`},
		{"GET", "/subscriptions/%s/stats", ""},
		{"GET", "/subscriptions/%s/deliveries", ""},
		{"POST", "/subscriptions/%s/redeliver", `{}`},
		{"POST", "/subscriptions/%s/replay", `{}`},
		{"GET", "/deliveries/" + dl.ID + "%s", ""},
		{"POST", "/deliveries/" + dl.ID + "%s/redeliver", ""},
		{"GET", "/events/" + dl.EventID + "%s", ""},
		{"GET", "/api/v1/Webhook/" + num + "%s", ""},
		{"PUT", "/api/v1/Webhook/" + num + "%s", `{"Name":"x","Events":["contact.created"],"TargetUrl":"https://example.com/x"}`},
		{"DELETE", "/api/v1/Webhook/" + num + "%s", ""},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+strings.ReplaceAll(rt.path, "%s", ""), func(t *testing.T) {
			before := e.snapshot()
			own := id
			missing := "sub_00000000000000000000000000"
			if !strings.HasPrefix(rt.path, "/subscriptions/") {
				own, missing = "", "9"
			}
			path := fmt.Sprintf(rt.path, own)
			foreign := e.do("admin-b", rt.method, path, rt.body)
			requireProblem(t, foreign, http.StatusNotFound, "")
			require.Equal(t, before, e.snapshot(), "nothing changed")
			absent := e.do("admin-a", rt.method, fmt.Sprintf(rt.path, missing), rt.body)
			requireProblem(t, absent, http.StatusNotFound, "")
			require.Equal(t, string(absent.body), string(foreign.body), "another organization's record reads as a missing one")
		})
	}
	// Listings show only the caller's own records.
	for _, path := range []string{"/subscriptions", "/deliveries", "/events", "/api/v1/Webhook"} {
		r := e.do("admin-b", "GET", path, "")
		require.Equal(t, http.StatusOK, r.status)
		require.NotContains(t, string(r.body), "org_a", path)
	}
	r := e.do("admin-b", "GET", "/deliveries?subscriptionId="+id, "")
	require.Len(t, r.json(t)["data"], 0)
}

func testAuthorization(t *testing.T, ts *suite) {
	e := ts.setup(t)
	id := e.createTo("admin-a", e.rcvURL)
	before := e.snapshot()
	create := fmt.Sprintf(`{"url":%q,"events":["contact.created"]}`, e.rcvURL)
	for _, tc := range []struct {
		token, method, path, body string
		status                    int
	}{
		{"", "GET", "/subscriptions", "", 401},
		{"bogus", "GET", "/subscriptions", "", 401},
		{"no-org", "GET", "/subscriptions", "", 401},
		{"", "GET", "/openapi.json", "", 401},
		{"", "POST", "/subscriptions", create, 401},
		{"", "GET", "/api/v1/Webhook", "", 401},
		{"reader-a", "POST", "/subscriptions", create, 403},
		{"reader-a", "DELETE", "/subscriptions/" + id, "", 403},
		{"reader-a", "POST", "/subscriptions/" + id + "/pause", "", 403},
		{"reader-a", "POST", "/subscriptions/" + id + "/rotate-secret", "", 403},
		{"reader-a", "GET", "/subscriptions/" + id + "/secret", "", 403},
		{"manager-a", "GET", "/subscriptions/" + id + "/secret", "", 403},
		{"reader-a", "POST", "/subscriptions/" + id + "/redeliver", "{}", 403},
		{"reader-a", "POST", "/api/v1/Webhook", `{}`, 403},
	} {
		r := e.do(tc.token, tc.method, tc.path, tc.body)
		requireProblem(t, r, tc.status, "")
	}
	require.Equal(t, before, e.snapshot())
	r := e.do("reader-a", "GET", "/openapi.json", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, manage.OpenAPI(), r.body)
}

func testConcurrentWriters(t *testing.T, ts *suite) {
	e := ts.setup(t)
	id := e.createTo("manager-a", e.rcvURL)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				body := fmt.Sprintf(`{"name":"w%d-%d","customParameters":{"w%d-%d":"1"}}`, i, j, i, j)
				r := e.do("manager-a", "PATCH", "/subscriptions/"+id, body)
				require.Equal(t, http.StatusOK, r.status, "%s", r.body)
				e.createTo("manager-a", e.rcvURL)
				require.Equal(t, http.StatusOK, e.do("manager-a", "POST", "/subscriptions/"+id+"/rotate-secret", "").status)
			}
		}()
	}
	wg.Wait()
	subs, _, err := e.d.ListSubscriptions(t.Context(), "org_a", webhook.Page{Limit: 100})
	require.NoError(t, err)
	require.Len(t, subs, 41)
	// Every merge patch applied to what was stored: none was lost.
	got, err := e.d.GetSubscription(t.Context(), "org_a", id)
	require.NoError(t, err)
	require.Len(t, got.CustomParameters, 40)
	require.Len(t, got.PreviousSecrets, webhook.DefaultLimits().MaxPreviousSecrets)
	numbers := map[int64]bool{}
	for _, s := range subs {
		require.False(t, numbers[s.Number])
		numbers[s.Number] = true
	}
}

func testUnknownRouteAndMethod(t *testing.T, ts *suite) {
	e := ts.setup(t)
	requireProblem(t, e.do("admin-a", "GET", "/nothing/here", ""), http.StatusNotFound, "")
	r := e.do("admin-a", "PATCH", "/subscriptions", `{}`)
	requireProblem(t, r, http.StatusMethodNotAllowed, "")
	require.Equal(t, "GET, HEAD, POST", r.header.Get("Allow"))
	r = e.do("admin-a", "DELETE", "/event-types", "")
	requireProblem(t, r, http.StatusMethodNotAllowed, "")
}

func testResumeReactivatesTooManyErrors(t *testing.T, ts *suite) {
	e := ts.setupWith(t, func(c *webhook.Config, _ *manage.Config) { c.FailureThreshold = 2 })
	id := e.createTo("manager-a", e.failURL)
	e.dispatch("org_a", "contact.created")
	e.dispatch("org_a", "contact.changed")
	e.waitDeliveries("org_a", 2)
	require.Eventually(t, func() bool {
		return e.do("reader-a", "GET", "/subscriptions/"+id, "").json(t)["state"] == "TooManyErrors"
	}, 5*time.Second, 10*time.Millisecond)
	// Changing another field keeps the state.
	r := e.do("manager-a", "PATCH", "/subscriptions/"+id, `{"name":"still failing"}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "TooManyErrors", r.json(t)["state"])
	// A test event cannot go to it; resume can.
	requireProblem(t, e.do("manager-a", "POST", "/subscriptions/"+id+"/test", `{"eventType":"contact.created"}`), http.StatusConflict, "")
	r = e.do("manager-a", "POST", "/subscriptions/"+id+"/resume", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got := r.json(t)
	require.Equal(t, "Active", got["state"])
	require.EqualValues(t, 0, got["consecutiveFailures"])
	// Pausing one already stopped is no change of state, not an error.
	e.do("manager-a", "POST", "/subscriptions/"+id+"/pause", "")
	r = e.do("manager-a", "POST", "/subscriptions/"+id+"/pause", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "Stopped", r.json(t)["state"])
}

func testAuditOfDeliveryActions(t *testing.T, ts *suite) {
	e := ts.setup(t)
	id := e.createTo("manager-a", e.failURL)
	e.dispatch("org_a", "contact.created")
	dl := e.waitDeliveries("org_a", 1)[0]
	e.do("manager-a", "POST", "/subscriptions/"+id+"/redeliver", `{"dryRun":true}`) // no change: not audited
	e.do("manager-a", "POST", "/subscriptions/"+id+"/redeliver", `{}`)
	e.waitDeliveries("org_a", 1)
	require.Eventually(t, func() bool {
		return e.do("manager-a", "POST", "/deliveries/"+dl.ID+"/redeliver", "").status == http.StatusAccepted
	}, 5*time.Second, 10*time.Millisecond)
	r := e.do("manager-a", "POST", "/subscriptions/"+id+"/test", `{"eventType":"contact.created"}`)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	id2 := e.createTo("admin-a", e.rcvURL)
	e.do("admin-a", "POST", "/subscriptions/"+id2+"/replay", `{}`)

	e.mu.Lock()
	defer e.mu.Unlock()
	type seen struct {
		action manage.Action
		sub    string
		count  int
	}
	var got []seen
	for _, c := range e.changes {
		got = append(got, seen{c.Action, c.SubscriptionID, c.Count})
		require.False(t, c.At.IsZero())
	}
	require.Equal(t, []seen{
		{manage.ActionCreate, id, 0},
		{manage.ActionRedeliverAll, id, 1},
		{manage.ActionRedeliver, id, 1},
		{manage.ActionSendTest, id, 1},
		{manage.ActionCreate, id2, 0},
		{manage.ActionReplay, id2, 1},
	}, got)
	require.Equal(t, dl.ID, e.changes[2].DeliveryID)
}

func testSuperOfficeRoutesAreOptIn(t *testing.T, ts *suite) {
	e := ts.setupWith(t, func(_ *webhook.Config, m *manage.Config) { m.SuperOffice = false })
	requireProblem(t, e.do("admin-a", "GET", "/api/v1/Webhook", ""), http.StatusNotFound, "")
	requireProblem(t, e.do("admin-a", "POST", "/api/v1/Webhook", `{}`), http.StatusNotFound, "")
}
