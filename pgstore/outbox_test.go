package pgstore

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
	"github.com/relayhook/webhook/webhooktest"
)

// The outbox end to end: a dispatcher on the store, a receiver, and a host
// transaction that writes a row and dispatches together.
func TestDispatchTxSendsIfAndOnlyIfTheTransactionCommits(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	recv := webhooktest.NewReceiver(t, nil)
	d, err := webhook.NewDispatcher(s, &webhook.Config{AllowPrivateNetworks: true})
	require.NoError(t, err)
	require.NoError(t, d.Start(ctx))
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, d.Close(cctx))
	})
	sub := &webhook.Subscription{OrganizationID: "org_1", URL: recv.URL + "/hook", Events: []string{"contact.*"}}
	require.NoError(t, d.CreateSubscription(ctx, sub))
	recv.SetSecret(sub.Secret)

	contacts := pgx.Identifier{s.Schema(), "contacts"}.Sanitize()
	_, err = s.pool.Exec(ctx, "CREATE TABLE "+contacts+" (id text PRIMARY KEY, name text NOT NULL)")
	require.NoError(t, err)
	createContact := func(id, name string, commit bool) webhook.DispatchResult {
		tx, err := s.pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
		_, err = tx.Exec(ctx, "INSERT INTO "+contacts+" (id, name) VALUES ($1, $2)", id, name)
		require.NoError(t, err)
		data, err := json.Marshal(map[string]string{"id": id, "name": name})
		require.NoError(t, err)
		res, err := DispatchTx(ctx, d, tx, webhook.Event{Type: "contact.created", OrganizationID: "org_1", Data: data})
		require.NoError(t, err)
		require.Equal(t, 1, res.Enqueued)
		if commit {
			require.NoError(t, tx.Commit(ctx))
		}
		return res
	}

	rolledBack := createContact("c1", "Ada", false)
	committed := createContact("c2", "Grace", true)

	reqs := recv.WaitFor(t, 1, 10*time.Second)
	require.Equal(t, committed.EventID, reqs[0].Header.Get("webhook-id"))
	require.NoError(t, reqs[0].VerifyErr)
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, 1, recv.Len(), "requests: %s", recv.Summary())
	_, err = s.GetEvent(ctx, "org_1", rolledBack.EventID)
	require.ErrorIs(t, err, webhook.ErrNotFound, "the event of the rolled-back transaction")

	// A dispatcher on another store cannot dispatch in a transaction.
	other, err := webhook.NewDispatcher(nonPG{s}, nil)
	require.NoError(t, err)
	tx, err := s.pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	_, err = DispatchTx(ctx, other, tx, webhook.Event{Type: "contact.created", OrganizationID: "org_1"})
	require.ErrorIs(t, err, webhook.ErrInvalidArgument)
}

// nonPG is a Store that is not a *Store.
type nonPG struct{ webhook.Store }
