package pgstore

import (
	"testing"

	webhook "github.com/relayhook/webhook"
	"github.com/relayhook/webhook/storetest"
)

// TestStore runs the conformance suite, each subtest on a schema of its own.
func TestStore(t *testing.T) {
	testPool(t)
	storetest.Run(t, func(t *testing.T) webhook.Store { return newTestStore(t) })
}

// TestStoreClaimingBySubscription runs the suite with every claim going by
// subscription, as claims do while the head of the queue is congested.
func TestStoreClaimingBySubscription(t *testing.T) {
	testPool(t)
	storetest.Run(t, func(t *testing.T) webhook.Store {
		s := newTestStore(t)
		s.alwaysBySubscription = true
		return s
	})
}
