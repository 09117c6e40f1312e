package pgstore

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pgx/v5"
)

// Listener reconnection backoff: each wait is drawn between half and all
// of 0.1 s, doubling up to 10 s; it starts over after a connection that
// lasted longer than listenBackoffMax.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 10 * time.Second
)

// newListenBackoff returns the listener's reconnection schedule: waits
// uniform in [listenBackoffMin/2, listenBackoffMin], doubling up to
// [listenBackoffMax/2, listenBackoffMax], never giving up. (backoff's
// jitter is symmetric: 3/4 of the bound, give or take 1/3, spans half the
// bound to all of it.)
func newListenBackoff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     listenBackoffMin * 3 / 4,
		RandomizationFactor: 1.0 / 3,
		Multiplier:          2,
		MaxInterval:         listenBackoffMax * 3 / 4,
		MaxElapsedTime:      0,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	return b
}

// Wake returns a channel closed the next time deliveries may have become
// claimable: enqueued, released, redelivered, or a subscription
// re-activated, by this Store or by any other on the same schema. Each call
// after that returns a new channel. It never returns nil.
//
// The first call starts a goroutine that holds one connection of the pool
// (taken out of it) and LISTENs on the schema's channel; Close stops it.
// When that connection drops, the goroutine closes the current channel
// (notifications may have been missed), logs, and reconnects with backoff.
func (s *Store) Wake() <-chan struct{} {
	s.listenOnce.Do(s.startListener)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wake
}

func (s *Store) startListener() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(s.listenDone)
		return
	}
	go s.listen(s.ctx)
}

func (s *Store) listen(ctx context.Context) {
	defer close(s.listenDone)
	b := newListenBackoff()
	first := true
	for {
		started := time.Now()
		err := s.listenConn(ctx, func() {
			if first {
				first = false
				close(s.listening)
			}
		})
		if ctx.Err() != nil {
			return
		}
		// Whatever was notified while the connection was down is lost:
		// wake everyone to look.
		s.broadcast()
		if time.Since(started) > listenBackoffMax {
			b.Reset()
		}
		wait := b.NextBackOff()
		s.log.WarnContext(ctx, "pgstore: notification listener lost its connection; reconnecting",
			"schema", s.schema, "error", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// listenConn takes a connection out of the pool, LISTENs, and broadcasts
// every notification not sent by this store until the connection fails or
// ctx ends.
func (s *Store) listenConn(ctx context.Context, ready func()) error {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack()
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx) //nolint:errcheck // closing a connection we give up on
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return err
	}
	// Anything notified before LISTEN took effect is missed: wake everyone.
	s.broadcast()
	ready()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload != s.origin {
			s.broadcast()
		}
	}
}

// wakeOthers asks for a NOTIFY to wake the other stores on the schema. The
// first request is sent at once; requests within Options.NotifyInterval
// after it are merged into one sent at the interval's end, so a burst of
// Enqueue calls costs a few NOTIFYs, and a wake-up is late by at most the
// interval. The first call starts the goroutine that sends them.
func (s *Store) wakeOthers() {
	select {
	case s.notifyReq <- struct{}{}:
	default: // one is pending already
	}
	s.wakerOnce.Do(s.startWaker)
}

func (s *Store) startWaker() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(s.wakerDone)
		return
	}
	go s.waker(s.ctx)
}

// waker sends the NOTIFYs wakeOthers asks for, at most one per
// Options.NotifyInterval, until ctx ends; then it sends what is pending.
func (s *Store) waker(ctx context.Context) {
	defer close(s.wakerDone)
	for {
		pending := false
		select {
		case <-s.notifyReq:
			pending = true
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			// Closing: send what is pending, so that no change of this
			// store's waits for the others' poll.
			select {
			case <-s.notifyReq:
				pending = true
			default:
			}
			if pending {
				fctx, cancel := context.WithTimeout(context.Background(), time.Second)
				s.sendNotify(fctx)
				cancel()
			}
			return
		}
		s.sendNotify(ctx)
		t := time.NewTimer(s.notifyInterval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// sendNotify sends one NOTIFY with this store's origin, which its own
// listener ignores (Enqueue and Finish woke this store directly).
func (s *Store) sendNotify(ctx context.Context) {
	s.notifies.Add(1)
	if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", s.channel, s.origin); err != nil && ctx.Err() == nil {
		// The others find the work when they next poll.
		s.log.WarnContext(ctx, "pgstore: sending a wake-up NOTIFY failed", "schema", s.schema, "error", err)
	}
}
