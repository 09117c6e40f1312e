package portal_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/portal"
)

// FuzzCreateForm posts arbitrary add-endpoint forms: the answer is the
// secret page (201) or the form again with its errors (422), never a
// 500, and a refused form stores nothing.
func FuzzCreateForm(f *testing.F) {
	f.Add("Orders", "https://customer.example/hook", "contact.created", "", "X-Team: sales", "ada", "pw", "application/json")
	f.Add("", "ftp://x", "contakt.*", "contact.*, *", "no colon\n: empty", "a:b", "", "text/plain")
	f.Add("<script>", "http://169.254.169.254/", "sale.changed", "..", "webhook-signature: x", "", "pw", "")
	d, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{EventTypes: catalog})
	if err != nil {
		f.Fatal(err)
	}
	defer d.Close(context.Background())
	h := portal.NewHandler(d, &portal.Config{Authorize: func(*http.Request) (manage.Access, error) {
		return manage.Access{OrganizationID: "org_f", Capabilities: manage.CanRead | manage.CanManage}, nil
	}})
	f.Fuzz(func(t *testing.T, name, target, event, patterns, headers, user, password, contentType string) {
		form := url.Values{"name": {name}, "url": {target}, "events": {event}, "patterns": {patterns},
			"headers": {headers}, "basic_user": {user}, "basic_password": {password}, "content_type": {contentType}}
		req := httptest.NewRequest("POST", "/endpoints", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		// Every endpoint created is deleted again, so the store is empty
		// before each post.
		subs, _, err := d.ListSubscriptions(context.Background(), "org_f", webhook.Page{})
		if err != nil {
			t.Fatal(err)
		}
		switch rec.Code {
		case http.StatusCreated:
			if len(subs) != 1 {
				t.Fatalf("201 but %d endpoints stored", len(subs))
			}
			if err := d.DeleteSubscription(context.Background(), "org_f", subs[0].ID); err != nil {
				t.Fatal(err)
			}
		case http.StatusUnprocessableEntity:
			if len(subs) != 0 {
				t.Fatalf("422 but %d endpoints stored", len(subs))
			}
			if !strings.Contains(rec.Body.String(), `class="err"`) && !strings.Contains(rec.Body.String(), `class="problem"`) {
				t.Fatalf("422 without an error shown: %s", rec.Body.String())
			}
		default:
			t.Fatalf("status %d for %v: %s", rec.Code, form, rec.Body.String())
		}
	})
}
