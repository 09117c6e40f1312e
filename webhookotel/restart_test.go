package webhookotel_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook/pgstore"
)

// newPGStore returns a migrated pgstore on a schema of the test's own,
// over the server RELAYHOOK_PG_URL names (the test is skipped without
// one, and fails under CI).
func newPGStore(t *testing.T, pool *pgxpool.Pool, schema string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(context.Background()))
	return s
}

func testPool(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	url := os.Getenv("RELAYHOOK_PG_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("RELAYHOOK_PG_URL is not set")
		}
		t.Skip("RELAYHOOK_PG_URL is not set: see scripts/postgres.sh")
	}
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "otel_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		_, err := pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		require.NoError(t, err)
		pool.Close()
	})
	return pool, schema
}

// TestLinkSurvivesRestartOnPgstore dispatches in one process's dispatcher,
// which closes before delivering; another dispatcher, with a tracer of its
// own, on a new store over the same schema, makes the attempt, and its
// span links to the dispatch span: the trace context travelled through
// PostgreSQL.
func TestLinkSurvivesRestartOnPgstore(t *testing.T) {
	pool, schema := testPool(t)
	rcv := newReceiver(t, 200)

	first := newPGStore(t, pool, schema)
	a := setup(t, first, nil)
	a.subscribe(rcv.URL)
	dispatch := a.dispatchInSpan()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, a.d.Close(ctx))
	first.Close()
	require.Empty(t, a.spans.Ended()[1:], "nothing attempted before the restart")

	second := newPGStore(t, pool, schema)
	t.Cleanup(second.Close)
	b := setup(t, second, nil)
	require.NoError(t, b.d.Start(context.Background()))
	s := b.attemptSpans(1)[0]
	require.Len(t, s.Links(), 1)
	require.Equal(t, dispatch.TraceID(), s.Links()[0].SpanContext.TraceID())
	require.Equal(t, dispatch.SpanID(), s.Links()[0].SpanContext.SpanID())
	require.Equal(t, "delivered", spanAttrs(s)["webhook.outcome"])
}
