package main

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// roundTrips counts the statements, batches and COPYs sent by every pool
// this program opens: one round trip to the server each (a batch's
// statements travel together).
var roundTrips atomic.Int64

// tripCounter is a pgx tracer that counts round trips in roundTrips.
type tripCounter struct{}

var (
	_ pgx.QueryTracer    = tripCounter{}
	_ pgx.BatchTracer    = tripCounter{}
	_ pgx.CopyFromTracer = tripCounter{}
)

// TraceQueryStart counts a statement, unless it is part of a batch.
func (tripCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	if !inBatch(ctx) {
		roundTrips.Add(1)
	}
	return ctx
}

// TraceQueryEnd does nothing.
func (tripCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

type batchKey struct{}

func inBatch(ctx context.Context) bool { return ctx.Value(batchKey{}) != nil }

// TraceBatchStart counts a batch, and marks its statements as part of it.
func (tripCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	roundTrips.Add(1)
	return context.WithValue(ctx, batchKey{}, true)
}

// TraceBatchQuery does nothing: the batch was counted.
func (tripCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd does nothing.
func (tripCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// TraceCopyFromStart counts a COPY.
func (tripCounter) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	roundTrips.Add(1)
	return ctx
}

// TraceCopyFromEnd does nothing.
func (tripCounter) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}
