package manage_test

import (
	"errors"
	"net/http"
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
