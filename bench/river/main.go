// Command river compares relayhook's PostgreSQL store with River
// (github.com/riverqueue/river) doing one job per delivery, on one
// PostgreSQL server, in one run, in alternating rounds, and prints one
// table.
//
//	go run .                                  # a throwaway server via scripts/postgres.sh
//	go run . -pg postgres://…  -n 50000 -rounds 3
//	go run . -scenarios drain -cpuprofile cpu.out
//
// Scenarios:
//
//   - drain: N deliveries enqueued first (relayhook: N/10 events to 10
//     subscriptions; River: the same jobs with InsertMany), then timed from
//     starting the dispatcher or client to the last one received and
//     recorded done;
//   - e2e: the dispatcher or client running, 4 goroutines dispatch N/10
//     events at full speed (relayhook: Dispatch to 10 subscriptions;
//     River: InsertMany of the same 10 jobs per event), timed to the last
//     delivery received;
//   - tx: enqueueing inside the host's transaction, BEGIN and COMMIT
//     excluded: pgstore.DispatchTx with 10 subscriptions against River's
//     InsertTx of one job, p50 and p99.
//
// drain and e2e run River twice, at its defaults (100 workers, the number
// of its documentation's example, and its FetchCooldown of 100 ms) and
// tuned (200 workers, FetchCooldown 1 ms). Every delivery is the same
// signed POST of the Envelope of a 1 KiB event to a loopback receiver.
// Each contender gets a fresh schema and a pool of 32 connections. CPU per
// delivery is counted from /proc: the whole machine's (other work on it
// included), and this program's plus the PostgreSQL server's when the
// server runs here.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// dispatchers is how many goroutines dispatch or insert at once.
const dispatchers = 4

// body1K is the event's 1 KiB JSON data.
var body1K = func() json.RawMessage {
	s := `{"id":12345,"name":"Ada Lovelace","notes":"` + strings.Repeat("x", 1024-40) + `"}`
	return json.RawMessage(s)
}()

// env is what every run shares: the server, the receiver, whether to
// verify signatures.
type env struct {
	url        string
	rcv        *receiver
	postmaster int
	verify     bool
}

// measure is one timed run.
type measure struct {
	n     int
	rate  float64 // deliveries per second
	cpu   cpuSample
	trips int64 // round trips to the server
	start time.Time
}

// begin starts timing.
func (e *env) begin() measure {
	return measure{cpu: sampleCPU(e.postmaster), trips: roundTrips.Load(), start: time.Now()}
}

// end stops timing n deliveries.
func (e *env) end(m measure, n int) measure {
	el := time.Since(m.start)
	m.cpu = sampleCPU(e.postmaster).sub(m.cpu)
	m.trips = roundTrips.Load() - m.trips
	m.n = n
	m.rate = float64(n) / el.Seconds()
	return m
}

// options are the command's flags.
type options struct {
	url       string
	n         int
	txN       int
	rounds    int
	scenarios []string
	verify    bool
}

func main() {
	var o options
	var scenarios, cpuProfile string
	flag.StringVar(&o.url, "pg", os.Getenv(urlEnv), "PostgreSQL URL (default $"+urlEnv+"; empty: start a throwaway server with scripts/postgres.sh)")
	flag.IntVar(&o.n, "n", 20_000, "deliveries per drain and end-to-end run")
	flag.IntVar(&o.txN, "tx-n", 2_000, "timed transactions per contender and round of the tx scenario")
	flag.IntVar(&o.rounds, "rounds", 2, "alternating rounds")
	flag.StringVar(&scenarios, "scenarios", "drain,e2e,tx", "comma-separated scenarios: drain, e2e, tx")
	flag.BoolVar(&o.verify, "verify", false, "the receiver verifies every signature (costs both contenders alike)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this program to the file")
	flag.Parse()
	log.SetFlags(0)
	o.scenarios = strings.Split(scenarios, ",")
	for _, s := range o.scenarios {
		if !slices.Contains([]string{"drain", "e2e", "tx"}, s) {
			log.Fatalf("-scenarios: unknown scenario %q (drain, e2e, tx)", s)
		}
	}
	if o.n < subscriptions || o.txN < 1 || o.rounds < 1 {
		log.Fatalf("-n must be at least %d, -tx-n and -rounds at least 1", subscriptions)
	}
	if o.url == "" {
		url, stop, err := startServer()
		if err != nil {
			log.Fatalf("no -pg or $%s, and starting a throwaway server failed: %v", urlEnv, err)
		}
		defer stop()
		o.url = url
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if _, err := run(context.Background(), o, os.Stdout, os.Stderr); err != nil {
		pprof.StopCPUProfile()
		log.Fatal(err)
	}
}

// results are one scenario's measures by contender, one per round.
type results map[string][]measure

// summary is everything a run measured.
type summary struct {
	drain, e2e         results
	ourTx, riverTx     []latencies
	version            string
	settings           []string
	postgresAttributed bool
}

// run runs the scenarios and writes the table to out, the rounds' figures
// to progress.
func run(ctx context.Context, o options, out, progress io.Writer) (*summary, error) {
	rcv := newReceiver()
	defer rcv.srv.Close()
	p, err := newPool(ctx, o.url)
	if err != nil {
		return nil, fmt.Errorf("connecting to the server: %w", err)
	}
	version, settings, postmaster, err := serverInfo(ctx, p)
	p.Close()
	if err != nil {
		return nil, err
	}
	e := &env{url: o.url, rcv: rcv, postmaster: postmaster, verify: o.verify}
	want := func(s string) bool { return slices.Contains(o.scenarios, s) }

	throughput := []string{"relayhook pgstore", "River tuned", "River defaults"}
	drain := map[string]func(context.Context, *env, int) (measure, error){
		"relayhook pgstore": ourDrain, "River tuned": riverDrain(riverTuned), "River defaults": riverDrain(riverDefaults),
	}
	e2e := map[string]func(context.Context, *env, int) (measure, error){
		"relayhook pgstore": ourEndToEnd, "River tuned": riverEndToEnd(riverTuned), "River defaults": riverEndToEnd(riverDefaults),
	}
	drains, e2es := results{}, results{}
	var ourTxs, riverTxs []latencies
	loadStart := loadAverage()
	began := time.Now()
	for round := range o.rounds {
		// Alternate the order, so that neither side always runs first.
		order := slices.Clone(throughput)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, sc := range []struct {
			name string
			fns  map[string]func(context.Context, *env, int) (measure, error)
			res  results
		}{{"drain", drain, drains}, {"e2e", e2e, e2es}} {
			if !want(sc.name) {
				continue
			}
			for _, c := range order {
				m, err := sc.fns[c](ctx, e, o.n)
				if err != nil {
					return nil, fmt.Errorf("round %d, %s, %s: %w", round+1, sc.name, c, err)
				}
				sc.res[c] = append(sc.res[c], m)
				fmt.Fprintf(progress, "round %d %-5s %-18s %8.0f deliveries/s  CPU per delivery: machine %s, %s; %.2f round trips per delivery\n",
					round+1, sc.name, c, m.rate, fmtDur(perDelivery(m.cpu.machine, m.n)), attributed(m), float64(m.trips)/float64(m.n))
			}
		}
		if want("tx") {
			txs := []struct {
				name string
				fn   func(context.Context, *env, int) (latencies, error)
				res  *[]latencies
			}{{"DispatchTx", ourTx, &ourTxs}, {"River InsertTx", riverTx, &riverTxs}}
			if round%2 == 1 {
				slices.Reverse(txs)
			}
			for _, t := range txs {
				l, err := t.fn(ctx, e, o.txN)
				if err != nil {
					return nil, fmt.Errorf("round %d, tx, %s: %w", round+1, t.name, err)
				}
				*t.res = append(*t.res, l)
				fmt.Fprintf(progress, "round %d tx    %-18s p50 %s p99 %s, %.1f round trips each\n", round+1, t.name, fmtDur(l.p50), fmtDur(l.p99), l.trips)
			}
		}
	}
	took := time.Since(began)

	fmt.Fprintf(out, "relayhook pgstore vs River %s — PostgreSQL %s; %s, %d CPUs, GOMAXPROCS %d, %s\n",
		riverVersion(), version, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Fprintf(out, "settings: %s\n", strings.Join(settings, ", "))
	fmt.Fprintf(out, "N %d, %d rounds (median shown, rounds in brackets), load average %s at the start, %s in all\n\n",
		o.n, o.rounds, loadStart, took.Round(time.Second))
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\trelayhook pgstore\tRiver tuned (200 workers, 1 ms)\tratio\tRiver defaults (100 workers, 100 ms)\tratio\ttarget")
	if want("drain") {
		throughputRows(tw, "drain, deliveries/s", drains, 2.0)
	}
	if want("e2e") {
		throughputRows(tw, "end to end, deliveries/s", e2es, 1.5)
	}
	if want("tx") {
		o50, o99 := medianDur(ourTxs, func(l latencies) time.Duration { return l.p50 }), medianDur(ourTxs, func(l latencies) time.Duration { return l.p99 })
		r50, r99 := medianDur(riverTxs, func(l latencies) time.Duration { return l.p50 }), medianDur(riverTxs, func(l latencies) time.Duration { return l.p99 })
		verdict := "MISSED"
		if o50 <= r50 {
			verdict = "met"
		}
		fmt.Fprintf(tw, "enqueue in the host's tx, p50 (ours: event + 10 deliveries; River: 1 job)\t%s\t%s\t%.2f\t—\t\tours ≤ River: %s\n",
			fmtDur(o50), fmtDur(r50), float64(r50)/float64(o50), verdict)
		fmt.Fprintf(tw, "enqueue in the host's tx, p99\t%s\t%s\t%.2f\t—\t\treported\n", fmtDur(o99), fmtDur(r99), float64(r99)/float64(o99))
		trips := func(l latencies) float64 { return l.trips }
		fmt.Fprintf(tw, "  round trips per enqueue\t%.1f\t%.1f\t\t—\t\treported\n", median(ourTxs, trips), median(riverTxs, trips))
	}
	tw.Flush()
	fmt.Fprintln(out, "\nratio: relayhook's figure over River's (for latencies, River's over relayhook's: above 1, relayhook is ahead).")
	if postmaster == 0 {
		fmt.Fprintln(out, "The server's processes could not be read from here: CPU is the machine's only.")
	}
	if rcv.rejected.Load() > 0 {
		return nil, fmt.Errorf("the receiver refused %d requests for their signature", rcv.rejected.Load())
	}
	return &summary{drain: drains, e2e: e2es, ourTx: ourTxs, riverTx: riverTxs, version: version,
		settings: settings, postgresAttributed: postmaster > 0}, nil
}

// throughputRows writes a scenario's rates, then its CPU per delivery.
func throughputRows(tw io.Writer, title string, res results, target float64) {
	ours, tuned, defaults := res["relayhook pgstore"], res["River tuned"], res["River defaults"]
	rate := func(m measure) float64 { return m.rate }
	o, t, d := median(ours, rate), median(tuned, rate), median(defaults, rate)
	verdict := "MISSED"
	if o >= target*t {
		verdict = "met"
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%s\t%.2f\t≥ %.1f× tuned: %s\n", title,
		rates(ours, o), rates(tuned, t), o/t, rates(defaults, d), o/d, target, verdict)
	machine := func(m measure) float64 { return float64(perDelivery(m.cpu.machine, m.n)) }
	fmt.Fprintf(tw, "  CPU per delivery, whole machine\t%s\t%s\t%.2f\t%s\t%.2f\treported\n",
		fmtDur(time.Duration(median(ours, machine))), fmtDur(time.Duration(median(tuned, machine))),
		median(tuned, machine)/median(ours, machine),
		fmtDur(time.Duration(median(defaults, machine))), median(defaults, machine)/median(ours, machine))
	trips := func(m measure) float64 { return float64(m.trips) / float64(max(m.n, 1)) }
	fmt.Fprintf(tw, "  round trips to PostgreSQL per delivery\t%.2f\t%.2f\t\t%.2f\t\treported\n",
		median(ours, trips), median(tuned, trips), median(defaults, trips))
	if len(ours) > 0 && ours[0].cpu.postgresKnown {
		prog := func(m measure) float64 { return float64(perDelivery(m.cpu.program, m.n)) }
		pg := func(m measure) float64 { return float64(perDelivery(m.cpu.postgres, m.n)) }
		cell := func(ms []measure) string {
			return fmtDur(time.Duration(median(ms, prog))) + " + " + fmtDur(time.Duration(median(ms, pg)))
		}
		both := func(ms []measure) float64 { return median(ms, prog) + median(ms, pg) }
		fmt.Fprintf(tw, "  CPU per delivery, program + PostgreSQL\t%s\t%s\t%.2f\t%s\t%.2f\treported\n",
			cell(ours), cell(tuned), both(tuned)/both(ours), cell(defaults), both(defaults)/both(ours))
	}
}

// attributed describes a run's CPU per delivery in this program and in
// the server.
func attributed(m measure) string {
	if !m.cpu.postgresKnown {
		return "program " + fmtDur(perDelivery(m.cpu.program, m.n))
	}
	return "program " + fmtDur(perDelivery(m.cpu.program, m.n)) + " + PostgreSQL " + fmtDur(perDelivery(m.cpu.postgres, m.n))
}

func perDelivery(d time.Duration, n int) time.Duration { return d / time.Duration(max(n, 1)) }

// rates formats a median rate and the rounds'.
func rates(ms []measure, med float64) string {
	var rs []string
	for _, m := range ms {
		rs = append(rs, fmt.Sprintf("%.0f", m.rate))
	}
	if len(rs) < 2 {
		return fmt.Sprintf("%.0f", med)
	}
	return fmt.Sprintf("%.0f [%s]", med, strings.Join(rs, " "))
}

// median returns the median of f over ms, 0 if there are none.
func median[T any](ms []T, f func(T) float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	xs := make([]float64, len(ms))
	for i, m := range ms {
		xs[i] = f(m)
	}
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

func medianDur(ls []latencies, f func(latencies) time.Duration) time.Duration {
	return time.Duration(median(ls, func(l latencies) float64 { return float64(f(l)) }))
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
}

// loadAverage returns the machine's 1-minute load average, "?" if unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
