package webhook

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Failure describes a failed attempt to a RetryPolicy.
type Failure struct {
	// Attempt is the number of the attempt that failed, 1 for the first.
	Attempt int
	// CreatedAt is when the delivery was enqueued (or redelivered), Now
	// the dispatcher clock's time after the attempt.
	CreatedAt time.Time
	Now       time.Time
	// StatusCode is the HTTP status received, 0 if none was.
	StatusCode int
	// RetryAfter is the delay the endpoint asked for with Retry-After on
	// a 429 or 503, 0 if it asked for none.
	RetryAfter time.Duration
	// Err is why the attempt failed: a *StatusError for an answer that
	// was not 2xx, a network or timeout error, or what a Sender returned.
	Err error
}

// RetryPolicy decides what happens to a delivery after a failed attempt.
// The dispatcher stores the resulting time and the attempt count, so the
// schedule survives restarts. A RetryPolicy must be safe for concurrent
// use.
type RetryPolicy interface {
	// NextRetry returns how long to wait before the next attempt, or
	// retry = false to give up: the delivery is then dead (kept, and can
	// be redelivered).
	NextRetry(f Failure) (delay time.Duration, retry bool)
}

// Defaults of ExponentialRetry, given in its fields' docs.
const (
	defaultRetryInitialInterval     = 5 * time.Second
	defaultRetryMultiplier          = 3.0
	defaultRetryMaxInterval         = 4 * time.Hour
	defaultRetryRandomizationFactor = 0.25
	defaultRetryMaxElapsedTime      = 24 * time.Hour
)

// ExponentialRetry is the default RetryPolicy, built on
// github.com/cenkalti/backoff/v4's ExponentialBackOff: delays grow from
// InitialInterval by Multiplier up to MaxInterval, with jitter. Like Svix
// and Stripe, it retries every failure (any answer other than 2xx, network
// errors, timeouts) except a PermanentError and the statuses listed in
// PermanentStatuses. On 429 and 503 it waits what Retry-After asks (at
// least one second, at most MaxInterval) instead.
//
// Retries stop after MaxAttempts attempts, if set, or when the next one
// would come later than MaxElapsedTime after the delivery was created: the
// last retry is then moved to exactly that time, so the schedule covers the
// whole MaxElapsedTime.
type ExponentialRetry struct {
	// InitialInterval is the delay before the first retry. Defaults to
	// 5s.
	InitialInterval time.Duration
	// Multiplier grows the delay at each retry. Defaults to 3.
	Multiplier float64
	// MaxInterval caps one delay. Defaults to 4h.
	MaxInterval time.Duration
	// RandomizationFactor spreads each delay by up to this fraction either
	// way. Defaults to 0.25; negative means none.
	RandomizationFactor float64
	// MaxElapsedTime is how long after its creation a delivery is tried.
	// Defaults to 24h.
	MaxElapsedTime time.Duration
	// MaxAttempts, when positive, caps the number of attempts. Defaults to
	// 0: no cap but MaxElapsedTime.
	MaxAttempts int
	// PermanentStatuses are HTTP statuses that are not retried. Defaults
	// to none. (410 Gone is never retried: it stops the subscription.)
	PermanentStatuses []int
}

// DefaultRetryPolicy returns an ExponentialRetry with every field but
// MaxAttempts and PermanentStatuses set to its default: about 13 retries
// over 24 hours, at 5s, 20s, 1m, 3m, 10m, 30m, 1.5h, 4.5h and then every 4
// hours (±25% jitter), the last at 24 hours after the first try. A zero
// ExponentialRetry behaves the same.
func DefaultRetryPolicy() *ExponentialRetry {
	return &ExponentialRetry{
		InitialInterval:     defaultRetryInitialInterval,
		Multiplier:          defaultRetryMultiplier,
		MaxInterval:         defaultRetryMaxInterval,
		RandomizationFactor: defaultRetryRandomizationFactor,
		MaxElapsedTime:      defaultRetryMaxElapsedTime,
	}
}

// NextRetry implements RetryPolicy.
func (p *ExponentialRetry) NextRetry(f Failure) (time.Duration, bool) {
	var perm *PermanentError
	if errors.As(f.Err, &perm) || slices.Contains(p.PermanentStatuses, f.StatusCode) {
		return 0, false
	}
	if p.MaxAttempts > 0 && f.Attempt >= p.MaxAttempts {
		return 0, false
	}
	maxInterval := orDefault(p.MaxInterval, defaultRetryMaxInterval)
	var delay time.Duration
	if f.RetryAfter > 0 {
		delay = min(max(f.RetryAfter, time.Second), maxInterval)
	} else {
		b := &backoff.ExponentialBackOff{
			InitialInterval:     orDefault(p.InitialInterval, defaultRetryInitialInterval),
			RandomizationFactor: p.RandomizationFactor,
			Multiplier:          p.Multiplier,
			MaxInterval:         maxInterval,
			Stop:                backoff.Stop,
			Clock:               backoff.SystemClock,
		}
		if b.Multiplier <= 0 {
			b.Multiplier = defaultRetryMultiplier
		}
		switch {
		case b.RandomizationFactor == 0:
			b.RandomizationFactor = defaultRetryRandomizationFactor
		case b.RandomizationFactor < 0:
			b.RandomizationFactor = 0
		}
		b.Reset()
		for i := 1; i < f.Attempt; i++ {
			b.NextBackOff()
		}
		delay = b.NextBackOff()
	}
	deadline := f.CreatedAt.Add(orDefault(p.MaxElapsedTime, defaultRetryMaxElapsedTime))
	if !f.Now.Before(deadline) {
		return 0, false
	}
	if f.Now.Add(delay).After(deadline) {
		delay = deadline.Sub(f.Now)
	}
	return delay, true
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// PermanentError marks a failure that must not be retried. A Sender returns
// one (through Permanent) for an attempt that can never succeed; the
// default policy then marks the delivery dead at once.
type PermanentError struct {
	// Err is the failure.
	Err error
}

// Permanent wraps err in a *PermanentError.
func Permanent(err error) error { return &PermanentError{Err: err} }

// Error is Err's message, marked permanent.
func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }

// Unwrap returns Err.
func (e *PermanentError) Unwrap() error { return e.Err }

// StatusError is the failure of an attempt answered with a status other
// than 2xx.
type StatusError struct {
	// StatusCode is the HTTP status received.
	StatusCode int
}

// Error names the status received.
func (e *StatusError) Error() string {
	return "endpoint answered " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
}

// parseRetryAfter reads a Retry-After header (seconds or an HTTP date)
// relative to now; 0 if absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(1<<33))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
