// Command postgres shows pgstore's transactional outbox: a host's "create
// contact" transaction writes a row into its contacts table and dispatches
// contact.created with pgstore.DispatchTx, together. The webhook goes out
// if and only if the transaction commits: of two contacts created, one
// committed and one rolled back, the receiver gets the first only.
//
// It needs a PostgreSQL server: RELAYHOOK_PG_URL names it, e.g.
//
//	export RELAYHOOK_PG_URL=postgres://user@127.0.0.1:5432/db?sslmode=disable
//	go run ./examples/postgres   # from the pgstore module
//
// Without RELAYHOOK_PG_URL it starts a throwaway server with the
// repository's scripts/postgres.sh, and stops it at the end. Everything it
// creates lives in the schema relayhook_example, dropped at the start and at
// the end.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	webhook "github.com/relayhook/webhook"
	"github.com/relayhook/webhook/pgstore"
)

// urlEnv names the environment variable with the server's URL.
const urlEnv = "RELAYHOOK_PG_URL"

// orgID is the host's one organization (tenant) in the demo.
const orgID = "org_acme"

func main() {
	if err := start(); err != nil {
		log.Fatal(err)
	}
}

// start runs the demo on the server RELAYHOOK_PG_URL names, or on a
// throwaway one it starts and stops.
func start() error {
	url := os.Getenv(urlEnv)
	if url == "" {
		var stop func()
		var err error
		url, stop, err = startServer()
		if err != nil {
			return fmt.Errorf("%s is not set, and starting a throwaway server failed: %w", urlEnv, err)
		}
		defer stop()
	}
	return run(context.Background(), os.Stdout, url, "relayhook_example")
}

// contact is the host's business record, and the webhook's data.
type contact struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

func run(ctx context.Context, out io.Writer, url, schema string) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	quiet := slog.New(slog.DiscardHandler)

	// A clean schema: the webhook tables, and (for the demo's sake, so that
	// one DROP removes everything) the host's contacts table beside them.
	drop := "DROP SCHEMA IF EXISTS " + pgx.Identifier{schema}.Sanitize() + " CASCADE"
	if _, err := pool.Exec(ctx, drop); err != nil {
		return err
	}
	defer pool.Exec(context.Background(), drop) //nolint:errcheck // best effort
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema, Logger: quiet})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	contacts := pgx.Identifier{schema, "contacts"}.Sanitize()
	if _, err := pool.Exec(ctx, "CREATE TABLE "+contacts+` (
		id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		name  text NOT NULL,
		email text NOT NULL UNIQUE)`); err != nil {
		return err
	}

	// The subscriber's endpoint: it verifies each request's signature and
	// reports what it got.
	var mu sync.Mutex
	var secret string
	received := make(chan string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		key := secret
		mu.Unlock()
		verdict := "signature verified"
		if err := webhook.Verify(key, r.Header, body); err != nil {
			verdict = "signature REJECTED: " + err.Error()
		}
		var env struct {
			EventTrigger string          `json:"eventTrigger"`
			Data         json.RawMessage `json:"data"`
		}
		json.Unmarshal(body, &env) //nolint:errcheck // printed as is
		received <- fmt.Sprintf("  receiver got %s %s, %s\n    data: %s\n",
			env.EventTrigger, r.Header.Get(webhook.HeaderID), verdict, env.Data)
	}))
	defer srv.Close()

	d, err := webhook.NewDispatcher(store, &webhook.Config{
		AllowPrivateNetworks: true, // the receiver runs on loopback
		Logger:               quiet,
	})
	if err != nil {
		return err
	}
	sub := &webhook.Subscription{OrganizationID: orgID, Name: "crm sync", URL: srv.URL + "/contacts",
		Events: []string{"contact.*"}}
	if err := d.CreateSubscription(ctx, sub); err != nil {
		return err
	}
	mu.Lock()
	secret = sub.Secret
	mu.Unlock()
	fmt.Fprintf(out, "subscribed %q to %v\n", sub.Name, sub.Events)
	if err := d.Start(ctx); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.Close(cctx) //nolint:errcheck // at exit
	}()

	// createContact is the host's use case: the row and its webhook in one
	// transaction. commit false stands for anything that makes the host
	// roll back after the dispatch (a later step failing, a validation).
	createContact := func(name, email string, commit bool) error {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
		c := contact{Name: name, Email: email}
		if err := tx.QueryRow(ctx, "INSERT INTO "+contacts+" (name, email) VALUES ($1, $2) RETURNING id",
			name, email).Scan(&c.ID); err != nil {
			return err
		}
		data, err := json.Marshal(c)
		if err != nil {
			return err
		}
		res, err := pgstore.DispatchTx(ctx, d, tx, webhook.Event{Type: "contact.created", OrganizationID: orgID, Data: data})
		if err != nil {
			return err
		}
		if !commit {
			fmt.Fprintf(out, "  contact %d %s: inserted, %s dispatched to %d subscription(s), then ROLLED BACK\n",
				c.ID, name, res.EventID, res.Enqueued)
			return tx.Rollback(ctx)
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		fmt.Fprintf(out, "  contact %d %s: inserted, %s dispatched to %d subscription(s), COMMITTED\n",
			c.ID, name, res.EventID, res.Enqueued)
		return nil
	}
	fmt.Fprintln(out, "\ncreating contacts:")
	if err := createContact("Ada Lovelace", "ada@example.com", true); err != nil {
		return err
	}
	if err := createContact("Charles Babbage", "charles@example.com", false); err != nil {
		return err
	}

	// The committed contact's webhook arrives; give the rolled-back one
	// the time to arrive too, were it going to.
	fmt.Fprintln(out, "\nwebhooks:")
	select {
	case got := <-received:
		fmt.Fprint(out, got)
	case <-time.After(10 * time.Second):
		return errors.New("the committed contact's webhook did not arrive within 10s")
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(received); n > 0 {
		return fmt.Errorf("%d more webhook(s) than committed contacts: %s", n, <-received)
	}

	fmt.Fprintln(out, "\nin the database:")
	rows, err := pool.Query(ctx, "SELECT id, name FROM "+contacts+" ORDER BY id")
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var c contact
		err := r.Scan(&c.ID, &c.Name)
		return fmt.Sprintf("%d %s", c.ID, c.Name), err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  contacts: %s\n", strings.Join(names, ", "))
	// The webhook side is read through the Dispatcher, as a dashboard
	// would, not from pgstore's tables.
	events, _, err := d.ListEvents(ctx, webhook.EventFilter{OrganizationID: orgID})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  webhook events stored: %d\n", len(events))
	fmt.Fprintln(out, "\none contact committed, one webhook sent; the rolled-back contact left neither row nor webhook")
	return nil
}

// startServer starts a throwaway PostgreSQL server with scripts/postgres.sh,
// found in the working directory or one above it, and returns its URL and
// a function that stops it.
func startServer() (url string, stop func(), err error) {
	script, err := findScript()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "relayhook-example-")
	if err != nil {
		return "", nil, err
	}
	fmt.Fprintf(os.Stderr, "%s is not set: starting a throwaway server with %s\n", urlEnv, filepath.Base(script))
	cmd := exec.Command("bash", script, "start", dir)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	stop = func() {
		exec.Command("bash", script, "stop", dir).Run() //nolint:errcheck // best effort
		os.RemoveAll(dir)
	}
	if err != nil {
		stop()
		return "", nil, err
	}
	return strings.TrimSpace(string(b)), stop, nil
}

func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "postgres.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/postgres.sh not found in the working directory or above it; set " + urlEnv)
		}
		dir = parent
	}
}
