package manage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/memstore"
)

// The host mounts the API under a prefix of its own, on its own
// authentication: here an API key that names the customer.
func ExampleNewHandler() {
	d, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{
		EventTypes: []webhook.EventType{{Name: "contact.created", Description: "A contact was created."}},
	})
	if err != nil {
		panic(err)
	}
	defer d.Close(context.Background())

	api := manage.NewHandler(d, &manage.Config{
		Authorize: func(r *http.Request) (manage.Access, error) {
			if r.Header.Get("X-Api-Key") != "key-of-acme" { // the host's own check
				return manage.Access{}, errors.New("unknown key")
			}
			return manage.Access{OrganizationID: "acme", Actor: "ada", Capabilities: manage.CanRead | manage.CanManage}, nil
		},
		Audit: func(c manage.Change) { fmt.Println("audit:", c.Actor, c.Action, c.After.Name) },
	})
	mux := http.NewServeMux()
	mux.Handle("/webhooks/api/", http.StripPrefix("/webhooks/api", api))

	req := httptest.NewRequest("POST", "/webhooks/api/subscriptions",
		strings.NewReader(`{"name":"CRM sync","url":"https://crm.example.com/hook","events":["contact.created"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", "key-of-acme")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var created struct {
		Name, State, OrganizationID, CreatedBy string
		Secret                                 string
	}
	json.Unmarshal(rec.Body.Bytes(), &created)
	fmt.Println(rec.Code, created.Name, created.State, created.OrganizationID, created.CreatedBy, strings.HasPrefix(created.Secret, "whsec_"))

	// A typo in an event type is refused with the field named.
	req = httptest.NewRequest("POST", "/webhooks/api/subscriptions",
		strings.NewReader(`{"url":"https://crm.example.com/hook","events":["contakt.created"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", "key-of-acme")
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(rec.Body.String())
	// Output:
	// audit: ada subscription.created CRM sync
	// 201 CRM sync Active acme ada true
	// 422 application/problem+json
	// {"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"The request is not valid.","errors":[{"field":"events[0]","reason":"\"contakt.created\" matches no event type"}]}
}
