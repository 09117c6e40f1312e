// Command bench measures relayhook against this machine's own ceiling, all
// scenarios in one run so that a shared, noisy machine affects them alike,
// and prints one table.
//
//	go run ./internal/bench            # 30 s quiet, up to 2 min on a busy machine
//	go run ./internal/bench -n 20000   # shorter, noisier
//	go run ./internal/bench -only e2e -cpuprofile cpu.out
//
// The ceiling and the end-to-end figure are measured in alternating
// rounds (-rounds, after a warm-up of the bare loop), and each is the
// median of its rounds, so that a burst of load from elsewhere on the
// machine does not land on one of them only. Per-round figures (CPU and
// minor page faults per request, Claim and Finish batch sizes) and the
// latency distributions go to standard error.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/internal/proccpu"
	"github.com/relayhook/webhook/memstore"
)

var (
	flagN       = flag.Int("n", 100_000, "requests per throughput run")
	flagWorkers = flag.Int("workers", 64, "concurrent requests (bare loop) and dispatcher workers")
	flagMem     = flag.Int("mem", 1_000_000, "pending deliveries held for the memory figure")
	flagRounds  = flag.Int("rounds", 3, "alternating rounds of the ceiling and the end-to-end run")
	flagOnly    = flag.String("only", "", "comma-separated scenarios to run: ceiling, e2e, fanout, sparse, latency, isolation, memory (default all)")
	flagCPU     = flag.String("cpuprofile", "", "write a CPU profile of the scenarios run to this file")
	flagMemProf = flag.String("memprofile", "", "write an allocation profile to this file at the end")
	flagRate    = flag.Float64("rate", 0, "dispatches per second of the latency run (default half the end-to-end figure)")
)

// want reports whether the scenario is to be run.
func want(name string) bool {
	return *flagOnly == "" || slices.Contains(strings.Split(*flagOnly, ","), name)
}

type row struct {
	scenario, figure, target, ratio string
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	if *flagCPU != "" {
		f, err := os.Create(*flagCPU)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
	}
	if *flagMemProf != "" {
		runtime.MemProfileRate = 4096
	}
	rows, err := run()
	if *flagCPU != "" {
		pprof.StopCPUProfile()
	}
	if *flagMemProf != "" {
		f, ferr := os.Create(*flagMemProf)
		if ferr != nil {
			log.Fatal(ferr)
		}
		if perr := pprof.Lookup("allocs").WriteTo(f, 0); perr != nil {
			log.Fatal(perr)
		}
		f.Close()
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("relayhook bench — %s, %d CPUs, GOMAXPROCS %d, %s\n\n", runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tfigure\tceiling or target\tratio / verdict")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.scenario, r.figure, r.target, r.ratio)
	}
	tw.Flush()
}

// body1K is a 1 KiB JSON payload.
var body1K = func() json.RawMessage {
	s := `{"id":12345,"name":"Ada Lovelace","notes":"` + strings.Repeat("x", 1024-40) + `"}`
	return json.RawMessage(s)
}()

// receiver counts requests and, for the latency run, the time from
// dispatch to receipt.
type receiver struct {
	srv     *httptest.Server
	count   atomic.Int64
	sent    sync.Map // webhook-id -> time.Time, for the latency run
	latMu   sync.Mutex
	lats    []time.Duration
	hang    bool
	hangDur time.Duration
}

func newReceiver() *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		if r.hang {
			select {
			case <-req.Context().Done():
			case <-time.After(r.hangDur):
			}
			return
		}
		if t, ok := r.sent.Load(req.Header.Get("Webhook-Id")); ok {
			d := time.Since(t.(time.Time))
			r.latMu.Lock()
			r.lats = append(r.lats, d)
			r.latMu.Unlock()
		}
		r.count.Add(1)
	}))
	return r
}

func (r *receiver) waitFor(n int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for r.count.Load() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d requests arrived in %v", r.count.Load(), n, timeout)
		}
		time.Sleep(200 * time.Microsecond)
	}
	return nil
}

func run() ([]row, error) {
	var rows []row
	rcv := newReceiver()
	defer rcv.srv.Close()
	n := *flagN

	// 1 and 2. The ceiling (a bare net/http loop, same body, same
	// receiver) and end to end on the in-memory store, in alternating
	// rounds after a warm-up of the loop's connections.
	var ceilings, e2es, ratios, allocss, ceilCPUs, e2eCPUs, cpuRatios []float64
	if want("ceiling") || want("e2e") {
		bareLoop(rcv, n/10, *flagWorkers)
		for round := range max(*flagRounds, 1) {
			var c, e float64
			var cc, ec time.Duration
			if want("ceiling") {
				c = bareLoop(rcv, n, *flagWorkers)
				cc = lastCPU
				ceilings = append(ceilings, c)
				ceilCPUs = append(ceilCPUs, float64(cc))
			}
			if want("e2e") {
				var allocs float64
				var err error
				e, allocs, err = endToEnd(rcv, n)
				if err != nil {
					return nil, err
				}
				ec = lastCPU
				e2es = append(e2es, e)
				allocss = append(allocss, allocs)
				e2eCPUs = append(e2eCPUs, float64(ec))
			}
			if c > 0 && e > 0 {
				ratios = append(ratios, e/c)
				cpuRatios = append(cpuRatios, float64(cc)/float64(ec))
			}
			fmt.Fprintf(os.Stderr, "round %d: ceiling %.0f req/s (CPU %v each), end to end %.0f deliveries/s (CPU %v, %.2f page faults each; %s)\n",
				round+1, c, cc.Round(100*time.Nanosecond), e, ec.Round(100*time.Nanosecond), lastFaults, lastBatching)
		}
	}
	ceiling, e2e := median(ceilings), median(e2es)
	if want("ceiling") {
		rows = append(rows, row{"bare net/http loop (ceiling)", fmt.Sprintf("%.0f req/s", ceiling), "—", "1.00"})
	}
	if want("e2e") {
		ratio := "—"
		if len(ratios) > 0 {
			ratio = verdict(median(ratios), 0.90, true)
		}
		rows = append(rows, row{"end to end, memstore, 1 KiB, 1 subscription", fmt.Sprintf("%.0f deliveries/s", e2e), "≥ 0.90 of ceiling", ratio})
		rows = append(rows, row{"  allocations per delivery (process-wide, incl. receiver)", fmt.Sprintf("%.0f allocs", median(allocss)), "reported", ""})
		if len(cpuRatios) > 0 {
			rows = append(rows, row{"  process CPU per request: ceiling, end to end",
				fmt.Sprintf("%.1fµs, %.1fµs", median(ceilCPUs)/1e3, median(e2eCPUs)/1e3), "reported", fmt.Sprintf("%.2f", median(cpuRatios))})
		}
	}

	// 3. Fan-out.
	if want("fanout") {
		fan10k, err := fanOut10k()
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{"fan-out: 1 event to 10,000 subscriptions", fmtDur(fan10k), "< 10ms", verdict(float64(fan10k)/float64(10*time.Millisecond), 1, false)})
	}
	if want("sparse") {
		sparse, err := sparseMatch()
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{"dispatch, 100,000 stored / 10 match", fmtDur(sparse), "< 20µs", verdict(float64(sparse)/float64(20*time.Microsecond), 1, false)})
	}

	// 4. Latency at half of the measured maximum.
	if want("latency") {
		if e2e == 0 {
			var err error
			if e2e, _, err = endToEnd(rcv, n); err != nil {
				return nil, err
			}
		}
		target := e2e / 2
		if *flagRate > 0 {
			target = *flagRate
		}
		bp50, bp99, _, err := bareLatency(rcv, target, *flagWorkers)
		if err != nil {
			return nil, err
		}
		p50, p99, rate, err := latency(rcv, target)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{"  bare net/http loop at the same rate: p50, p99", fmtDur(bp50) + ", " + fmtDur(bp99), "reference", ""})
		rows = append(rows, row{fmt.Sprintf("latency p50 at %.0f/s (half max)", rate), fmtDur(p50), "< 1ms", verdict(float64(p50)/float64(time.Millisecond), 1, false)})
		rows = append(rows, row{fmt.Sprintf("latency p99 at %.0f/s (half max)", rate), fmtDur(p99), "< 5ms", verdict(float64(p99)/float64(5*time.Millisecond), 1, false)})
	}

	// 5. Isolation.
	if want("isolation") {
		alone, beside, err := isolation(rcv, n/4)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{"isolation: healthy endpoint beside a hanging one", fmt.Sprintf("%.0f/s (alone %.0f/s)", beside, alone), "≥ 0.80 of alone", verdict(beside/alone, 0.80, true)})
	}

	// 6. Memory.
	if want("memory") {
		per, err := memory(*flagMem)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{fmt.Sprintf("memory per pending delivery (%d held)", *flagMem), fmt.Sprintf("%.0f bytes", per), "≤ 300 bytes", verdict(per/300, 1, false)})
	}
	return rows, nil
}

// lastCPU is the process's CPU time per request or delivery of the latest
// bareLoop or endToEnd run: on a machine shared with other work it varies
// less than the rates do.
var lastCPU time.Duration

// lastFaults is the minor page faults per delivery of the latest endToEnd
// run.
var lastFaults float64

// lastBatching describes the Claim and Finish batches of the latest
// end-to-end run.
var lastBatching string

// median returns the median of xs, 0 if there are none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

func verdict(ratio, bound float64, higherIsBetter bool) string {
	ok := ratio <= bound
	if higherIsBetter {
		ok = ratio >= bound
	}
	mark := "met"
	if !ok {
		mark = "MISSED"
	}
	if higherIsBetter {
		return fmt.Sprintf("%.2f (%s)", ratio, mark)
	}
	return mark
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// bareLoop POSTs n signed copies of the body with c goroutines over
// keep-alive connections and returns requests per second.
func bareLoop(rcv *receiver, n, c int) float64 {
	secret := webhook.NewSecret()
	signer, _ := webhook.NewSigner(secret)
	ev := &webhook.Event{ID: "evt_bench", Type: "contact.created", OrganizationID: "org", Timestamp: time.Now(), Data: body1K}
	body, _, _ := webhook.AppendBody(nil, webhook.Envelope, ev, &webhook.Subscription{})
	ts := time.Now()
	sig := signer.Sign(ev.ID, ts, body)
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: c, MaxIdleConnsPerHost: c}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu := proccpu.Used()
	defer func() { lastCPU = (proccpu.Used() - cpu) / time.Duration(n) }()
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				req, _ := http.NewRequest(http.MethodPost, rcv.srv.URL, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("webhook-id", ev.ID)
				req.Header.Set("webhook-timestamp", fmt.Sprint(ts.Unix()))
				req.Header.Set("webhook-signature", sig)
				resp, err := client.Do(req)
				if err != nil {
					log.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func newDispatcher(store webhook.Store, workers, perSub int) (*webhook.Dispatcher, error) {
	return webhook.NewDispatcher(store, &webhook.Config{
		Workers: workers, MaxPerSubscription: perSub,
		AllowPrivateNetworks: true, Logger: quietLogger(), Retention: -1,
		Timeout: 2 * time.Second,
	})
}

func subscribe(d *webhook.Dispatcher, url string, events ...string) (*webhook.Subscription, error) {
	s := &webhook.Subscription{OrganizationID: "org", URL: url, Events: events}
	return s, d.CreateSubscription(context.Background(), s)
}

// endToEnd dispatches n events to one subscription and returns deliveries
// per second (first Dispatch to last receipt) and allocations per delivery.
func endToEnd(rcv *receiver, n int) (float64, float64, error) {
	ctx := context.Background()
	store := newCountingStore()
	defer func() { lastBatching = store.String() }()
	d, err := newDispatcher(store, *flagWorkers, *flagWorkers)
	if err != nil {
		return 0, 0, err
	}
	if _, err := subscribe(d, rcv.srv.URL, "contact.*"); err != nil {
		return 0, 0, err
	}
	if err := d.Start(ctx); err != nil {
		return 0, 0, err
	}
	defer d.Close(ctx)
	base := rcv.count.Load()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu, faults := proccpu.Used(), minorFaults()
	defer func() { lastFaults = float64(minorFaults()-faults) / float64(n) }()
	start := time.Now()
	for range n {
		if _, err := d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org", Data: body1K}); err != nil {
			return 0, 0, err
		}
	}
	if err := rcv.waitFor(base+int64(n), time.Minute); err != nil {
		return 0, 0, err
	}
	el := time.Since(start)
	lastCPU = (proccpu.Used() - cpu) / time.Duration(n)
	runtime.ReadMemStats(&ms1)
	return float64(n) / el.Seconds(), float64(ms1.Mallocs-ms0.Mallocs) / float64(n), nil
}

// latency dispatches at rate per second for a few seconds and returns the
// p50 and p99 of dispatch-to-receipt.
func latency(rcv *receiver, rate float64) (p50, p99 time.Duration, achieved float64, err error) {
	ctx := context.Background()
	d, err := newDispatcher(memstore.New(), *flagWorkers, *flagWorkers)
	if err != nil {
		return 0, 0, 0, err
	}
	if _, err := subscribe(d, rcv.srv.URL, "contact.*"); err != nil {
		return 0, 0, 0, err
	}
	if err := d.Start(ctx); err != nil {
		return 0, 0, 0, err
	}
	defer d.Close(ctx)
	return paced(rcv, rate, func(id string) error {
		_, err := d.Dispatch(ctx, webhook.Event{ID: id, Type: "contact.created", OrganizationID: "org", Data: body1K})
		return err
	})
}

// bareLatency is latency's reference: the same paced requests handed to
// a pool of goroutines that POST them with a bare net/http client, no
// store and no queue. It is this machine's floor for the latency figures.
func bareLatency(rcv *receiver, rate float64, c int) (p50, p99 time.Duration, achieved float64, err error) {
	secret := webhook.NewSecret()
	signer, _ := webhook.NewSigner(secret)
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: c, MaxIdleConnsPerHost: c}}
	defer client.CloseIdleConnections()
	ids := make(chan string, 1024)
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				ts := time.Now()
				ev := &webhook.Event{ID: id, Type: "contact.created", OrganizationID: "org", Timestamp: ts, Data: body1K}
				body, _, _ := webhook.AppendBody(nil, webhook.Envelope, ev, &webhook.Subscription{})
				req, _ := http.NewRequest(http.MethodPost, rcv.srv.URL, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("webhook-id", id)
				req.Header.Set("webhook-timestamp", fmt.Sprint(ts.Unix()))
				req.Header.Set("webhook-signature", signer.Sign(id, ts, body))
				resp, err := client.Do(req)
				if err != nil {
					log.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	defer func() {
		close(ids)
		wg.Wait()
	}()
	return paced(rcv, rate, func(id string) error {
		ids <- id
		return nil
	})
}

// paced calls send with a new event ID at rate per second for three
// seconds, and returns the p50 and p99 of the times from each call to the
// receipt of its request.
func paced(rcv *receiver, rate float64, send func(id string) error) (p50, p99 time.Duration, achieved float64, err error) {
	rcv.latMu.Lock()
	rcv.lats = rcv.lats[:0]
	rcv.latMu.Unlock()
	total := int(rate * 3) // three seconds
	base := rcv.count.Load()
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := range total {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		id := webhook.NewEventID(time.Now())
		rcv.sent.Store(id, time.Now())
		if err := send(id); err != nil {
			return 0, 0, 0, err
		}
	}
	achieved = float64(total) / time.Since(start).Seconds()
	if err := rcv.waitFor(base+int64(total), time.Minute); err != nil {
		return 0, 0, 0, err
	}
	rcv.latMu.Lock()
	lats := slices.Clone(rcv.lats)
	rcv.latMu.Unlock()
	rcv.sent.Clear()
	slices.Sort(lats)
	q := func(f float64) time.Duration { return lats[min(int(f*float64(len(lats))), len(lats)-1)] }
	fmt.Fprintf(os.Stderr, "latency at %.0f/s: p50 %v p90 %v p99 %v p99.9 %v max %v\n", achieved, q(0.5), q(0.9), q(0.99), q(0.999), lats[len(lats)-1])
	return q(0.5), q(0.99), achieved, nil
}

func fanOut10k() (time.Duration, error) {
	ctx := context.Background()
	d, err := newDispatcher(memstore.New(), 1, 1)
	if err != nil {
		return 0, err
	}
	for range 10_000 {
		if _, err := subscribe(d, "https://example.com/hook", "*"); err != nil {
			return 0, err
		}
	}
	var times []time.Duration
	cpu, faults := proccpu.Used(), minorFaults()
	defer func() {
		fmt.Fprintf(os.Stderr, "fan-out: %v of CPU and %d minor page faults per Dispatch\n",
			((proccpu.Used() - cpu) / 7).Round(10*time.Microsecond), (minorFaults()-faults)/7)
	}()
	for range 7 {
		start := time.Now()
		res, err := d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org", Data: body1K})
		if err != nil {
			return 0, err
		}
		times = append(times, time.Since(start))
		if res.Enqueued != 10_000 {
			return 0, fmt.Errorf("fan-out enqueued %d", res.Enqueued)
		}
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

func sparseMatch() (time.Duration, error) {
	ctx := context.Background()
	d, err := newDispatcher(memstore.New(), 1, 1)
	if err != nil {
		return 0, err
	}
	for i := range 100_000 {
		if _, err := subscribe(d, "https://example.com/hook", fmt.Sprintf("other.type%d", i)); err != nil {
			return 0, err
		}
	}
	for range 10 {
		if _, err := subscribe(d, "https://example.com/hook", "contact.created"); err != nil {
			return 0, err
		}
	}
	const rounds = 20_000
	data := json.RawMessage(`{"id":1}`)
	start := time.Now()
	for range rounds {
		res, err := d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org", Data: data})
		if err != nil {
			return 0, err
		}
		if res.Enqueued != 10 {
			return 0, fmt.Errorf("sparse match enqueued %d", res.Enqueued)
		}
	}
	return time.Since(start) / rounds, nil
}

// isolation measures a healthy endpoint's throughput alone, then beside an
// endpoint that hangs until the attempt timeout with 100 deliveries queued.
func isolation(healthy *receiver, n int) (alone, beside float64, err error) {
	ctx := context.Background()
	measure := func(withHang bool) (float64, error) {
		d, err := newDispatcher(memstore.New(), *flagWorkers, 16)
		if err != nil {
			return 0, err
		}
		if withHang {
			hang := newReceiver()
			hang.hang, hang.hangDur = true, 10*time.Second
			defer hang.srv.Close()
			if _, err := subscribe(d, hang.srv.URL, "slow.*"); err != nil {
				return 0, err
			}
			for range 100 {
				if _, err := d.Dispatch(ctx, webhook.Event{Type: "slow.thing", OrganizationID: "org", Data: body1K}); err != nil {
					return 0, err
				}
			}
		}
		if _, err := subscribe(d, healthy.srv.URL, "contact.*"); err != nil {
			return 0, err
		}
		if err := d.Start(ctx); err != nil {
			return 0, err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			_ = d.Close(cctx)
		}()
		base := healthy.count.Load()
		start := time.Now()
		for range n {
			if _, err := d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org", Data: body1K}); err != nil {
				return 0, err
			}
		}
		if err := healthy.waitFor(base+int64(n), time.Minute); err != nil {
			return 0, err
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	if alone, err = measure(false); err != nil {
		return 0, 0, err
	}
	if beside, err = measure(true); err != nil {
		return 0, 0, err
	}
	return alone, beside, nil
}

// memory holds n pending deliveries (n/10 events of 1 KiB, 10 matching
// subscriptions each) and returns the heap bytes per delivery beyond the
// event payloads.
func memory(n int) (float64, error) {
	ctx := context.Background()
	store := memstore.NewWithConfig(&memstore.Config{MaxBytes: -1}) // the figure is of what is held, unbounded
	d, err := newDispatcher(store, 1, 1)
	if err != nil {
		return 0, err
	}
	for range 10 {
		if _, err := subscribe(d, "https://example.com/hook", "*"); err != nil {
			return 0, err
		}
	}
	events := n / 10
	before := heap()
	for range events {
		if _, err := d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org", Data: body1K}); err != nil {
			return 0, err
		}
	}
	after := heap()
	runtime.KeepAlive(store)
	payload := float64(events) * float64(len(body1K))
	return (float64(after-before) - payload) / float64(events*10), nil
}

func heap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
