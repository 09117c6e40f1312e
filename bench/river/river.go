package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/relayhook/webhook"
)

// pgxTx is the transaction type both contenders enqueue in.
type pgxTx = pgx.Tx

// riverSchema is the schema River's tables live in, made anew each run.
const riverSchema = "bench_river"

// riverConfig is how River is set up: its documented example's 100
// workers and its default FetchCooldown (100 ms), or tuned.
type riverConfig struct {
	workers  int
	cooldown time.Duration // 0: River's default
}

var (
	riverDefaults = riverConfig{workers: 100}
	riverTuned    = riverConfig{workers: 200, cooldown: time.Millisecond}
)

// deliveryArgs is one job: one event to one endpoint. The event's data
// travels in the job, as River stores a job's arguments and nothing else.
type deliveryArgs struct {
	EventID  string          `json:"event_id"`
	Endpoint int             `json:"endpoint"`
	Data     json.RawMessage `json:"data"`
}

// Kind is the job's kind for River.
func (deliveryArgs) Kind() string { return "webhook_delivery" }

// deliveryWorker POSTs the Envelope of a job's event to its endpoint,
// signed as relayhook signs (Standard Webhooks, a fresh timestamp per
// attempt), over keep-alive connections; anything but 2xx is an error,
// and River retries it.
type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	urls    []string
	signers []*webhook.Signer
	client  *http.Client
}

// Work delivers one job: the Envelope of its event, POSTed once.
func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	a := job.Args
	if a.Endpoint < 0 || a.Endpoint >= len(w.urls) {
		return river.JobCancel(fmt.Errorf("no endpoint %d", a.Endpoint))
	}
	ev := &webhook.Event{ID: a.EventID, Type: "contact.created", OrganizationID: orgID, Timestamp: job.CreatedAt, Data: a.Data}
	body, contentType, err := webhook.AppendBody(nil, webhook.Envelope, ev, &webhook.Subscription{})
	if err != nil {
		return river.JobCancel(err)
	}
	ts := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.urls[a.Endpoint], bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(webhook.HeaderID, ev.ID)
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(webhook.HeaderSignature, w.signers[a.Endpoint].Sign(ev.ID, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// riverSide is a River client on a fresh schema, not started.
type riverSide struct {
	env    *env
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	http   *http.Client
}

// newRiverSide opens a pool, migrates a fresh schema with River's
// migrator and makes a client: with workers when cfg is given, insert-only
// when it is nil.
func newRiverSide(ctx context.Context, e *env, cfg *riverConfig) (*riverSide, error) {
	pool, err := newPool(ctx, e.url)
	if err != nil {
		return nil, err
	}
	s := &riverSide{env: e, pool: pool}
	if err := recreateSchema(ctx, pool, riverSchema); err != nil {
		s.close()
		return nil, err
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: riverSchema, Logger: quietLogger()})
	if err != nil {
		s.close()
		return nil, err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		s.close()
		return nil, err
	}
	rc := &river.Config{Schema: riverSchema, Logger: quietLogger()}
	if cfg != nil {
		w := &deliveryWorker{}
		secrets := make([]string, subscriptions)
		for i := range subscriptions {
			secrets[i] = webhook.NewSecret()
			signer, err := webhook.NewSigner(secrets[i])
			if err != nil {
				s.close()
				return nil, err
			}
			w.urls = append(w.urls, e.rcv.url(i))
			w.signers = append(w.signers, signer)
		}
		// The same connection pool as relayhook's sender keeps.
		s.http = &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256,
			IdleConnTimeout: 90 * time.Second}, Timeout: 30 * time.Second}
		w.client = s.http
		workers := river.NewWorkers()
		river.AddWorker(workers, w)
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.workers}}
		rc.FetchCooldown = cfg.cooldown
		if e.verify {
			e.rcv.verifyWith(secrets)
		}
	}
	if s.client, err = river.NewClient(riverpgxv5.New(pool), rc); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *riverSide) close() {
	if s.client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.client.Stop(ctx)
		cancel()
	}
	if s.http != nil {
		s.http.CloseIdleConnections()
	}
	_ = dropSchema(context.Background(), s.pool, riverSchema)
	s.pool.Close()
}

// eventJobs returns the InsertMany parameters of one event: one job per
// endpoint.
func eventJobs() []river.InsertManyParams {
	id := webhook.NewEventID(time.Now())
	params := make([]river.InsertManyParams, subscriptions)
	for i := range params {
		params[i] = river.InsertManyParams{Args: deliveryArgs{EventID: id, Endpoint: i, Data: body1K}}
	}
	return params
}

// insertAll inserts events events' jobs, ten per InsertMany, from 4
// goroutines: the way relayhook's side dispatches them.
func (s *riverSide) insertAll(ctx context.Context, events int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, dispatchers)
	for range dispatchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(events) {
				res, err := s.client.InsertMany(ctx, eventJobs())
				if err == nil && len(res) != subscriptions {
					err = fmt.Errorf("InsertMany inserted %d jobs, not %d", len(res), subscriptions)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// waitCompleted waits until n jobs are recorded completed.
func (s *riverSide) waitCompleted(ctx context.Context, n int64) error {
	q := "SELECT count(*) FROM " + pgx.Identifier{riverSchema, "river_job"}.Sanitize() + " WHERE state = 'completed'"
	return waitUntil(time.Minute, "River jobs recorded completed", func() (bool, error) {
		var done int64
		if err := s.pool.QueryRow(ctx, q).Scan(&done); err != nil {
			return false, err
		}
		return done >= n, nil
	})
}

// riverDrain inserts n jobs, then starts the client and times it to the
// last job received and recorded completed.
func riverDrain(cfg riverConfig) func(context.Context, *env, int) (measure, error) {
	return func(ctx context.Context, e *env, n int) (measure, error) {
		s, err := newRiverSide(ctx, e, &cfg)
		if err != nil {
			return measure{}, err
		}
		defer s.close()
		events := n / subscriptions
		start := time.Now()
		if err := s.insertAll(ctx, events); err != nil {
			return measure{}, err
		}
		n = events * subscriptions
		e.enqueued("River", n, time.Since(start))
		base := e.rcv.count.Load()
		m := e.begin()
		if err := s.client.Start(ctx); err != nil {
			return measure{}, err
		}
		if err := e.rcv.waitFor(base+int64(n), 5*time.Minute); err != nil {
			return measure{}, err
		}
		if err := s.waitCompleted(ctx, int64(n)); err != nil {
			return measure{}, err
		}
		return e.end(m, n), nil
	}
}

// riverEndToEnd starts the client, then inserts n/10 events' jobs from 4
// goroutines at full speed, timed to the last job received.
func riverEndToEnd(cfg riverConfig) func(context.Context, *env, int) (measure, error) {
	return func(ctx context.Context, e *env, n int) (measure, error) {
		s, err := newRiverSide(ctx, e, &cfg)
		if err != nil {
			return measure{}, err
		}
		defer s.close()
		if err := s.client.Start(ctx); err != nil {
			return measure{}, err
		}
		events := n / subscriptions
		n = events * subscriptions
		base := e.rcv.count.Load()
		m := e.begin()
		if err := s.insertAll(ctx, events); err != nil {
			return measure{}, err
		}
		if err := e.rcv.waitFor(base+int64(n), 5*time.Minute); err != nil {
			return measure{}, err
		}
		res := e.end(m, n)
		return res, s.waitCompleted(ctx, int64(n))
	}
}

// riverTx times, inside a host transaction (BEGIN and COMMIT excluded) on
// an insert-only client, River's InsertTx of one job (the event's data to
// one endpoint) when jobs is 1, else InsertManyTx of one event's jobs to
// that many endpoints.
func riverTx(jobs int) func(context.Context, *env, int) (latencies, error) {
	return func(ctx context.Context, e *env, m int) (latencies, error) {
		s, err := newRiverSide(ctx, e, nil)
		if err != nil {
			return latencies{}, err
		}
		defer s.close()
		return timeTx(ctx, s.pool, m, func(tx pgxTx) error {
			if jobs == 1 {
				args := deliveryArgs{EventID: webhook.NewEventID(time.Now()), Endpoint: 0, Data: body1K}
				_, err := s.client.InsertTx(ctx, tx, args, nil)
				return err
			}
			res, err := s.client.InsertManyTx(ctx, tx, eventJobs()[:jobs])
			if err == nil && len(res) != jobs {
				err = fmt.Errorf("InsertManyTx inserted %d jobs, not %d", len(res), jobs)
			}
			return err
		})
	}
}
