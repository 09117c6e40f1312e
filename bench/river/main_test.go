package main

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// testURL returns $RELAYHOOK_PG_URL, or the URL of a throwaway server
// started for the test with scripts/postgres.sh and stopped after it.
func testURL(t *testing.T) string {
	t.Helper()
	if url := os.Getenv(urlEnv); url != "" {
		return url
	}
	url, stop, err := startServer()
	require.NoError(t, err, "%s is not set and no throwaway server could be started", urlEnv)
	t.Cleanup(stop)
	return url
}

// TestSmokeEveryScenario runs one very short round of every scenario,
// with the receiver verifying every signature, and checks that each
// contender delivered everything, that the figures are there, and that
// nothing is left running.
func TestSmokeEveryScenario(t *testing.T) {
	url := testURL(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var out, progress bytes.Buffer
	o := options{url: url, n: 200, txN: 20, rounds: 1, scenarios: []string{scenarioDrain, scenarioE2E, scenarioTx},
		contenders: []string{ours, tuned, defaults}, verify: true}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := run(ctx, o, &out, &progress)
	require.NoError(t, err, "progress:\n%s", progress.String())
	t.Logf("\n%s\n%s", progress.String(), out.String())

	for _, res := range []results{sum.drain, sum.e2e} {
		for _, c := range []string{ours, tuned, defaults} {
			require.Len(t, res[c], 1, c)
			m := res[c][0]
			require.Equal(t, 200, m.n, c)
			require.Positive(t, m.rate, c)
			require.Positive(t, m.cpu.program, c)
		}
	}
	for _, c := range []string{dispatchTx, insertTx, insertManyTx} {
		ls := sum.tx[c]
		require.Len(t, ls, 1, c)
		require.Positive(t, ls[0].p50, c)
		require.GreaterOrEqual(t, ls[0].p99, ls[0].p50, c)
		require.GreaterOrEqual(t, ls[0].trips, 1.0, c)
	}
	require.Positive(t, sum.tx[dispatchTx][0].match)
	require.Contains(t, sum.settings, "max_connections=200")
	require.NotEmpty(t, sum.version)
	for _, want := range []string{"drain, deliveries/s", "end to end, deliveries/s", "enqueue in the host's tx, p50",
		"CPU per delivery, whole machine", "settings: fsync=", "River v0.51.2"} {
		require.Contains(t, out.String(), want)
	}
}

// TestSmokeScaleAndPrune runs one very short round of the scale and prune
// scenarios, with the receiver verifying every signature, and checks that
// everything stored beforehand is counted, that every delivery arrived,
// that the pruner removed the whole history, and that the figures and
// rows are there. (The runs themselves fail if the store counts other
// than what was stored, sent and pruned.)
func TestSmokeScaleAndPrune(t *testing.T) {
	url := testURL(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var out, progress bytes.Buffer
	o := options{url: url, n: 200, txN: 20, rounds: 1, scenarios: []string{scenarioScale, scenarioPrune},
		verify: true, scaleN: 600, scaleBase: 200, pruneN: 400, pruneBatch: 3}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := run(ctx, o, &out, &progress)
	require.NoError(t, err, "progress:\n%s", progress.String())
	t.Logf("\n%s\n%s", progress.String(), out.String())

	for which, n := range map[string]int{stored: 300, fresh: 200} {
		require.Len(t, sum.scale[which], 1, which)
		m := sum.scale[which][0]
		require.Equal(t, n, m.n, which)
		require.Positive(t, m.rate, which)
		require.Positive(t, m.cpu.program, which)
	}
	require.Equal(t, []populated{{done: 300, pending: 300, took: sum.populated[scenarioScale+stored][0].took}},
		sum.populated[scenarioScale+stored])
	require.Equal(t, 200, sum.populated[scenarioScale+fresh][0].pending)
	require.Zero(t, sum.populated[scenarioScale+fresh][0].done)

	require.Len(t, sum.prune[kept], 1)
	require.Equal(t, 200, sum.prune[kept][0].n)
	require.Positive(t, sum.prune[kept][0].rate)
	require.Len(t, sum.pruneRuns, 1)
	r := sum.pruneRuns[0]
	require.Equal(t, 40, r.events, "the pruner removes every event of the history, none of the run's")
	require.GreaterOrEqual(t, r.calls, 40/3+1)
	require.Positive(t, r.took)
	require.Positive(t, r.window)
	m := sum.prune[pruning][0]
	if r.covered {
		require.Equal(t, 200, m.n)
		require.GreaterOrEqual(t, r.took, r.window)
	} else {
		require.LessOrEqual(t, m.n, 200)
		require.Less(t, r.took, r.window)
	}
	for _, which := range []string{kept, pruning} {
		require.Equal(t, 400, sum.populated[scenarioPrune+which][0].done, which)
	}
	for _, want := range []string{"drain of 300 pending beside 300 delivered vs of 200 on a fresh schema",
		"≥ 0.8× fresh: ", "while the pruner removes 400 delivered (40 events past Retention)", "≥ 0.5× not pruning: ",
		"the pruner's round: removed", "40 events, 400 deliveries, ", "scale-n 600, scale-base 200, prune-n 400, prune-batch 3"} {
		require.Contains(t, out.String(), want)
	}
	require.NotContains(t, out.String(), "River tuned (200 workers", "no River table when no River scenario runs")
}

// TestVerifyingReceiverRefusesABadSignature shows that the smoke test's
// signature check can fail: a request signed with another secret is
// refused and not counted.
func TestVerifyingReceiverRefusesABadSignature(t *testing.T) {
	rcv := newReceiver()
	defer rcv.srv.Close()
	rcv.verifyWith([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	resp, err := rcv.srv.Client().Post(rcv.url(0), "application/json", bytes.NewReader(body1K))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 401, resp.StatusCode)
	require.EqualValues(t, 1, rcv.rejected.Load())
	require.Zero(t, rcv.count.Load())
}

// TestMachineCPUCounts checks that the whole machine's counter, which the
// table divides, counts at least the CPU this process burns.
func TestMachineCPUCounts(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	before := sampleCPU(0)
	deadline := time.Now().Add(10 * time.Second)
	for programCPU()-before.program < 200*time.Millisecond && time.Now().Before(deadline) {
		for x := range 100_000 {
			_ = x * x
		}
	}
	d := sampleCPU(0).sub(before)
	require.GreaterOrEqual(t, d.program, 200*time.Millisecond, "this process got no CPU in 10 s")
	// /proc/stat counts in ticks of 10 ms, per CPU.
	require.GreaterOrEqual(t, d.machine, d.program-time.Duration(runtime.NumCPU())*2*clockTick)
}

// TestThousands checks the grouping of the second table's titles.
func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 50_000: "50,000", 1_000_000: "1,000,000", -1234: "-1,234"} {
		require.Equal(t, want, thousands(n), n)
	}
}
