// Command soak runs the embedded store as a long-running host would, with
// the pruning the Dispatcher ships (its default PruneInterval and
// PruneBatch, the system clock), and says whether memory and CPU per
// delivery stay flat:
//
//	go run ./internal/soak                      # 4 minutes
//	go run ./internal/soak -duration 90s -rate 5000
//
// One process: 50 subscriptions in 5 organizations, 1 KiB events that
// match the 10 subscriptions of their organization, a loopback receiver
// that answers 500 to 2% of requests, events dispatched at up to -rate
// deliveries per second (fewer when the dispatcher cannot keep up: the
// producers wait while more than -backlog deliveries are pending), and
// -retention (30 s) of history.
//
// Every 10 s it prints the delivery rate, the heap after a collection,
// the resident set, the goroutines, the CPU per delivery and what the
// store holds; at the end, a verdict: the heap at the end within 1.2x of
// the heap at 60 s, the CPU per delivery of the last minute within 1.1x
// of the second minute's (with a run under 3 minutes, the last third
// against the second), and the goroutines back to their number before
// the run once the dispatcher is closed. It exits 1 when a target is
// missed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/internal/proccpu"
	"github.com/relayhook/webhook/memstore"
)

var (
	flagDuration  = flag.Duration("duration", 4*time.Minute, "how long to run")
	flagRate      = flag.Float64("rate", 19_000, "deliveries per second to dispatch at most")
	flagBacklog   = flag.Int64("backlog", 20_000, "pending deliveries past which the producers wait")
	flagRetention = flag.Duration("retention", 30*time.Second, "Config.Retention")
	flagMaxBytes  = flag.Int64("maxbytes", 0, "memstore Config.MaxBytes (0: the default)")
	flagEvery     = flag.Duration("every", 10*time.Second, "how often to print a line")
)

const (
	orgs       = 5
	subsPerOrg = 10
	failEvery  = 50 // 2% of answers are 500
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// sample is what a line reports.
type sample struct {
	at          time.Duration
	delivered   int64
	cpu         time.Duration
	heap, rss   uint64
	goroutines  int
	usage       memstore.Usage
	rate, cpuPD float64 // over the interval before it
}

func run() error {
	baseGoroutines := runtime.NumGoroutine()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if requests.Add(1)%failEvery == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	store := memstore.NewWithConfig(&memstore.Config{MaxBytes: *flagMaxBytes})
	var delivered atomic.Int64 // attempts whose delivery is done
	d, err := webhook.NewDispatcher(store, &webhook.Config{
		AllowPrivateNetworks: true,
		Retention:            *flagRetention,
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
		Observer: func(info webhook.AttemptInfo) {
			if info.Outcome == webhook.DeliveryDelivered {
				delivered.Add(1)
			}
		},
	})
	if err != nil {
		return err
	}
	ctx := context.Background()
	for o := range orgs {
		for range subsPerOrg {
			s := &webhook.Subscription{OrganizationID: fmt.Sprintf("org_%d", o), URL: srv.URL, Events: []string{"contact.*"}}
			if err := d.CreateSubscription(ctx, s); err != nil {
				return err
			}
		}
	}
	if err := d.Start(ctx); err != nil {
		return err
	}

	// Producers: one per organization, each its share of the rate.
	data := []byte(`{"pad":"` + strings.Repeat("x", 1024-10) + `"}`)
	stop := make(chan struct{})
	var producers sync.WaitGroup
	var refused atomic.Int64
	perProducer := *flagRate / subsPerOrg / orgs // events per second
	for o := range orgs {
		producers.Add(1)
		go func() {
			defer producers.Done()
			org := fmt.Sprintf("org_%d", o)
			start := time.Now()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if ahead := time.Duration(float64(n)/perProducer*float64(time.Second)) - time.Since(start); ahead > 0 {
					time.Sleep(ahead)
				}
				for store.Usage().Pending > *flagBacklog {
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
				_, err := d.Dispatch(ctx, webhook.Event{Type: "contact.updated", OrganizationID: org, Data: data})
				if err != nil {
					refused.Add(1)
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}

	fmt.Printf("soak: %s, up to %.0f deliveries/s, retention %s, the shipped pruning policy, store bound %d MiB, GOMAXPROCS %d\n",
		*flagDuration, *flagRate, *flagRetention,
		store.Usage().MaxBytes>>20, runtime.GOMAXPROCS(0))
	fmt.Printf("%6s %9s %9s %9s %6s %10s %9s %9s %9s\n", "t", "deliv/s", "heap MiB", "RSS MiB", "gorout", "CPU µs/dlv", "held MiB", "held dlv", "pending")
	t0 := time.Now()
	prev := sample{cpu: proccpu.Used()}
	var samples []sample
	tick := time.NewTicker(*flagEvery)
	for range tick.C {
		s := take(time.Since(t0), delivered.Load(), store)
		dd := s.delivered - prev.delivered
		dt := (s.at - prev.at).Seconds()
		s.rate = float64(dd) / dt
		if dd > 0 {
			s.cpuPD = float64(s.cpu-prev.cpu) / float64(time.Microsecond) / float64(dd)
		}
		samples = append(samples, s)
		fmt.Printf("%6.0f %9.0f %9.1f %9.1f %6d %10.1f %9.1f %9d %9d\n", s.at.Seconds(), s.rate,
			mib(s.heap), mib(s.rss), s.goroutines, s.cpuPD, mib(uint64(s.usage.Bytes)), s.usage.Deliveries, s.usage.Pending)
		prev = s
		if s.at >= *flagDuration {
			break
		}
	}
	tick.Stop()
	close(stop)
	producers.Wait()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	closeErr := d.Close(cctx)
	srv.Close()
	goroutines := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); goroutines > baseGoroutines && time.Now().Before(deadline); goroutines = runtime.NumGoroutine() {
		time.Sleep(50 * time.Millisecond)
	}
	u := store.Usage()
	fmt.Printf("refused dispatches: %d; dropped at the bound: %d events; requests: %d\n", refused.Load(), u.Dropped, requests.Load())

	ok := closeErr == nil
	if closeErr != nil {
		fmt.Printf("FAIL close: %v\n", closeErr)
	}
	at := func(t time.Duration) sample { // the first sample at t or later
		for _, s := range samples {
			if s.at >= t {
				return s
			}
		}
		return samples[len(samples)-1]
	}
	cpuOver := func(from, to time.Duration) float64 { // CPU per delivery over (from, to]
		a, b := at(from), at(to)
		if b.delivered == a.delivered {
			return 0
		}
		return float64(b.cpu-a.cpu) / float64(time.Microsecond) / float64(b.delivered-a.delivered)
	}
	end := samples[len(samples)-1]
	check := func(name string, good bool, format string, args ...any) {
		verdict := "ok  "
		if !good {
			verdict, ok = "FAIL", false
		}
		fmt.Printf("%s %s: %s\n", verdict, name, fmt.Sprintf(format, args...))
	}
	h60 := at(time.Minute)
	check("heap", float64(end.heap) <= 1.2*float64(h60.heap),
		"%.1f MiB at the end, %.1f MiB at %.0f s (%.2fx, target 1.2x)", mib(end.heap), mib(h60.heap), h60.at.Seconds(), float64(end.heap)/float64(h60.heap))
	second, last := [2]time.Duration{time.Minute, 2 * time.Minute}, [2]time.Duration{end.at - time.Minute, end.at}
	if end.at < 3*time.Minute {
		third := end.at / 3
		second, last = [2]time.Duration{third, 2 * third}, [2]time.Duration{2 * third, end.at}
	}
	c2, cl := cpuOver(second[0], second[1]), cpuOver(last[0], last[1])
	check("CPU per delivery", cl <= 1.1*c2,
		"%.1f µs over %.0f-%.0f s, %.1f µs over %.0f-%.0f s (%.2fx, target 1.1x)",
		cl, last[0].Seconds(), last[1].Seconds(), c2, second[0].Seconds(), second[1].Seconds(), cl/c2)
	check("goroutines", goroutines <= baseGoroutines, "%d after Close, %d before the run", goroutines, baseGoroutines)
	if !ok {
		os.Exit(1)
	}
	return nil
}

func take(at time.Duration, delivered int64, store *memstore.Store) sample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return sample{
		at: at, delivered: delivered, cpu: proccpu.Used(),
		heap: ms.HeapAlloc, rss: rss(), goroutines: runtime.NumGoroutine(),
		usage: store.Usage(),
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// rss returns the resident set of the process, 0 where /proc is not.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}
