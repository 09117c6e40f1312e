package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// urlEnv names the environment variable that holds the URL of the test
// server.
const urlEnv = "RELAYHOOK_PG_URL"

var (
	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error
)

// testPool returns the pool shared by the package's tests. Without a
// server it skips the test, or fails it under CI.
func testPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	url := os.Getenv(urlEnv)
	if url == "" {
		msg := urlEnv + " is not set: start a throwaway server with\n" +
			"\tdir=$(mktemp -d); export " + urlEnv + "=$(bash scripts/postgres.sh start $dir)\n" +
			"and stop it afterwards with: bash scripts/postgres.sh stop $dir"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	poolOnce.Do(func() { pool, poolErr = newPool(url, 32) })
	require.NoError(tb, poolErr, "connecting to %s", urlEnv)
	return pool
}

func newPool(url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = maxConns
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// newSchemaName returns a schema name no other test uses.
func newSchemaName() string {
	var b [8]byte
	rand.Read(b[:])
	return "t_" + hex.EncodeToString(b[:])
}

// dropSchemaOnCleanup drops the schema when the test ends.
func dropSchemaOnCleanup(tb testing.TB, p *pgxpool.Pool, schema string) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := p.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		if err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
		}
	})
}

// newStoreOn returns a migrated Store on a pool and schema, closed when
// the test ends.
func newStoreOn(tb testing.TB, p *pgxpool.Pool, schema string) *Store {
	tb.Helper()
	s, err := New(p, &Options{Schema: schema})
	require.NoError(tb, err)
	tb.Cleanup(s.Close)
	require.NoError(tb, s.Migrate(context.Background()))
	return s
}

// newTestStore returns a migrated Store on a new schema of the shared
// pool; the schema is dropped when the test ends.
func newTestStore(tb testing.TB) *Store {
	tb.Helper()
	p := testPool(tb)
	schema := newSchemaName()
	dropSchemaOnCleanup(tb, p, schema)
	return newStoreOn(tb, p, schema)
}

// TestMain checks, once every test has closed what it started, that no
// goroutine is left behind: the stores' listeners and the dispatchers'
// workers must all have stopped.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild()) // a dispatcher process of process_test.go
	}
	code := m.Run()
	if pool != nil {
		pool.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}
