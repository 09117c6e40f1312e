package pgstore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// The tests here run dispatchers in child processes (this test binary
// started again in childEnv mode), as a host's replicas run, to prove what
// the queue promises across processes: no delivery is lost or made twice by
// two dispatchers sharing it (the crash proof is in proof_crash_test.go).

// Environment of a child dispatcher process.
const (
	childEnv       = "PGSTORE_TEST_CHILD" // the schema
	childLeaseEnv  = "PGSTORE_TEST_CHILD_LEASE"
	childWorkerEnv = "PGSTORE_TEST_CHILD_WORKERS"
)

// runChild runs a dispatcher on the schema named in childEnv until its
// standard input closes or it gets SIGTERM, then closes it. It prints
// "ready" once started.
func runChild() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv(urlEnv))
	if err != nil {
		return fail(err)
	}
	defer pool.Close()
	s, err := New(pool, &Options{Schema: os.Getenv(childEnv)})
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	lease, _ := time.ParseDuration(os.Getenv(childLeaseEnv))
	workers, _ := strconv.Atoi(os.Getenv(childWorkerEnv))
	d, err := webhook.NewDispatcher(s, &webhook.Config{
		AllowPrivateNetworks: true, Workers: workers, Lease: lease, Timeout: lease / 3,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return fail(err)
	}
	if err := d.Start(ctx); err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	stdin := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin) //nolint:errcheck
		close(stdin)
	}()
	select {
	case <-stop:
	case <-stdin:
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.Close(cctx); err != nil {
		return fail(err)
	}
	return 0
}

// child is a dispatcher process started by a test.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *bytes.Buffer
}

// startChild starts a dispatcher process on the schema and waits until it
// runs. It is stopped (if still running) when the test ends.
func startChild(t *testing.T, schema string, lease time.Duration, workers int) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+schema, childLeaseEnv+"="+lease.String(),
		childWorkerEnv+"="+strconv.Itoa(workers))
	c := &child{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = c.stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	c.stdin = stdin
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill() //nolint:errcheck
			cmd.Wait()         //nolint:errcheck
		}
		if t.Failed() && c.stderr.Len() > 0 {
			t.Logf("child %d stderr:\n%s", cmd.Process.Pid, c.stderr)
		}
	})
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
		io.Copy(io.Discard, stdout) //nolint:errcheck
	}()
	select {
	case ok := <-ready:
		require.True(t, ok, "child did not start: %s", c.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("child did not start: %s", c.stderr)
	}
	return c
}

// stop closes the child's standard input and waits for it to close its
// dispatcher and exit.
func (c *child) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, c.stdin.Close())
	require.NoError(t, c.cmd.Wait(), "child: %s", c.stderr)
}

// tally is a receiver that counts the requests of each (subscription,
// webhook-id).
type tally struct {
	mu     sync.Mutex
	counts map[string]int
	total  int
}

func (r *tally) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	io.Copy(io.Discard, req.Body) //nolint:errcheck
	key := req.URL.Path + " " + req.Header.Get("webhook-id")
	r.mu.Lock()
	r.counts[key]++
	r.total++
	r.mu.Unlock()
}

func (r *tally) snapshot() (distinct, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.counts), r.total
}

// waitDistinct waits until n distinct deliveries arrived.
func (r *tally) waitDistinct(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		distinct, total := r.snapshot()
		if distinct >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d of %d deliveries arrived (%d requests)", timeout, distinct, n, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processFixture is a schema with subscriptions to a tally receiver and a
// dispatcher (not started) to dispatch with.
type processFixture struct {
	s      *Store
	schema string
	d      *webhook.Dispatcher
	recv   *tally
	subs   []*webhook.Subscription
	want   map[string]bool // the keys the receiver must see
}

func newProcessFixture(t *testing.T, nsubs int) *processFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes")
	}
	s := newTestStore(t)
	recv := &tally{counts: map[string]int{}}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	d, err := webhook.NewDispatcher(s, &webhook.Config{AllowPrivateNetworks: true})
	require.NoError(t, err)
	f := &processFixture{s: s, schema: s.Schema(), d: d, recv: recv, want: map[string]bool{}}
	for i := range nsubs {
		sub := &webhook.Subscription{OrganizationID: "org_1", URL: fmt.Sprintf("%s/s/%d", srv.URL, i),
			Events: []string{"contact.*"}}
		require.NoError(t, d.CreateSubscription(t.Context(), sub))
		f.subs = append(f.subs, sub)
	}
	return f
}

// dispatch dispatches n events, each to every subscription.
func (f *processFixture) dispatch(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		res, err := f.d.Dispatch(t.Context(), webhook.Event{Type: "contact.created", OrganizationID: "org_1",
			Data: []byte(fmt.Sprintf(`{"contact":%d}`, i))})
		require.NoError(t, err)
		require.Equal(t, len(f.subs), res.Enqueued)
		for j := range f.subs {
			f.want[fmt.Sprintf("/s/%d %s", j, res.EventID)] = true
		}
	}
}

// check returns the deliveries that never arrived and those that arrived
// more than once, and fails the test on a request nobody asked for.
func (f *processFixture) check(t *testing.T) (lost, duplicated int) {
	t.Helper()
	f.recv.mu.Lock()
	defer f.recv.mu.Unlock()
	for key := range f.want {
		switch n := f.recv.counts[key]; {
		case n == 0:
			lost++
		case n > 1:
			duplicated++
		}
	}
	for key := range f.recv.counts {
		require.True(t, f.want[key], "unexpected request %s", key)
	}
	return lost, duplicated
}

func TestTwoDispatcherProcessesDeliverEverythingOnce(t *testing.T) {
	f := newProcessFixture(t, 10)
	a := startChild(t, f.schema, time.Minute, 32)
	b := startChild(t, f.schema, time.Minute, 32)
	f.dispatch(t, 300)
	f.recv.waitDistinct(t, len(f.want), 2*time.Minute)
	a.stop(t)
	b.stop(t)
	lost, duplicated := f.check(t)
	_, total := f.recv.snapshot()
	t.Logf("deliveries: %d, requests: %d, lost: %d, duplicated: %d", len(f.want), total, lost, duplicated)
	require.Zero(t, lost, "lost")
	require.Zero(t, duplicated, "duplicated")
}

// Every connection to the database dropped mid-run, twice, as a restart of
// PostgreSQL drops them: the dispatchers reconnect and finish, losing
// nothing.
func TestConnectionsDroppedMidRunLoseNothing(t *testing.T) {
	f := newProcessFixture(t, 10)
	// The package's shared pool loses its connections too: close what is
	// left of them afterwards, so that the tests after this one do not
	// start on a dead connection (with a fake clock, a claim that fails
	// backs off until the clock moves).
	t.Cleanup(testPool(t).Reset)
	lease := 3 * time.Second
	a := startChild(t, f.schema, lease, 16)
	b := startChild(t, f.schema, lease, 16)
	f.dispatch(t, 200)
	for _, part := range []int{4, 2} {
		for {
			distinct, _ := f.recv.snapshot()
			if distinct >= len(f.want)/part {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		var (
			dropped int
			err     error
		)
		for range 3 { // this pool's connections were dropped too
			err = f.s.pool.QueryRow(t.Context(), `SELECT count(*) FROM (
  SELECT pg_terminate_backend(pid) FROM pg_stat_activity
  WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend') x`).Scan(&dropped)
			if err == nil {
				break
			}
		}
		require.NoError(t, err)
		t.Logf("dropped %d connections", dropped)
	}
	f.recv.waitDistinct(t, len(f.want), 2*time.Minute)
	a.stop(t)
	b.stop(t)
	lost, duplicated := f.check(t)
	_, total := f.recv.snapshot()
	t.Logf("deliveries: %d, requests: %d, lost=%d, duplicated: %d", len(f.want), total, lost, duplicated)
	require.Zero(t, lost, "lost")
}
