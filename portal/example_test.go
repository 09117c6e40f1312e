package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/portal"
)

// The portal mounted under a prefix, on the host's own session: here a
// cookie naming the organization.
func ExampleNewHandler() {
	ctx := context.Background()
	d, err := webhook.NewDispatcher(memstore.New(), nil)
	if err != nil {
		panic(err)
	}
	defer d.Close(ctx)
	sub := &webhook.Subscription{OrganizationID: "org_1", Name: "Order sync",
		URL: "https://customer.example/hooks", Events: []string{"contact.*"}}
	if err := d.CreateSubscription(ctx, sub); err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/settings/webhooks/", portal.NewHandler(d, &portal.Config{
		Prefix: "/settings/webhooks",
		Title:  "Acme CRM · Webhooks",
		Authorize: func(r *http.Request) (manage.Access, error) {
			c, err := r.Cookie("session_org") // the host's session check
			if err != nil {
				return manage.Access{}, err
			}
			return manage.Access{OrganizationID: c.Value, Actor: "ada",
				Capabilities: manage.CanRead | manage.CanManage}, nil
		},
	}))

	for _, org := range []string{"org_1", "org_2", ""} {
		req := httptest.NewRequest("GET", "/settings/webhooks/endpoints/"+sub.ID, nil)
		if org != "" {
			req.AddCookie(&http.Cookie{Name: "session_org", Value: org})
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Printf("%-6q %d %v\n", org, rec.Code, strings.Contains(rec.Body.String(), "Order sync"))
	}
	// Output:
	// "org_1" 200 true
	// "org_2" 404 false
	// ""     401 false
}
