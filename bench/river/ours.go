package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/pgstore"
)

// orgID is the one organization of every event.
const orgID = "org_bench"

// ourSchema is the schema pgstore's tables live in, made anew each run.
const ourSchema = "bench_relayhook"

// ourSide is a dispatcher on pgstore with the ten subscriptions, not
// started.
type ourSide struct {
	env   *env
	pool  *pgxpool.Pool
	store *pgstore.Store
	d     *webhook.Dispatcher
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newOurSide opens a pool, migrates a fresh schema and subscribes the
// receiver's ten endpoints, with the dispatcher's defaults (128 workers,
// 16 per subscription) but loopback allowed and no pruning. tune, when not
// nil, may change the dispatcher's Config and returns the Store it runs on
// (the pgstore, or one that wraps it).
func newOurSide(ctx context.Context, e *env, tune func(*pgstore.Store, *webhook.Config) webhook.Store) (*ourSide, error) {
	pool, err := newPool(ctx, e.url)
	if err != nil {
		return nil, err
	}
	s := &ourSide{env: e, pool: pool}
	if err := dropSchema(ctx, pool, ourSchema); err != nil {
		s.close()
		return nil, err
	}
	if s.store, err = pgstore.New(pool, &pgstore.Options{Schema: ourSchema, Logger: quietLogger()}); err != nil {
		s.close()
		return nil, err
	}
	if err := s.store.Migrate(ctx); err != nil {
		s.close()
		return nil, err
	}
	cfg := webhook.Config{AllowPrivateNetworks: true, Logger: quietLogger(), Retention: -1}
	var store webhook.Store = s.store
	if tune != nil {
		store = tune(s.store, &cfg)
	}
	if s.d, err = webhook.NewDispatcher(store, &cfg); err != nil {
		s.close()
		return nil, err
	}
	secrets := make([]string, subscriptions)
	for i := range subscriptions {
		sub := &webhook.Subscription{OrganizationID: orgID, URL: e.rcv.url(i), Events: []string{"contact.created"}}
		if err := s.d.CreateSubscription(ctx, sub); err != nil {
			s.close()
			return nil, err
		}
		secrets[i] = sub.Secret
	}
	if e.verify {
		e.rcv.verifyWith(secrets)
	}
	return s, nil
}

func (s *ourSide) close() {
	if s.d != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.d.Close(ctx)
		cancel()
	}
	if s.store != nil {
		s.store.Close()
	}
	_ = dropSchema(context.Background(), s.pool, ourSchema)
	s.pool.Close()
}

// dispatchAll dispatches events events to the ten subscriptions from 4
// goroutines.
func (s *ourSide) dispatchAll(ctx context.Context, events int) error {
	return dispatchEvents(ctx, s.d, events, dispatchers, nil)
}

// dispatchEvents dispatches events events to the ten subscriptions with d
// from workers goroutines, calling after (if not nil) after each.
func dispatchEvents(ctx context.Context, d *webhook.Dispatcher, events, workers int, after func()) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(events) {
				res, err := d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: orgID, Data: body1K})
				if err == nil && res.Enqueued != subscriptions {
					err = fmt.Errorf("dispatch enqueued %d deliveries, not %d", res.Enqueued, subscriptions)
				}
				if err != nil {
					errs <- err
					return
				}
				if after != nil {
					after()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// waitDelivered waits until no delivery is pending and at least n are
// recorded delivered or dead, and returns the stats it saw last.
func (s *ourSide) waitDelivered(ctx context.Context, n int64) (*webhook.Stats, error) {
	var st *webhook.Stats
	err := waitUntil(time.Minute, "pgstore deliveries recorded delivered", func() (bool, error) {
		var err error
		if st, err = s.d.Stats(ctx, orgID, "", time.Hour); err != nil {
			return false, err
		}
		return st.Pending == 0 && st.Delivered+st.Dead >= n, nil
	})
	return st, err
}

// drain starts the dispatcher and times it to n more deliveries received
// and recorded done, recorded of them delivered or dead in all.
func (s *ourSide) drain(ctx context.Context, n int, recorded int64) (measure, error) {
	e := s.env
	base := e.rcv.count.Load()
	m := e.begin()
	if err := s.d.Start(ctx); err != nil {
		return measure{}, err
	}
	if err := e.rcv.waitFor(base+int64(n), receiveTimeout(n)); err != nil {
		return measure{}, err
	}
	if _, err := s.waitDelivered(ctx, recorded); err != nil {
		return measure{}, err
	}
	return e.end(m, n), nil
}

// receiveTimeout is how long n deliveries may take to arrive: 5 minutes,
// or 500 a second for more.
func receiveTimeout(n int) time.Duration {
	return max(5*time.Minute, time.Duration(n)*time.Second/500)
}

// ourDrain enqueues n deliveries (n/10 events), then starts the
// dispatcher and times it to the last delivery received and recorded.
func ourDrain(ctx context.Context, e *env, n int) (measure, error) {
	s, err := newOurSide(ctx, e, nil)
	if err != nil {
		return measure{}, err
	}
	defer s.close()
	events := n / subscriptions
	start := time.Now()
	if err := s.dispatchAll(ctx, events); err != nil {
		return measure{}, err
	}
	n = events * subscriptions
	e.enqueued(ours, n, time.Since(start))
	return s.drain(ctx, n, int64(n))
}

// ourEndToEnd starts the dispatcher, then dispatches n/10 events from 4
// goroutines at full speed, timed to the last delivery received.
func ourEndToEnd(ctx context.Context, e *env, n int) (measure, error) {
	s, err := newOurSide(ctx, e, nil)
	if err != nil {
		return measure{}, err
	}
	defer s.close()
	if err := s.d.Start(ctx); err != nil {
		return measure{}, err
	}
	events := n / subscriptions
	n = events * subscriptions
	base := e.rcv.count.Load()
	m := e.begin()
	if err := s.dispatchAll(ctx, events); err != nil {
		return measure{}, err
	}
	if err := e.rcv.waitFor(base+int64(n), 5*time.Minute); err != nil {
		return measure{}, err
	}
	res := e.end(m, n)
	_, err = s.waitDelivered(ctx, int64(n))
	return res, err
}

// ourTx times pgstore.DispatchTx to the ten subscriptions inside a host
// transaction, BEGIN and COMMIT excluded, m times after a short warm-up.
// The dispatcher is not started: what is timed is the enqueue alone.
func ourTx(ctx context.Context, e *env, m int) (latencies, error) {
	s, err := newOurSide(ctx, e, nil)
	if err != nil {
		return latencies{}, err
	}
	defer s.close()
	l, err := timeTx(ctx, s.pool, m, func(tx pgxTx) error {
		res, err := pgstore.DispatchTx(ctx, s.d, tx, webhook.Event{Type: "contact.created", OrganizationID: orgID, Data: body1K})
		if err == nil && res.Enqueued != subscriptions {
			err = fmt.Errorf("DispatchTx enqueued %d deliveries, not %d", res.Enqueued, subscriptions)
		}
		return err
	})
	if err != nil {
		return l, err
	}
	// The first of its two round trips alone: DispatchTx matches the
	// subscriptions on the pool, outside the transaction.
	took := make([]time.Duration, 0, m)
	for range m {
		start := time.Now()
		subs, _, err := s.store.MatchSubscriptions(ctx, orgID, "contact.created")
		took = append(took, time.Since(start))
		if err == nil && len(subs) != subscriptions {
			err = fmt.Errorf("matched %d subscriptions, not %d", len(subs), subscriptions)
		}
		if err != nil {
			return l, err
		}
	}
	slices.Sort(took)
	l.match = took[len(took)/2]
	return l, nil
}

// latencies are the p50 and p99 of a timed operation, and the round trips
// to the server it took on average.
type latencies struct {
	p50, p99 time.Duration
	trips    float64
	match    time.Duration // DispatchTx's matching of subscriptions alone, p50
}

// timeTx runs op in a transaction of its own, committed, warm-up plus m
// times, and returns the quantiles of op's own duration over the last m.
func timeTx(ctx context.Context, pool *pgxpool.Pool, m int, op func(tx pgxTx) error) (latencies, error) {
	warm := min(100, m)
	took := make([]time.Duration, 0, m)
	var trips int64
	for i := range warm + m {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return latencies{}, err
		}
		start, t0 := time.Now(), roundTrips.Load()
		err = op(tx)
		d, dt := time.Since(start), roundTrips.Load()-t0
		if err != nil {
			_ = tx.Rollback(ctx)
			return latencies{}, err
		}
		if err := tx.Commit(ctx); err != nil {
			return latencies{}, err
		}
		if i >= warm {
			took = append(took, d)
			trips += dt
		}
	}
	slices.Sort(took)
	q := func(f float64) time.Duration { return took[min(int(f*float64(len(took))), len(took)-1)] }
	return latencies{p50: q(0.50), p99: q(0.99), trips: float64(trips) / float64(m)}, nil
}
