package apitest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/memstore"
)

// TestStoreFullAsDocumented: the 503 of a full memstore (its deliveries
// pending: the dispatcher is not started), with its Retry-After, is as
// the document says, for a test event and a replay.
func TestStoreFullAsDocumented(t *testing.T) {
	st := memstore.NewWithConfig(&memstore.Config{MaxBytes: 8 << 10})
	d, err := webhook.NewDispatcher(st, &webhook.Config{
		EventTypes: []webhook.EventType{{Name: "contact.created", Example: json.RawMessage(`{"contactId":1}`)}},
	})
	require.NoError(t, err)
	defer d.Close(context.Background())
	h := manage.NewHandler(d, &manage.Config{Authorize: func(*http.Request) (manage.Access, error) {
		return tokens["admin-a"], nil
	}})
	mux := http.NewServeMux()
	mux.Handle("/webhooks/api/", http.StripPrefix("/webhooks/api", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	v := &validating{t: t, seen: map[string]bool{}}
	c := &client{t: t, http: &http.Client{Transport: v}, base: srv.URL + "/webhooks/api"}

	id := c.want(201, "admin-a", "POST", "/subscriptions", `{"url":"https://example.com/in","events":["contact.*"],"rateLimit":{"requests":5,"per":"minute"}}`).field(t, "id").(string)
	data := json.RawMessage(`{"note":"` + strings.Repeat("x", 200) + `"}`)
	for i := 0; ; i++ {
		require.Less(t, i, 1000, "the store never filled")
		_, err := d.Dispatch(t.Context(), webhook.Event{Type: "contact.created", OrganizationID: "org_a", Data: data})
		if errors.Is(err, webhook.ErrStoreFull) {
			break
		}
		require.NoError(t, err)
	}
	c.want(503, "admin-a", "POST", "/subscriptions/"+id+"/test", `{"eventType":"contact.created"}`)
	late := c.want(201, "admin-a", "POST", "/subscriptions", `{"url":"https://example.com/late","events":["contact.*"]}`).field(t, "id").(string)
	c.want(503, "admin-a", "POST", "/subscriptions/"+late+"/replay", `{}`)
	require.True(t, v.seen["POST /subscriptions/{id}/test"])
	require.True(t, v.seen["POST /subscriptions/{id}/replay"])
}
