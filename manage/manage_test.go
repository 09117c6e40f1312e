package manage_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/managetest"
	"github.com/relayhook/webhook/memstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRoutes runs the route suite on memstore; manage/apitest runs it on
// pgstore too.
func TestRoutes(t *testing.T) {
	managetest.Run(t, func(t *testing.T) webhook.Store { return memstore.New() }, nil)
}

func TestNewHandlerNeedsAuthorize(t *testing.T) {
	d, err := webhook.NewDispatcher(memstore.New(), nil)
	require.NoError(t, err)
	defer d.Close(t.Context())
	authorize := func(*http.Request) (manage.Access, error) { return manage.Access{}, errors.New("no") }
	require.Panics(t, func() { manage.NewHandler(d, &manage.Config{}) })
	require.Panics(t, func() { manage.NewHandler(d, nil) })
	require.Panics(t, func() { manage.NewHandler(nil, &manage.Config{Authorize: authorize}) })
	require.NotPanics(t, func() { manage.NewHandler(d, &manage.Config{Authorize: authorize}) })
}

func TestCallbackPanics(t *testing.T) {
	d, err := webhook.NewDispatcher(memstore.New(), nil)
	require.NoError(t, err)
	defer d.Close(t.Context())
	h := manage.NewHandler(d, &manage.Config{
		Authorize: func(r *http.Request) (manage.Access, error) {
			if r.Header.Get("X-Panic") != "" {
				panic("host bug")
			}
			return manage.Access{OrganizationID: "org_a", Capabilities: manage.CanRead | manage.CanManage}, nil
		},
		Audit:  func(manage.Change) { panic("audit bug") },
		Logger: slog.New(slog.DiscardHandler),
	})
	req := httptest.NewRequest("GET", "/subscriptions", nil)
	req.Header.Set("X-Panic", "1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	require.NotContains(t, rec.Body.String(), "host bug")

	// A panicking audit does not undo the change or its answer.
	req = httptest.NewRequest("POST", "/subscriptions", strings.NewReader(`{"url":"https://example.com/h","events":["a.b"]}`))
	req.Header.Set("Content-Type", "application/json")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	subs, _, err := d.ListSubscriptions(t.Context(), "org_a", webhook.Page{})
	require.NoError(t, err)
	require.Len(t, subs, 1)
}
