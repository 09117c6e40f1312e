package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// countingStore is a memstore that counts its Claim and Finish calls, to
// tell how well the dispatcher batches them.
type countingStore struct {
	*memstore.Store
	claims, claimed, finishes, finished atomic.Int64
}

func newCountingStore() *countingStore { return &countingStore{Store: memstore.New()} }

func (c *countingStore) Claim(ctx context.Context, p webhook.ClaimParams) ([]*webhook.Delivery, error) {
	ds, err := c.Store.Claim(ctx, p)
	c.claims.Add(1)
	c.claimed.Add(int64(len(ds)))
	return ds, err
}

func (c *countingStore) Finish(ctx context.Context, now time.Time, outcomes []webhook.Outcome) error {
	c.finishes.Add(1)
	c.finished.Add(int64(len(outcomes)))
	return c.Store.Finish(ctx, now, outcomes)
}

func (c *countingStore) String() string {
	return fmt.Sprintf("%.1f deliveries per Claim, %.1f per Finish",
		float64(c.claimed.Load())/max(1, float64(c.claims.Load())),
		float64(c.finished.Load())/max(1, float64(c.finishes.Load())))
}
