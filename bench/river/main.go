// Command river compares relayhook's PostgreSQL store with River
// (github.com/riverqueue/river) doing one job per delivery, on one
// PostgreSQL server, in one run, in alternating rounds, and prints one
// table, and a second of relayhook's cost as the work grows.
//
//	go run .                                  # a throwaway server via scripts/postgres.sh
//	go run . -pg postgres://…  -n 50000 -rounds 3
//	go run . -scenarios drain -cpuprofile cpu.out
//	go run . -scenarios scale,prune -rounds 1     # relayhook alone, a few minutes
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
//     InsertTx of one job, p50 and p99;
//   - scale (on request, relayhook alone): the drain of -scale-n/2
//     pending deliveries with as many stored delivered before them
//     (1,000,000 in all by default; the delivered ones dispatched over the
//     day before the pending ones' hour), against the drain of
//     -scale-base (50,000) on a fresh schema; target: at least 0.8 of
//     that rate;
//   - prune (on request, relayhook alone): e2e's shape on a store holding
//     a day's history of -prune-n delivered deliveries (500,000: 50,000
//     events, all past the 24 hours of Retention), once with the
//     dispatcher's pruner removing it (Config.Retention 24h, PruneBatch
//     -prune-batch) and once without pruning; target: at least half the
//     rate. If the pruner's round ends before the timed part does, the
//     rate is over the part it ran.
//
// scale and prune store what comes before the timed part through the
// public API alone (a Dispatcher with a fake clock, then Store.Claim and
// Store.Finish; never SQL on the tables, so they keep working as the
// schema changes), untimed, from several goroutines, then VACUUM the
// database (naming no table) so the timed part does not pay for the bulk
// load's dead rows; each run gets a fresh schema, and the order of the two
// runs is reversed every other round.
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
	"errors"
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
	progress   io.Writer
}

// enqueued reports the untimed enqueueing before a drain; the timed part
// starts right after it is written.
func (e *env) enqueued(who string, n int, took time.Duration) {
	fmt.Fprintf(e.progress, "        drain %-18s enqueued %d deliveries in %v (%.0f/s, untimed); draining\n",
		who, n, took.Round(time.Millisecond), float64(n)/took.Seconds())
}

// report writes a timed run's figures to the progress output.
func (e *env) report(round int, scenario, who string, m measure) {
	fmt.Fprintf(e.progress, "round %d %-5s %-18s %8.0f deliveries/s  CPU per delivery: %s, machine %s; %.2f round trips per delivery\n",
		round+1, scenario, who, m.rate, attributed(m), fmtDur(perDelivery(m.cpu.machine, m.n)), float64(m.trips)/float64(max(m.n, 1)))
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
func (e *env) end(m measure, n int) measure { return m.until(e.begin(), n) }

// until returns m stopped at later, a sample of begin, with n deliveries.
func (m measure) until(later measure, n int) measure {
	el := later.start.Sub(m.start)
	m.cpu = later.cpu.sub(m.cpu)
	m.trips = later.trips - m.trips
	m.n = n
	m.rate = float64(n) / el.Seconds()
	return m
}

// Contender names.
const (
	ours          = "relayhook pgstore"
	tuned         = "River tuned"
	defaults      = "River defaults"
	dispatchTx    = "DispatchTx"
	insertTx      = "River InsertTx"
	insertManyTx  = "River InsertManyTx"
	scenarioDrain = "drain"
	scenarioE2E   = "e2e"
	scenarioTx    = "tx"
)

// contenderFlags maps the -contenders flag's words to contenders.
var contenderFlags = map[string]string{"pgstore": ours, "tuned": tuned, "defaults": defaults}

// options are the command's flags.
type options struct {
	url        string
	n          int
	txN        int
	rounds     int
	scenarios  []string
	contenders []string // of drain and e2e
	verify     bool
	scaleN     int // deliveries stored in the scale scenario, half of them pending
	scaleBase  int // deliveries its fresh run drains
	pruneN     int // delivered deliveries of the prune scenario's history
	pruneBatch int // its Config.PruneBatch
}

func main() {
	if err := mainErr(); err != nil {
		log.SetFlags(0)
		log.Fatal(err)
	}
}

func mainErr() error {
	o := options{contenders: []string{ours, tuned, defaults}}
	var scenarios, contenders, cpuProfile string
	flag.StringVar(&o.url, "pg", os.Getenv(urlEnv), "PostgreSQL URL (default $"+urlEnv+"; empty: start a throwaway server with scripts/postgres.sh)")
	flag.IntVar(&o.n, "n", 20_000, "deliveries per drain and end-to-end run")
	flag.IntVar(&o.txN, "tx-n", 2_000, "timed transactions per contender and round of the tx scenario")
	flag.IntVar(&o.rounds, "rounds", 2, "alternating rounds")
	flag.StringVar(&scenarios, "scenarios", "drain,e2e,tx", "comma-separated scenarios: drain, e2e, tx, and (relayhook alone, minutes each) scale, prune")
	flag.StringVar(&contenders, "contenders", "pgstore,tuned,defaults", "comma-separated contenders of drain and e2e: pgstore, tuned (River), defaults (River)")
	flag.BoolVar(&o.verify, "verify", false, "the receiver verifies every signature (costs every contender alike)")
	flag.IntVar(&o.scaleN, "scale-n", 1_000_000, "deliveries stored in the scale scenario, half delivered, half pending (drained)")
	flag.IntVar(&o.scaleBase, "scale-base", 50_000, "deliveries the scale scenario drains on a fresh schema, to compare")
	flag.IntVar(&o.pruneN, "prune-n", 500_000, "delivered deliveries of the prune scenario's history (a tenth as many events), all past the retention")
	flag.IntVar(&o.pruneBatch, "prune-batch", 1000, "Config.PruneBatch of the prune scenario (the dispatcher's default: 1000)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this program to the file")
	flag.Parse()
	o.scenarios = strings.Split(scenarios, ",")
	for _, s := range o.scenarios {
		if !slices.Contains([]string{scenarioDrain, scenarioE2E, scenarioTx, scenarioScale, scenarioPrune}, s) {
			return fmt.Errorf("-scenarios: unknown scenario %q (drain, e2e, tx, scale, prune)", s)
		}
	}
	o.contenders = nil
	for _, c := range strings.Split(contenders, ",") {
		name, ok := contenderFlags[c]
		if !ok {
			return fmt.Errorf("-contenders: unknown contender %q (pgstore, tuned, defaults)", c)
		}
		o.contenders = append(o.contenders, name)
	}
	if o.n < subscriptions || o.scaleBase < subscriptions || o.pruneN < subscriptions || o.scaleN < 4*subscriptions {
		return fmt.Errorf("-n, -scale-base and -prune-n must be at least %d, -scale-n at least %d", subscriptions, 4*subscriptions)
	}
	if o.txN < 1 || o.rounds < 1 || o.pruneBatch < 1 {
		return errors.New("-tx-n, -rounds and -prune-batch must be at least 1")
	}
	if o.url == "" {
		url, stop, err := startServer()
		if err != nil {
			return fmt.Errorf("no -pg or $%s, and starting a throwaway server failed: %w", urlEnv, err)
		}
		defer stop()
		o.url = url
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	_, err := run(context.Background(), o, os.Stdout, os.Stderr)
	return err
}

// results are one scenario's measures by contender, one per round.
type results map[string][]measure

// summary is everything a run measured.
type summary struct {
	drain, e2e         results
	tx                 map[string][]latencies
	scale, prune       results // by stored and fresh, by pruning and kept
	populated          map[string][]populated
	pruneRuns          []pruneRun
	version            string
	settings           []string
	postgresAttributed bool
}

type throughputFunc = func(context.Context, *env, int) (measure, error)

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
	e := &env{url: o.url, rcv: rcv, postmaster: postmaster, verify: o.verify, progress: progress}
	want := func(s string) bool { return slices.Contains(o.scenarios, s) }
	sum := &summary{drain: results{}, e2e: results{}, tx: map[string][]latencies{}, version: version,
		settings: settings, postgresAttributed: postmaster > 0,
		scale: results{}, prune: results{}, populated: map[string][]populated{}}

	scenarios := []struct {
		name string
		fns  map[string]throughputFunc
		res  results
	}{
		{scenarioDrain, map[string]throughputFunc{ours: ourDrain, tuned: riverDrain(riverTuned), defaults: riverDrain(riverDefaults)}, sum.drain},
		{scenarioE2E, map[string]throughputFunc{ours: ourEndToEnd, tuned: riverEndToEnd(riverTuned), defaults: riverEndToEnd(riverDefaults)}, sum.e2e},
	}
	txs := []struct {
		name string
		fn   func(context.Context, *env, int) (latencies, error)
	}{{dispatchTx, ourTx}, {insertTx, riverTx(1)}, {insertManyTx, riverTx(subscriptions)}}
	loadStart := loadAverage()
	began := time.Now()
	for round := range o.rounds {
		// Alternate the order, so that no contender always runs first.
		order := slices.Clone(o.contenders)
		txOrder := slices.Clone(txs)
		if round%2 == 1 {
			slices.Reverse(order)
			slices.Reverse(txOrder)
		}
		for _, sc := range scenarios {
			if !want(sc.name) {
				continue
			}
			for _, c := range order {
				m, err := sc.fns[c](ctx, e, o.n)
				if err != nil {
					return nil, fmt.Errorf("round %d, %s, %s: %w", round+1, sc.name, c, err)
				}
				sc.res[c] = append(sc.res[c], m)
				e.report(round, sc.name, c, m)
			}
		}
		if want(scenarioTx) {
			for _, t := range txOrder {
				l, err := t.fn(ctx, e, o.txN)
				if err != nil {
					return nil, fmt.Errorf("round %d, tx, %s: %w", round+1, t.name, err)
				}
				sum.tx[t.name] = append(sum.tx[t.name], l)
				fmt.Fprintf(progress, "round %d tx    %-18s p50 %s p99 %s, %.1f round trips each", round+1, t.name, fmtDur(l.p50), fmtDur(l.p99), l.trips)
				if l.match > 0 {
					fmt.Fprintf(progress, "; matching alone p50 %s", fmtDur(l.match))
				}
				fmt.Fprintln(progress)
			}
		}
		if err := runGrowth(ctx, e, o, round, sum); err != nil {
			return nil, err
		}
	}
	took := time.Since(began)
	if rcv.rejected.Load() > 0 {
		return nil, fmt.Errorf("the receiver refused %d requests for their signature", rcv.rejected.Load())
	}

	fmt.Fprintf(out, "relayhook pgstore vs River %s — PostgreSQL %s; %s, %d CPUs, GOMAXPROCS %d, %s\n",
		riverVersion(), version, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Fprintf(out, "settings: %s\n", strings.Join(settings, ", "))
	fmt.Fprintf(out, "N %d, tx-n %d, %d rounds (median shown, rounds in brackets), load average %s at the start, %s in all\n",
		o.n, o.txN, o.rounds, loadStart, took.Round(time.Second))
	growth := want(scenarioScale) || want(scenarioPrune)
	if growth {
		fmt.Fprintf(out, "scale-n %d, scale-base %d, prune-n %d, prune-batch %d\n", o.scaleN, o.scaleBase, o.pruneN, o.pruneBatch)
	}
	fmt.Fprintln(out)
	if want(scenarioDrain) || want(scenarioE2E) || want(scenarioTx) {
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "scenario\trelayhook pgstore\tRiver tuned (200 workers, 1 ms)\tratio\tRiver defaults (100 workers, 100 ms)\tratio\ttarget")
		others := func(res results) [][]measure { return [][]measure{res[tuned], res[defaults]} }
		if want(scenarioDrain) {
			throughputRows(tw, "drain, deliveries/s", sum.drain[ours], others(sum.drain),
				targetCell(sum.drain[ours], sum.drain[tuned], 2.0, "tuned"), postmaster > 0)
		}
		if want(scenarioE2E) {
			throughputRows(tw, "end to end, deliveries/s", sum.e2e[ours], others(sum.e2e),
				targetCell(sum.e2e[ours], sum.e2e[tuned], 1.5, "tuned"), postmaster > 0)
		}
		if want(scenarioTx) {
			txRows(tw, sum.tx)
		}
		tw.Flush()
		fmt.Fprintln(out, "\nratio: relayhook's figure over River's; for times and CPU, River's over relayhook's (above 1: relayhook is ahead).")
		if growth {
			fmt.Fprintln(out)
		}
	}
	if growth {
		growthTable(out, o, sum, postmaster > 0)
	}
	fmt.Fprintln(out, "CPU per delivery: this program (both sides of every HTTP request: sender and receiver) + the PostgreSQL server's processes;")
	fmt.Fprintln(out, "whole machine: /proc/stat's busy time over the run, other work on the machine included.")
	if postmaster == 0 {
		fmt.Fprintln(out, "The server's processes could not be read from here: CPU is the machine's only.")
	}
	return sum, nil
}

// ratio returns a / b formatted, or "—" when either is missing.
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func rate(m measure) float64 { return m.rate }

// targetCell returns the target column of a rate that must reach target
// times another's: "≥ 2.0× tuned: met".
func targetCell(subject, other []measure, target float64, name string) string {
	ms, mo := median(subject, rate), median(other, rate)
	verdict := "—"
	if ms > 0 && mo > 0 {
		verdict = "MISSED"
		if ms >= target*mo {
			verdict = "met"
		}
	}
	return fmt.Sprintf("≥ %.1f× %s: %s", target, name, verdict)
}

// throughputRows writes a scenario's rates, then its CPU and round trips
// per delivery: the subject's, then each other's and the ratio to it
// (rates: the subject's over the other's; CPU: the other's over the
// subject's).
func throughputRows(tw io.Writer, title string, subject []measure, others [][]measure, target string, attributedCPU bool) {
	row := func(label string, cell func([]measure) string, ratioOf func(o []measure) string, last string) {
		fmt.Fprintf(tw, "%s\t%s", label, cell(subject))
		for _, o := range others {
			fmt.Fprintf(tw, "\t%s\t%s", cell(o), ratioOf(o))
		}
		fmt.Fprintf(tw, "\t%s\n", last)
	}
	row(title, func(ms []measure) string { return rates(ms, median(ms, rate)) },
		func(o []measure) string { return ratio(median(subject, rate), median(o, rate)) }, target)
	cpuRow := func(label string, f func(measure) float64, cell func([]measure) string) {
		row("  "+label, cell, func(o []measure) string { return ratio(median(o, f), median(subject, f)) }, "reported")
	}
	if attributedCPU {
		prog := func(m measure) float64 { return float64(perDelivery(m.cpu.program, m.n)) }
		pg := func(m measure) float64 { return float64(perDelivery(m.cpu.postgres, m.n)) }
		both := func(m measure) float64 { return prog(m) + pg(m) }
		cpuRow("CPU per delivery, program + PostgreSQL", both, func(ms []measure) string {
			if len(ms) == 0 {
				return "—"
			}
			return fmtDur(time.Duration(median(ms, prog))) + " + " + fmtDur(time.Duration(median(ms, pg)))
		})
	}
	machine := func(m measure) float64 { return float64(perDelivery(m.cpu.machine, m.n)) }
	cpuRow("CPU per delivery, whole machine", machine, func(ms []measure) string {
		if len(ms) == 0 {
			return "—"
		}
		return fmtDur(time.Duration(median(ms, machine)))
	})
	trips := func(m measure) float64 { return float64(m.trips) / float64(max(m.n, 1)) }
	row("  round trips to PostgreSQL per delivery", func(ms []measure) string {
		if len(ms) == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", median(ms, trips))
	}, func([]measure) string { return "" }, "reported")
}

// txRows writes the tx scenario's rows.
func txRows(tw io.Writer, res map[string][]latencies) {
	q := func(name string, f func(latencies) time.Duration) time.Duration {
		return time.Duration(median(res[name], func(l latencies) float64 { return float64(f(l)) }))
	}
	p50 := func(l latencies) time.Duration { return l.p50 }
	p99 := func(l latencies) time.Duration { return l.p99 }
	o50, o99 := q(dispatchTx, p50), q(dispatchTx, p99)
	r50, r99 := q(insertTx, p50), q(insertTx, p99)
	m50, m99 := q(insertManyTx, p50), q(insertManyTx, p99)
	verdict := "MISSED"
	if o50 <= r50 {
		verdict = "met"
	}
	fmt.Fprintf(tw, "enqueue in the host's tx, p50: DispatchTx (event + 10 deliveries) vs InsertTx (1 job)\t%s\t%s\t%s\t\t\tours ≤ River: %s\n",
		fmtDur(o50), fmtDur(r50), ratio(float64(r50), float64(o50)), verdict)
	fmt.Fprintf(tw, "enqueue in the host's tx, p99\t%s\t%s\t%s\t\t\treported\n", fmtDur(o99), fmtDur(r99), ratio(float64(r99), float64(o99)))
	fmt.Fprintf(tw, "  River InsertManyTx of the same 10 jobs instead, p50 / p99\t%s / %s\t%s / %s\t%s\t\t\treported\n",
		fmtDur(o50), fmtDur(o99), fmtDur(m50), fmtDur(m99), ratio(float64(m50), float64(o50)))
	match := q(dispatchTx, func(l latencies) time.Duration { return l.match })
	fmt.Fprintf(tw, "  DispatchTx's matching of subscriptions alone (outside the tx), p50\t%s\t\t\t\t\treported\n", fmtDur(match))
	trips := func(name string) float64 { return median(res[name], func(l latencies) float64 { return l.trips }) }
	fmt.Fprintf(tw, "  round trips per enqueue (InsertTx, InsertManyTx)\t%.1f\t%.1f, %.1f\t\t\t\treported\n",
		trips(dispatchTx), trips(insertTx), trips(insertManyTx))
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
	if len(ms) == 0 {
		return "—"
	}
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
