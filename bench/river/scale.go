package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/pgstore"
	"github.com/relayhook/webhook/webhooktest"
)

// The scenarios of the cost as the work grows, relayhook's alone, and the
// runs they compare.
const (
	scenarioScale = "scale"
	scenarioPrune = "prune"
	stored        = "stored"  // scale: draining beside the stored history
	fresh         = "fresh"   // scale: draining on a fresh schema
	pruning       = "pruning" // prune: end to end while the pruner runs
	kept          = "kept"    // prune: end to end, the history kept
)

// populators is how many goroutines store the history, and finishers how
// many claim and finish it; finishBatch is the deliveries per claim.
const (
	populators  = 8
	finishers   = 4
	finishBatch = 1000
)

// retention is the prune scenario's Config.Retention; its history is older.
const retention = 24 * time.Hour

// populated describes the untimed storing before a timed part.
type populated struct {
	done, pending int           // deliveries stored delivered and pending
	took          time.Duration // dispatching, finishing and VACUUM
}

// pruneRun is what the dispatcher's pruner did in a prune run.
type pruneRun struct {
	events  int           // events Prune removed, with their deliveries and attempts
	calls   int           // Store.Prune calls
	took    time.Duration // from Start to the end of the pruner's first round
	window  time.Duration // the timed part
	covered bool          // the round lasted the whole timed part
}

// populate stores events events to the ten subscriptions, dispatched (by
// a dispatcher of its own on s's store, not started, with a fake clock)
// at times spread from from to to, and, when finish, claimed and finished
// delivered through the Store at to, one successful attempt each, as a
// dispatcher records them. Only the public API: no SQL on the tables.
func (s *ourSide) populate(ctx context.Context, events int, from, to time.Time, finish bool) error {
	clk := webhooktest.NewClock(from)
	d, err := webhook.NewDispatcher(s.store, &webhook.Config{Clock: clk, AllowPrivateNetworks: true,
		Logger: quietLogger(), Retention: -1})
	if err != nil {
		return err
	}
	defer d.Close(ctx)
	step := to.Sub(from) / time.Duration(max(events, 1))
	if err := dispatchEvents(ctx, d, events, populators, func() { clk.Advance(step) }); err != nil {
		return err
	}
	if !finish {
		return nil
	}
	clk.Set(to)
	var wg sync.WaitGroup
	errs := make(chan error, finishers)
	for range finishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := s.finishSome(ctx, to)
				if err != nil {
					errs <- err
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// finishSome claims up to finishBatch deliveries due at now and finishes
// them delivered, and returns how many it claimed.
func (s *ourSide) finishSome(ctx context.Context, now time.Time) (int, error) {
	ds, err := s.store.Claim(ctx, webhook.ClaimParams{Now: now, Limit: finishBatch, Lease: time.Hour})
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	outs := make([]webhook.Outcome, len(ds))
	for i, d := range ds {
		outs[i] = webhook.Outcome{DeliveryID: d.ID, Lease: d.Lease, State: webhook.DeliveryDelivered,
			Attempt: &webhook.Attempt{DeliveryID: d.ID, EventID: d.EventID, SubscriptionID: d.SubscriptionID,
				Number: d.Attempts + 1, At: d.NextAttemptAt, Duration: time.Millisecond, StatusCode: 200,
				Outcome: webhook.DeliveryDelivered}}
	}
	return len(ds), s.store.Finish(ctx, now, outs)
}

// settle ends the storing: it checks what the store counts, then VACUUMs
// the database (every table, naming none: a store at rest has been
// vacuumed along the way, and a timed part should not pay for the bulk
// load's dead rows), and reports how long the storing took.
func (s *ourSide) settle(ctx context.Context, who string, p populated, start time.Time) (populated, error) {
	st, err := s.d.Stats(ctx, orgID, "", time.Hour)
	if err != nil {
		return p, err
	}
	if st.Delivered != int64(p.done) || st.Pending != int64(p.pending) {
		return p, fmt.Errorf("stored %d delivered and %d pending deliveries, the store counts %d and %d",
			p.done, p.pending, st.Delivered, st.Pending)
	}
	if err := vacuum(ctx, s.pool); err != nil {
		return p, err
	}
	p.took = time.Since(start)
	fmt.Fprintf(s.env.progress, "        %-24s stored %d delivered + %d pending deliveries in %v (%.0f/s, VACUUM included, untimed)\n",
		who, p.done, p.pending, p.took.Round(time.Millisecond), float64(p.done+p.pending)/p.took.Seconds())
	return p, nil
}

// ourScaleDrain drains pending deliveries, the scale scenario's run: on a
// fresh schema it stores done deliveries delivered (dispatched over the
// day before the last hour, finished) and then pending ones (dispatched
// over the last hour), then times their drain from Start to the last one
// received and recorded, as ourDrain does.
func ourScaleDrain(ctx context.Context, e *env, done, pending int) (measure, populated, error) {
	s, err := newOurSide(ctx, e, nil)
	if err != nil {
		return measure{}, populated{}, err
	}
	defer s.close()
	start := time.Now()
	p := populated{done: done / subscriptions * subscriptions, pending: pending / subscriptions * subscriptions}
	if err := s.populate(ctx, p.done/subscriptions, start.Add(-25*time.Hour), start.Add(-time.Hour), true); err != nil {
		return measure{}, p, err
	}
	if err := s.populate(ctx, p.pending/subscriptions, start.Add(-time.Hour), start, false); err != nil {
		return measure{}, p, err
	}
	who := fmt.Sprintf("scale, %d stored", p.done+p.pending)
	if p, err = s.settle(ctx, who, p, start); err != nil {
		return measure{}, p, err
	}
	m, err := s.drain(ctx, p.pending, int64(p.done+p.pending))
	return m, p, err
}

// pruneWatch is the Store of the prune scenario's dispatcher: pgstore,
// with Prune watched.
type pruneWatch struct {
	*pgstore.Store
	env   *env
	batch int

	mu     sync.Mutex
	events int
	calls  int
	end    *measure // a sample taken when the first round ended: a call deleted fewer than the batch
	got    int64    // the receiver's count then
}

// Prune calls pgstore's, and counts.
func (w *pruneWatch) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := w.Store.Prune(ctx, before, limit)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events += n
	w.calls++
	if (err != nil || n < w.batch) && w.end == nil {
		m := w.env.begin()
		w.end, w.got = &m, w.env.rcv.count.Load()
	}
	return n, err
}

// ended returns the sample at the end of the first round, nil before.
func (w *pruneWatch) ended() (*measure, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.end, w.got
}

// ourPruneEndToEnd is the prune scenario's run: on a fresh schema it
// stores history deliveries delivered (dispatched over the day before
// the last 25 hours: past the retention of 24 hours, finished), then
// starts the dispatcher and times n deliveries end to end as ourEndToEnd
// does. With prune, the dispatcher prunes (Config.Retention 24h, its
// PruneBatch batch) and the pruner starts its round at Start; when the
// round ends before the timed part does, the measure covers the round
// only. Without, the history stays.
func ourPruneEndToEnd(ctx context.Context, e *env, history, n, batch int, prune bool) (measure, populated, pruneRun, error) {
	var w *pruneWatch
	var tune func(*pgstore.Store, *webhook.Config) webhook.Store
	if prune {
		tune = func(st *pgstore.Store, cfg *webhook.Config) webhook.Store {
			cfg.Retention, cfg.PruneBatch = retention, batch
			w = &pruneWatch{Store: st, env: e, batch: batch}
			return w
		}
	}
	s, err := newOurSide(ctx, e, tune)
	if err != nil {
		return measure{}, populated{}, pruneRun{}, err
	}
	defer s.close()
	start := time.Now()
	p := populated{done: history / subscriptions * subscriptions}
	if err := s.populate(ctx, p.done/subscriptions, start.Add(-49*time.Hour), start.Add(-25*time.Hour), true); err != nil {
		return measure{}, p, pruneRun{}, err
	}
	who := "prune, " + kept
	if prune {
		who = "prune, " + pruning
	}
	if p, err = s.settle(ctx, who, p, start); err != nil {
		return measure{}, p, pruneRun{}, err
	}

	events := n / subscriptions
	n = events * subscriptions
	base := e.rcv.count.Load()
	m := e.begin()
	if err := s.d.Start(ctx); err != nil {
		return measure{}, p, pruneRun{}, err
	}
	if err := s.dispatchAll(ctx, events); err != nil {
		return measure{}, p, pruneRun{}, err
	}
	if err := e.rcv.waitFor(base+int64(n), receiveTimeout(n)); err != nil {
		return measure{}, p, pruneRun{}, err
	}
	stop := e.begin()
	res := m.until(stop, n)
	var run pruneRun
	if prune {
		run.window = stop.start.Sub(m.start)
		if end, got := w.ended(); end != nil && end.start.Before(stop.start) {
			// The round ended within the timed part: the rate over it alone.
			res = m.until(*end, int(got-base))
		} else {
			run.covered = true
		}
		if err := waitUntil(30*time.Minute, "the pruner's round", func() (bool, error) {
			end, _ := w.ended()
			return end != nil, nil
		}); err != nil {
			return res, p, run, err
		}
		end, _ := w.ended()
		w.mu.Lock()
		run.events, run.calls, run.took = w.events, w.calls, end.start.Sub(m.start)
		w.mu.Unlock()
	}
	st, err := s.waitDelivered(ctx, int64(n))
	if err != nil {
		return res, p, run, err
	}
	if want := int64(p.done + n - run.events*subscriptions); st.Delivered != want {
		return res, p, run, fmt.Errorf("after the run the store counts %d delivered, not %d (%d stored, %d sent, %d events pruned)",
			st.Delivered, want, p.done, n, run.events)
	}
	return res, p, run, nil
}

// runGrowth runs the round's scale and prune runs, if wanted, the order
// reversed every other round.
func runGrowth(ctx context.Context, e *env, o options, round int, sum *summary) error {
	order := func(a, b string) []string {
		if round%2 == 1 {
			return []string{b, a}
		}
		return []string{a, b}
	}
	if slices.Contains(o.scenarios, scenarioScale) {
		for _, which := range order(fresh, stored) {
			done, pending := o.scaleN-o.scaleN/2, o.scaleN/2
			if which == fresh {
				done, pending = 0, o.scaleBase
			}
			m, p, err := ourScaleDrain(ctx, e, done, pending)
			if err != nil {
				return fmt.Errorf("round %d, scale, %s: %w", round+1, which, err)
			}
			sum.scale[which] = append(sum.scale[which], m)
			sum.populated[scenarioScale+which] = append(sum.populated[scenarioScale+which], p)
			e.report(round, scenarioScale, which, m)
		}
	}
	if slices.Contains(o.scenarios, scenarioPrune) {
		for _, which := range order(kept, pruning) {
			m, p, run, err := ourPruneEndToEnd(ctx, e, o.pruneN, o.n, o.pruneBatch, which == pruning)
			if err != nil {
				return fmt.Errorf("round %d, prune, %s: %w", round+1, which, err)
			}
			sum.prune[which] = append(sum.prune[which], m)
			sum.populated[scenarioPrune+which] = append(sum.populated[scenarioPrune+which], p)
			e.report(round, scenarioPrune, which, m)
			if which == pruning {
				sum.pruneRuns = append(sum.pruneRuns, run)
				fmt.Fprintf(e.progress, "        the pruner removed %d events (%d deliveries) in %d calls in %v; the timed part took %v, %s\n",
					run.events, run.events*subscriptions, run.calls, run.took.Round(time.Millisecond),
					run.window.Round(time.Millisecond), coverage(run))
			}
		}
	}
	return nil
}

// coverage says how much of the timed part a prune round lasted.
func coverage(r pruneRun) string {
	if r.covered {
		return "all of it while pruning"
	}
	return fmt.Sprintf("the round ended %v into it: the rate is over that part", r.took.Round(time.Millisecond))
}

// growthTable writes the second table: the scale and prune scenarios.
func growthTable(out io.Writer, o options, sum *summary, attributedCPU bool) {
	want := func(s string) bool { return slices.Contains(o.scenarios, s) }
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "cost as the work grows, relayhook pgstore\twith the history\twithout\tratio\ttarget")
	took := func(ps []populated) string {
		var ts []string
		for _, p := range ps {
			ts = append(ts, roundDur(p.took).String())
		}
		return strings.Join(ts, " ")
	}
	if want(scenarioScale) {
		done, pending := o.scaleN-o.scaleN/2, o.scaleN/2
		title := fmt.Sprintf("drain of %s pending beside %s delivered vs of %s on a fresh schema, deliveries/s",
			thousands(pending), thousands(done), thousands(o.scaleBase))
		throughputRows(tw, title, sum.scale[stored], [][]measure{sum.scale[fresh]},
			targetCell(sum.scale[stored], sum.scale[fresh], 0.8, "fresh"), attributedCPU)
		fmt.Fprintf(tw, "  storing them first (untimed, VACUUM included)\t%s\t%s\t\treported\n",
			took(sum.populated[scenarioScale+stored]), took(sum.populated[scenarioScale+fresh]))
	}
	if want(scenarioPrune) {
		title := fmt.Sprintf("end to end while the pruner removes %s delivered (%s events past Retention) vs not pruning, deliveries/s",
			thousands(o.pruneN/subscriptions*subscriptions), thousands(o.pruneN/subscriptions))
		throughputRows(tw, title, sum.prune[pruning], [][]measure{sum.prune[kept]},
			targetCell(sum.prune[pruning], sum.prune[kept], 0.5, "not pruning"), attributedCPU)
		fmt.Fprintf(tw, "  storing the history first (untimed, VACUUM included)\t%s\t%s\t\treported\n",
			took(sum.populated[scenarioPrune+pruning]), took(sum.populated[scenarioPrune+kept]))
		var removed, rounds, timed []string
		for _, r := range sum.pruneRuns {
			removed = append(removed, fmt.Sprintf("%s events, %s deliveries, %d calls", thousands(r.events), thousands(r.events*subscriptions), r.calls))
			rounds = append(rounds, r.took.Round(time.Millisecond).String())
			part := "all of it"
			if !r.covered {
				part = "the first " + r.took.Round(time.Millisecond).String() + " (the rate is over that part)"
			}
			timed = append(timed, fmt.Sprintf("%v: %s", r.window.Round(time.Millisecond), part))
		}
		fmt.Fprintf(tw, "  the pruner's round: removed\t%s\t\t\treported\n", strings.Join(removed, "; "))
		fmt.Fprintf(tw, "  the pruner's round: took (from Start)\t%s\t\t\treported\n", strings.Join(rounds, " "))
		fmt.Fprintf(tw, "  the timed part, and how much of it the pruner ran\t%s\t%s\t\treported\n",
			strings.Join(timed, "; "), durations(sum.prune[kept]))
	}
	tw.Flush()
	fmt.Fprintln(out, "\nratio: the figure with the history over the one without; for CPU, without over with (below 1: the history costs).")
}

// durations formats the timed parts of ms.
func durations(ms []measure) string {
	var ds []string
	for _, m := range ms {
		ds = append(ds, time.Duration(float64(m.n)/m.rate*float64(time.Second)).Round(time.Millisecond).String())
	}
	return strings.Join(ds, " ")
}

// roundDur rounds d to the second from 10 seconds on, else to 100 ms.
func roundDur(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}

// thousands formats n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
