package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/internal/proccpu"
	"github.com/relayhook/webhook/memstore"
)

// benchData is a 1 KiB JSON payload, the size the performance targets use.
var benchData = func() json.RawMessage {
	s := `{"id":12345,"name":"Ada Lovelace","notes":"` + strings.Repeat("x", 1024-40) + `"}`
	return json.RawMessage(s)
}()

func benchEvent() *webhook.Event {
	return &webhook.Event{
		ID: "evt_01JJ0000000000000000000000", Type: "contact.created", OrganizationID: "org_bench",
		Timestamp: time.Date(2026, 1, 24, 9, 42, 59, 0, time.UTC), Data: benchData,
	}
}

// BenchmarkSign signs a 1 KiB body with one secret, and with two as during
// a rotation.
func BenchmarkSign(b *testing.B) {
	ev := benchEvent()
	for _, n := range []int{1, 2} {
		secrets := make([]string, n)
		for i := range secrets {
			secrets[i] = webhook.NewSecret()
		}
		s, err := webhook.NewSigner(secrets...)
		if err != nil {
			b.Fatal(err)
		}
		name := "1-secret"
		if n > 1 {
			name = "2-secrets"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(benchData)))
			b.ReportAllocs()
			for b.Loop() {
				_ = s.Sign(ev.ID, ev.Timestamp, benchData)
			}
		})
	}
}

// BenchmarkEnvelope encodes the default body of a 1 KiB event, as JSON and
// as a form, into a reused buffer.
func BenchmarkEnvelope(b *testing.B) {
	ev := benchEvent()
	for _, ct := range []string{webhook.ContentTypeJSON, webhook.ContentTypeForm} {
		sub := &webhook.Subscription{
			ContentType:      ct,
			CustomParameters: map[string]string{"source": "crm"},
		}
		name := "json"
		if ct == webhook.ContentTypeForm {
			name = "form"
		}
		b.Run(name, func(b *testing.B) {
			var buf []byte
			b.SetBytes(int64(len(benchData)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				buf, _, err = webhook.AppendBody(buf[:0], webhook.Envelope, ev, sub)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// reportCPU reports the process's CPU time per operation since start, as
// "cpu-ns/op", beside the wall-clock ns/op.
func reportCPU(b *testing.B, start time.Duration) {
	if start > 0 && b.N > 0 {
		b.ReportMetric(float64(proccpu.Used()-start)/float64(b.N), "cpu-ns/op")
	}
}

func benchDispatcher(b *testing.B, workers int, send webhook.SenderFunc) *webhook.Dispatcher {
	b.Helper()
	cfg := &webhook.Config{
		Workers: workers, MaxPerSubscription: workers,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Retention: -1,
	}
	if send != nil {
		cfg.Senders = map[string]webhook.Sender{webhook.TypeWebhook: send}
	}
	d, err := webhook.NewDispatcher(memstore.New(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func benchSubscribe(b *testing.B, d *webhook.Dispatcher, n int, events ...string) {
	b.Helper()
	for range n {
		s := &webhook.Subscription{OrganizationID: "org_bench", URL: "https://example.com/hook", Events: events}
		if err := d.CreateSubscription(context.Background(), s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDispatch fans one 1 KiB event out to 1, 10 and 10,000 matching
// subscriptions (with 100 stored that do not match), without delivering.
func BenchmarkDispatch(b *testing.B) {
	for _, fan := range []int{1, 10, 10_000} {
		b.Run(fmt.Sprintf("fan-out-%d", fan), func(b *testing.B) {
			d := benchDispatcher(b, 1, nil)
			defer d.Close(context.Background())
			benchSubscribe(b, d, fan, "contact.*")
			benchSubscribe(b, d, 100, "sale.changed")
			ctx := context.Background()
			b.ReportAllocs()
			cpu := proccpu.Used()
			for b.Loop() {
				res, err := d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org_bench", Data: benchData})
				if err != nil || res.Enqueued != fan {
					b.Fatal(res, err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkDispatchSparse dispatches a small event with 100,000
// subscriptions stored of which 10 match: its cost must not grow with the
// ones that do not.
func BenchmarkDispatchSparse(b *testing.B) {
	d := benchDispatcher(b, 1, nil)
	defer d.Close(context.Background())
	for i := range 100_000 {
		benchSubscribe(b, d, 1, fmt.Sprintf("other.type%d", i))
	}
	benchSubscribe(b, d, 10, "contact.created")
	data := json.RawMessage(`{"id":1}`)
	ctx := context.Background()
	b.ReportAllocs()
	cpu := proccpu.Used()
	for b.Loop() {
		res, err := d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org_bench", Data: data})
		if err != nil || res.Enqueued != 10 {
			b.Fatal(res, err)
		}
	}
	reportCPU(b, cpu)
}

// BenchmarkDeliver measures the dispatcher's own cost per delivery of a
// 1 KiB event to one subscription, with an in-process Sender answering 200
// at once (no HTTP): Dispatch, claim, encoding, signing, headers, the
// attempt's context and the batched Finish. allocs/op are per delivery.
func BenchmarkDeliver(b *testing.B) {
	for _, workers := range []int{1, 64} {
		b.Run(map[int]string{1: "workers-1", 64: "workers-64"}[workers], func(b *testing.B) {
			var sent atomic.Int64
			done := make(chan struct{})
			var want atomic.Int64
			d := benchDispatcher(b, workers, func(ctx context.Context, r *webhook.Request) (webhook.Response, error) {
				if sent.Add(1) == want.Load() {
					close(done)
				}
				return webhook.Response{StatusCode: 200}, nil
			})
			benchSubscribe(b, d, 1, "contact.*")
			ctx := context.Background()
			if err := d.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer d.Close(ctx)
			want.Store(int64(b.N))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := proccpu.Used()
			for range b.N {
				if _, err := d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org_bench", Data: benchData}); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-done:
			case <-time.After(time.Minute):
				b.Fatalf("only %d of %d deliveries sent", sent.Load(), b.N)
			}
			b.StopTimer()
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkDeliverLatency dispatches 1 KiB events at 5,000 a second to an
// in-process Sender and reports the p50 and p99 of the time from Dispatch
// to the Sender's call: the dispatcher's own share of the latency (store,
// claimer wake-up, hand-off to a worker, encoding, signing), without HTTP.
func BenchmarkDeliverLatency(b *testing.B) {
	const rate = 5000
	var mu sync.Mutex
	sentAt := make(map[string]time.Time, b.N)
	lats := make([]time.Duration, 0, b.N)
	var got atomic.Int64
	d := benchDispatcher(b, 64, func(ctx context.Context, r *webhook.Request) (webhook.Response, error) {
		now := time.Now()
		mu.Lock()
		lats = append(lats, now.Sub(sentAt[r.Event.ID]))
		mu.Unlock()
		got.Add(1)
		return webhook.Response{StatusCode: 200}, nil
	})
	benchSubscribe(b, d, 1, "contact.*")
	ctx := context.Background()
	if err := d.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer d.Close(ctx)
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = webhook.NewEventID(time.Now())
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i, id := range ids {
		if wait := time.Until(start.Add(time.Duration(i) * time.Second / rate)); wait > 0 {
			time.Sleep(wait)
		}
		mu.Lock()
		sentAt[id] = time.Now()
		mu.Unlock()
		if _, err := d.Dispatch(ctx, webhook.Event{ID: id, Type: "contact.created", OrganizationID: "org_bench", Data: benchData}); err != nil {
			b.Fatal(err)
		}
	}
	for got.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	slices.Sort(lats)
	b.ReportMetric(float64(lats[len(lats)/2]), "p50-ns")
	b.ReportMetric(float64(lats[len(lats)*99/100]), "p99-ns")
}
