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
