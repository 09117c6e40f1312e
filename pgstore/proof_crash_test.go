package pgstore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// Settings of the dispatcher that the crash proof runs in a child process
// and kills: a short lease, so that the fresh one takes over quickly.
const (
	crashWorkerSchemaEnv = "PGSTORE_PROOF_CRASH_SCHEMA" // set in the child only
	crashWorkers         = 16
	crashLease           = 3 * time.Second
	crashTimeout         = time.Second
)

// TestProofCrashWorkerProcess is not a test: it is the dispatcher process
// that TestProofKilledDispatcherLosesNothing starts (this test binary run
// again with crashWorkerSchemaEnv set) and kills. It delivers from the
// schema until it is killed, or its standard input closes (the test
// ended).
func TestProofCrashWorkerProcess(t *testing.T) {
	schema := os.Getenv(crashWorkerSchemaEnv)
	if schema == "" {
		return
	}
	pool, err := newPool(os.Getenv(urlEnv), 8)
	require.NoError(t, err)
	s, err := New(pool, &Options{Schema: schema})
	require.NoError(t, err)
	d, err := webhook.NewDispatcher(s, &webhook.Config{
		AllowPrivateNetworks: true, Workers: crashWorkers, Lease: crashLease, Timeout: crashTimeout,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin) //nolint:errcheck // waits for the parent to go
	os.Exit(0)
}

// startCrashWorker starts the child dispatcher on the schema and waits
// until it runs.
func startCrashWorker(t *testing.T, schema string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestProofCrashWorkerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashWorkerSchemaEnv+"="+schema)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close() //nolint:errcheck // ends the child if still running
		if cmd.ProcessState == nil {
			cmd.Process.Kill() //nolint:errcheck
			cmd.Wait()         //nolint:errcheck
		}
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("child stderr:\n%s", stderr.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- strings.TrimSpace(line)
		io.Copy(io.Discard, stdout) //nolint:errcheck
	}()
	select {
	case line := <-ready:
		require.Equal(t, "ready", line, "the child did not start")
	case <-time.After(60 * time.Second):
		t.Fatal("the child did not start within 60s")
	}
	return cmd
}

// A dispatcher process killed with SIGKILL in the middle of a run loses
// nothing: a fresh one takes over the deliveries it held once their leases
// expire. The only deliveries that arrive twice are those it held at the
// kill, and both copies carry the same webhook-id.
func TestProofKilledDispatcherLosesNothing(t *testing.T) {
	const subs, events = 10, 300
	if testing.Short() {
		t.Skip("starts a process")
	}
	url := proofURL(t)
	p := testPool(t)
	schema := newSchemaName()
	dropSchemaOnCleanup(t, p, schema)
	// Each request is held a little, so that attempts are in flight when
	// the child is killed.
	recv := newProofReceiver(t, 10*time.Millisecond)

	// Subscriptions and events are made here, by a dispatcher that does
	// not deliver.
	s := newStoreOn(t, p, schema)
	host, err := webhook.NewDispatcher(s, &webhook.Config{AllowPrivateNetworks: true})
	require.NoError(t, err)
	t.Cleanup(func() { host.Close(context.Background()) }) //nolint:errcheck
	proofSubscribe(t, host, recv, subs)
	paths := map[string]string{} // subscription ID -> path
	list, _, err := host.ListSubscriptions(t.Context(), "org_1", webhook.Page{Limit: subs})
	require.NoError(t, err)
	for _, sub := range list {
		paths[sub.ID] = strings.TrimPrefix(sub.URL, recv.srv.URL)
	}
	want := map[string]bool{}
	for i := range events {
		ev := proofEvent("crash", i)
		res, err := host.Dispatch(t.Context(), ev)
		require.NoError(t, err)
		require.Equal(t, subs, res.Enqueued)
		proofWant(want, ev.ID, subs)
	}

	// The child delivers a third of them, and is killed.
	child := startCrashWorker(t, schema)
	started := time.Now()
	for recv.distinct.Load() < int64(len(want)/3) {
		require.Less(t, time.Since(started), 2*time.Minute, "the child delivers too slowly")
		time.Sleep(2 * time.Millisecond)
	}
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	child.Wait() //nolint:errcheck // killed
	killed := time.Now()
	arrivedBeforeKill := int(recv.distinct.Load())
	require.Less(t, arrivedBeforeKill, len(want), "everything arrived before the kill: nothing to take over")

	// What it held: the deliveries still pending under a lease.
	held := map[string]bool{} // "path webhook-id"
	rows, err := p.Query(t.Context(), "SELECT d.subscription_id, d.event_id FROM "+
		pgx.Identifier{schema, "deliveries"}.Sanitize()+" d JOIN "+pgx.Identifier{schema, "queue"}.Sanitize()+
		" q ON q.delivery_id = d.id WHERE d.state = 'pending' AND q.lease IS NOT NULL")
	require.NoError(t, err)
	for rows.Next() {
		var subID, eventID string
		require.NoError(t, rows.Scan(&subID, &eventID))
		held[proofKey(paths[subID], eventID)] = true
	}
	require.NoError(t, rows.Err())

	// A fresh dispatcher finishes the run.
	d := proofDispatcher(t, newStoreOn(t, proofPool(t, url, 8), schema),
		webhook.Config{Workers: crashWorkers, Lease: crashLease, Timeout: crashTimeout})
	// Done when everything arrived and is recorded delivered: what the
	// dead process held and sent may have arrived already, but it is sent
	// again once its lease expires.
	recv.waitDistinct(t, len(want), 2*time.Minute)
	waitDelivered(t, p, schema, len(want), time.Minute)
	finished := time.Since(killed)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, d.Close(ctx))

	lost, duplicated, unexpected, total := recv.tally(want)
	t.Logf("%d deliveries, %d arrived before the SIGKILL, %d held by the killed process; "+
		"the fresh dispatcher finished %v after the kill; %d requests: lost = %d, duplicates = %d",
		len(want), arrivedBeforeKill, len(held), finished.Round(time.Millisecond), total, lost, len(duplicated))
	require.Zero(t, lost, "lost")
	// A second copy of anything is of a delivery the killed process held,
	// with the same webhook-id (keys are by webhook-id: a copy with
	// another would be unexpected).
	require.Empty(t, unexpected, "requests with a webhook-id that is no event's")
	for key, n := range duplicated {
		require.True(t, held[key], "%s arrived %d times but was not held by the killed process", key, n)
		require.Equal(t, 2, n, "%s arrived %d times", key, n)
	}
	require.Equal(t, map[string]int{"delivered": len(want)}, deliveryStates(t, p, schema))
}
