package webhook

import (
	"context"
	"time"
)

// defaultFailureThreshold is how many consecutive failed attempts turn a
// subscription to StateTooManyErrors by default (Config.FailureThreshold).
const defaultFailureThreshold = 50

// Notification tells a Notifier that a subscription stopped receiving
// events.
type Notification struct {
	// Subscription is the subscription as it was claimed, before the
	// change; read-only.
	Subscription *Subscription
	// State is the new state: StateTooManyErrors after FailureThreshold
	// consecutive failures, StateStopped after a 410 Gone.
	State State
	// Email is the subscription's ErrorsEmail (may be empty).
	Email string
	// Reason says why, e.g. the last error.
	Reason string
	// At is when it happened, on the dispatcher's clock.
	At time.Time
}

// Notifier is told when the dispatcher turns a subscription off, so the
// host can e-mail its owner (Notification.Email) or alert. Notify is
// called from a worker goroutine once the subscription's state is stored
// (the outcome of the attempt that tripped it may still be on its way to
// the Store), must be safe for concurrent use, and should return quickly;
// a panic in it is recovered and logged.
type Notifier interface {
	Notify(ctx context.Context, n Notification)
}

// NotifierFunc adapts a function to a Notifier.
type NotifierFunc func(ctx context.Context, n Notification)

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, n Notification) { f(ctx, n) }
