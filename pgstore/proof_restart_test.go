package pgstore

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// postgresScript is the script that starts and stops throwaway servers,
// from this package's directory.
var postgresScript = filepath.Join("..", "scripts", "postgres.sh")

// privateServer is a PostgreSQL server of the test's own, which it may stop
// and start.
type privateServer struct {
	dir string
	url string
}

// startPrivateServer starts a server in a temporary directory with
// scripts/postgres.sh, stopped when the test ends. Outside CI it skips the
// test when PostgreSQL is not installed (the script would install it).
func startPrivateServer(t *testing.T) *privateServer {
	t.Helper()
	proofURL(t) // PostgreSQL tests are wanted
	if os.Getenv("CI") != "true" && !havePgCtl() {
		t.Skip("pg_ctl not found (neither on PATH nor under /usr/lib/postgresql): " +
			"this test starts and restarts a PostgreSQL server of its own")
	}
	_, err := os.Stat(postgresScript)
	require.NoError(t, err, "the script that starts servers")
	dir := t.TempDir()
	// Run as root, the script hands the directory to an unprivileged user,
	// who must be able to reach it.
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	ps := &privateServer{dir: dir}
	t.Cleanup(func() {
		if out, err := exec.Command("bash", postgresScript, "stop", dir).CombinedOutput(); err != nil {
			t.Errorf("stopping the server: %v\n%s", err, out)
		}
	})
	ps.url = ps.start(t)
	return ps
}

func havePgCtl() bool {
	if _, err := exec.LookPath("pg_ctl"); err == nil {
		return true
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	return len(found) > 0
}

// start starts the server and returns its URL.
func (ps *privateServer) start(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("bash", postgresScript, "start", ps.dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "starting the server: %s", stderr.String())
	return strings.TrimSpace(string(out))
}

// stop stops the server (pg_ctl stop -m fast: every connection is cut).
func (ps *privateServer) stop(t *testing.T) {
	t.Helper()
	out, err := exec.Command("bash", postgresScript, "stop", ps.dir).CombinedOutput()
	require.NoError(t, err, "stopping the server: %s", out)
}

// countingHandler counts the log records at Warn and above.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h countingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// PostgreSQL restarts in the middle of a run: Dispatch returns errors while
// it is down (and never claims a success), the dispatcher logs, backs off
// and reconnects, and once the host has dispatched again what failed, with
// the same event IDs, everything arrives.
func TestProofPostgresRestartLosesNothing(t *testing.T) {
	const subs, events = 5, 600
	if testing.Short() {
		t.Skip("starts and restarts a PostgreSQL server")
	}
	ps := startPrivateServer(t)
	p := proofPool(t, ps.url, 16)
	schema := newSchemaName() // the server is the test's: nothing to drop
	recv := newProofReceiver(t, 0)
	var warnings atomic.Int64
	log := slog.New(countingHandler{&warnings})
	s, err := New(p, &Options{Schema: schema, Logger: log})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	require.NoError(t, s.Migrate(t.Context()))
	d := proofDispatcher(t, s, webhook.Config{Lease: 3 * time.Second, Timeout: time.Second, Logger: log})
	proofSubscribe(t, d, recv, subs)

	// The host: dispatches events one after another, and dispatches again
	// (the same event) what failed. phase is 1 while the server is down.
	var phase atomic.Int32
	var dispatched, failed, claimedWhileDown atomic.Int64
	var wantMu sync.Mutex
	want := map[string]bool{}
	dispatch := func(ev webhook.Event) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		before := phase.Load()
		res, err := d.Dispatch(ctx, ev)
		if err == nil && before == 1 && phase.Load() == 1 {
			claimedWhileDown.Add(1)
		}
		if err != nil {
			failed.Add(1)
			return err
		}
		if res.Matched != subs {
			t.Errorf("%s matched %d subscriptions", ev.ID, res.Matched)
		}
		wantMu.Lock()
		proofWant(want, ev.ID, subs)
		wantMu.Unlock()
		return nil
	}
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		for i := range events {
			ev := proofEvent("restart", i)
			for dispatch(ev) != nil {
				time.Sleep(20 * time.Millisecond)
			}
			dispatched.Add(1)
			time.Sleep(2 * time.Millisecond) // a steady run, not one burst
		}
	}()

	// A third in, the server goes down for a second.
	for dispatched.Load() < events/3 {
		time.Sleep(5 * time.Millisecond)
	}
	started := time.Now()
	ps.stop(t)
	phase.Store(1)
	stoppedAt := dispatched.Load()
	outage := proofEvent("restart", events) // dispatched by hand during the outage
	err = dispatch(outage)
	require.Error(t, err, "Dispatch while PostgreSQL is down")
	t.Logf("Dispatch while PostgreSQL is down: %v", err)
	time.Sleep(time.Second)
	phase.Store(2)
	ps.start(t)
	down := time.Since(started)
	for {
		if dispatch(outage) == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	<-producerDone
	wantMu.Lock()
	n := len(want)
	wantMu.Unlock()
	require.Equal(t, (events+1)*subs, n)
	// Done when everything arrived and is recorded delivered (an outcome
	// lost with the connection is sent again when its lease expires).
	recv.waitDistinct(t, n, 2*time.Minute)
	waitDelivered(t, p, schema, n, time.Minute)
	completed := time.Since(started)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, d.Close(ctx))

	lost, duplicated, unexpected, total := recv.tally(want)
	t.Logf("%d deliveries (%d events to %d subscriptions), %d events dispatched when the server stopped; "+
		"down (stop to start) %v, run completed %v after the stop; %d Dispatch calls failed, "+
		"%d claimed success while the server was down; %d warnings and errors logged; "+
		"%d requests: lost = %d, duplicates = %d",
		n, events+1, subs, stoppedAt, down.Round(time.Millisecond), completed.Round(time.Millisecond),
		failed.Load(), claimedWhileDown.Load(), warnings.Load(), total, lost, len(duplicated))
	require.Zero(t, claimedWhileDown.Load(), "Dispatch calls that returned nil while the server was down")
	require.Positive(t, failed.Load())
	require.Zero(t, lost, "lost")
	require.Empty(t, unexpected, "requests with a webhook-id that is no event's")
	require.Equal(t, map[string]int{"delivered": n}, deliveryStates(t, p, schema))
}
