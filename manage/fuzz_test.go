package manage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/memstore"
)

// FuzzRequestBodies sends arbitrary bodies and query strings to the routes
// that read them: no answer is a 500, and every error is a problem.
func FuzzRequestBodies(f *testing.F) {
	d, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{EventTypes: []webhook.EventType{
		{Name: "contact.created", Example: json.RawMessage(`{"id":1}`)}, {Name: "contact.changed"},
	}})
	if err != nil {
		f.Fatal(err)
	}
	h := manage.NewHandler(d, &manage.Config{SuperOffice: true, Authorize: func(*http.Request) (manage.Access, error) {
		return manage.Access{OrganizationID: "org_a", Actor: "fuzz", Capabilities: manage.CanRead | manage.CanManage | manage.CanRevealSecrets}, nil
	}})
	f.Cleanup(func() { d.Close(context.Background()) })
	sub := &webhook.Subscription{OrganizationID: "org_a", URL: "https://example.com/hook", Events: []string{"contact.*"}}
	if err := d.CreateSubscription(f.Context(), sub); err != nil {
		f.Fatal(err)
	}
	routes := []struct{ method, path string }{
		{"POST", "/subscriptions"},
		{"PUT", "/subscriptions/" + sub.ID},
		{"PATCH", "/subscriptions/" + sub.ID},
		{"POST", "/subscriptions/" + sub.ID + "/rotate-secret"},
		{"POST", "/subscriptions/" + sub.ID + "/test"},
		{"POST", "/subscriptions/" + sub.ID + "/redeliver"},
		{"POST", "/subscriptions/" + sub.ID + "/replay"},
		{"GET", "/deliveries"},
		{"GET", "/events"},
		{"POST", "/api/v1/Webhook"},
		{"PUT", fmt.Sprintf("/api/v1/Webhook/%d", sub.Number)},
		{"GET", "/api/v1/Webhook"},
	}
	for i := range routes {
		f.Add(uint8(i), "limit=2&order=oldest", []byte(`{"url":"https://example.com","events":["contact.created"]}`))
	}
	f.Add(uint8(2), "", []byte(`{"headers":{"X":null},"basicAuth":{"username":"u"}}`))
	f.Add(uint8(9), "$select=Name", []byte(`{"Name":"x","Events":["contact.created"],"TargetUrl":"https://example.com","Properties":{"a":[1]}}`))
	f.Add(uint8(5), "", []byte(`{"createdFrom":"2026-01-01T00:00:00Z","dryRun":true}`))
	f.Add(uint8(0), "", []byte(`{"url":"https://example.com","events":["*"],"filter":{"$or":[{"data.a":{"$in":[1,"x"]}},{"type":"a.b"}]},"rateLimit":{"requests":3,"per":"minute"},"maxConcurrency":1,"ordered":true}`))
	f.Add(uint8(2), "", []byte(`{"filter":{"data.a":null},"rateLimit":{"requests":2},"ordered":null}`))
	f.Add(uint8(7), "cursor=x&state=dead&createdFrom=2026-01-01T00:00:00Z", []byte(nil))
	f.Fuzz(func(t *testing.T, route uint8, query string, body []byte) {
		rt := routes[int(route)%len(routes)]
		req := httptest.NewRequest(rt.method, "/", bytes.NewReader(body))
		req.URL.Path = rt.path
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s %q: %d %s", rt.method, rt.path, query, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%d without a problem body: %s", rec.Code, rec.Body)
		}
		if rt.method == "POST" && (rec.Code == http.StatusCreated || rt.path == "/api/v1/Webhook" && rec.Code == http.StatusOK) {
			// Keep the store small: remove what was created.
			subs, _, err := d.ListSubscriptions(t.Context(), "org_a", webhook.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range subs {
				if s.ID != sub.ID {
					d.DeleteSubscription(t.Context(), "org_a", s.ID)
				}
			}
		}
	})
}
