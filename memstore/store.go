// Package memstore is the in-memory [webhook.Store], the dispatcher's
// embedded default. It suits a single process: nothing survives a restart,
// and only dispatchers sharing the same *Store coordinate through it.
//
// The store is built to keep up with a busy dispatcher:
//
//   - MatchSubscriptions looks subscriptions up through an index by event
//     type (exact types, "prefix.*" patterns and "*"), each list kept in ID
//     order, so its cost does not grow with the subscriptions that do not
//     match and the usual match needs no sort.
//   - The delivery queue has two levels: a heap of subscriptions ordered by
//     the due time of their earliest claimable delivery, each holding its
//     own heap of deliveries. Claim takes deliveries in due order in
//     O(log n) each, and skips a subscription that is excluded or at its
//     per-call cap without looking at its backlog, so one blocked endpoint
//     never holds up the others. Leases are tracked the same way, so expired
//     ones are found without a scan.
//   - An event is stored once however many deliveries it has (Claim hands
//     out the same *Event to all of them), and a pending delivery costs
//     about 200 bytes of bookkeeping besides its event. Deliveries are
//     found by ID with a binary search of their organization's ID-sorted
//     list of them (the dispatcher's IDs only grow, so enqueueing appends
//     to it), and by lease through a map of the leased ones only; a lease
//     names the organization, so a stale one still finds its delivery.
//   - Enqueue allocates the deliveries of a call in one block, and finds a
//     repeated subscription or ID at one comparison each when they come in
//     increasing order, as the dispatcher's do; Claim returns its
//     deliveries in one block too.
//   - Prune finds old events without pending deliveries through a queue by
//     Timestamp, without a scan.
//   - Stats reads counters that every change keeps up to date: counts by
//     state, attempts and failures by hour, and the latest attempt, per
//     subscription. Each subscription's queue of pending deliveries also
//     orders them by the time since which each has waited, in the FIFO
//     entries that the due order uses (a new delivery takes one entry for
//     both), so OldestPendingAt costs Enqueue no memory. Its cost grows
//     with the subscriptions summed up and the hours counted, never with
//     the deliveries stored.
//   - Wake wakes dispatchers as soon as work may be claimable.
//
// Listings page through lists sorted by ID, so they never walk another
// organization's records. ListDeliveries walks the narrowest index its
// filter names: the event's own deliveries; those of a subscription ID,
// all or in one state; those of the organization in one state; or all of
// the organization's. The first page of pending deliveries, or of one
// subscription's newest, costs the same with 100,000 deliveries held as
// with 2,500,000 (BenchmarkListFirstPage: under 25 µs). Every list
// also bounds the creation times (events: the Timestamps) of each chunk
// of 512 records, so a filter by time skips the chunks outside its range:
// IDs grow with time, so a range of times is mostly a run of chunks. The
// event type is checked record by record, and a listing lets go of the
// lock every 4,096 records (or chunks skipped) it looks at, so a sparse
// match may take long but never holds up the workers. The indexes cost
// Enqueue and Finish about half a microsecond per delivery.
//
// # Memory
//
// The store counts the memory its events, deliveries and attempt logs
// take (Usage), and keeps it under Config.MaxBytes (DefaultMaxBytes,
// 256 MiB, unless set): at the bound it drops finished history, oldest
// event first, and then refuses new events with a *FullError (wrapping
// webhook.ErrStoreFull) rather than drop a pending delivery. Measured
// against the heap (TestUsageTracksTheHeap), a pending delivery of an
// event of 1 KiB fanned out to 10 subscriptions holds about 305 bytes, its
// tenth of the event included, and one delivered with one attempt about
// 435 bytes; the count is within a few percent of the heap. A process
// needs about three times what the store holds: the dispatcher's own
// buffers come on top, and the garbage collector's default GOGC=100 lets
// the heap grow to twice what is live.
//
// Delivery times are kept as Unix nanoseconds (years 1678 to 2262) and
// returned in UTC; subscriptions and events are kept as given, zone
// included.
//
// All methods are safe for concurrent use.
package memstore

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/internal/cursor"
)

var _ webhook.Store = (*Store)(nil)

// Store is an in-memory webhook.Store. The zero value is not usable; call
// New.
type Store struct {
	mu sync.Mutex

	subs map[string]*subState
	// numbers finds a current subscription's ID by its Number; lastNumber
	// is the latest Number assigned.
	numbers    map[int64]string
	lastNumber int64
	orgs       map[string]*org
	// orgList holds the organizations by their seq; none is ever removed.
	orgList []*org

	// byLease finds a delivery by its lease, as Finish does, among those
	// that have one.
	byLease map[uint64]*dlv

	// due holds the Active subscriptions that have unleased pending
	// deliveries, ordered by the earliest NextAttemptAt among them;
	// leases holds the Active subscriptions that have leased deliveries,
	// ordered by the earliest LeasedUntil among them.
	due    pqueue[*subState, dueOps]
	leases pqueue[*subState, leaseOps]
	// throttled holds the subscriptions held back by their RateLimit,
	// ordered by when they may send again (see controls.go).
	throttled pqueue[*subState, throttleOps]

	// prunable holds the events that have no pending delivery, ordered by
	// Timestamp.
	prunable pqueue[*eventEntry, pruneOps]

	lastLease uint64 // the latest lease handed out
	claimSeq  uint64 // numbers Claim calls, for the per-subscription cap

	// picked and aside are Claim's scratch space, kept between calls, and
	// kept Enqueue's.
	picked []*dlv
	aside  []*subState
	kept   []*subState

	// cutHour is the hour (see hourOf) before which Prune's latest
	// cutoff lets hour buckets be dropped.
	cutHour int64

	// notify is closed and cleared when deliveries may have become
	// claimable; Wake makes a new one when there is none.
	notify chan struct{}

	// What Usage reports: held is in bytes (see usage.go), maxBytes is
	// Config.MaxBytes (-1 for none).
	held, maxBytes           int64
	nEvents, nDlvs, nPending int64
	dropped                  int64
}

// New returns an empty Store with the default Config.
func New() *Store { return NewWithConfig(nil) }

// NewWithConfig returns an empty Store configured by cfg; nil gives the
// defaults.
func NewWithConfig(cfg *Config) *Store {
	return &Store{
		subs:     make(map[string]*subState),
		orgs:     make(map[string]*org),
		byLease:  make(map[uint64]*dlv),
		cutHour:  math.MinInt64,
		maxBytes: maxBytesOf(cfg),
	}
}

// org gathers one organization's subscriptions, events and deliveries.
type org struct {
	seq  uint32      // its index in Store.orgList, named by its leases
	subs []*subState // the current ones, sorted by ID

	// The match index: subscriptions by exact event type, by the prefix
	// of a "prefix.*" pattern (with its trailing dot), and those with "*",
	// each list sorted by ID so that a match needs no sort.
	exact    map[string][]*subState
	prefix   map[string][]*subState
	wildcard []*subState

	events    map[string]*eventEntry
	eventList sortedList[*eventEntry] // by ID

	// dlvs holds the organization's deliveries by ID, for lookups and
	// listings; byState and bySub are the listing indexes (see
	// index.go).
	dlvs    sortedList[*dlv]
	byState [stateRemoved]sortedList[*dlv]
	bySub   map[string]*subIndex
}

func (s *Store) org(id string) *org {
	o := s.orgs[id]
	if o == nil {
		o = &org{
			seq:       uint32(len(s.orgList)),
			exact:     make(map[string][]*subState),
			prefix:    make(map[string][]*subState),
			events:    make(map[string]*eventEntry),
			eventList: newSpanList(eventID, eventTS),
			dlvs:      newSpanList(dlvID, dlvCreated),
			bySub:     make(map[string]*subIndex),
		}
		for i := range o.byState {
			o.byState[i] = newSpanList(dlvID, dlvCreated)
		}
		s.orgs[id] = o
		s.orgList = append(s.orgList, o)
	}
	return o
}

// subState is a subscription and its share of the delivery queue.
type subState struct {
	id  string
	org *org
	ix  *subIndex // the listing index of its ID, shared with the deliveries of a deleted one
	// cur is the subscription as stored. It is never modified, only
	// replaced, because Claim hands it out; nil once deleted.
	cur *webhook.Subscription

	pending pendingQueue            // unleased pending deliveries by NextAttemptAt, and all by waitingSince
	leased  pqueue[*dlv, leasedOps] // leased deliveries by LeasedUntil

	// The counters of Stats.
	stats subStats

	dueIdx   int // index in Store.due, -1 when absent
	leaseIdx int // index in Store.leases, -1 when absent

	// claimed counts the deliveries taken by the Claim call numbered
	// claimSeq.
	claimSeq uint64
	claimed  int

	// rate is the state of its RateLimit, order its pending deliveries
	// by ID when it is Ordered (see controls.go).
	rate  rateState
	order *pqueue[*dlv, idOps]
}

func (ss *subState) active() bool {
	return ss.cur != nil && ss.cur.State == webhook.StateActive
}

// Delivery states, as stored.
const (
	statePending uint8 = iota
	stateDelivered
	stateDead
	stateRemoved // deleted from the store
)

// Where a delivery is queued.
const (
	inNone        uint8 = iota // finished
	inPending                  // in its subscription's pending heap
	inPendingFIFO              // in its subscription's pending FIFO
	inLeased                   // in its subscription's leased heap
)

// dlv is a stored delivery. It is kept small (96 bytes): a million of them
// may be pending at once. Its event and subscription are pointers to
// records the store holds anyway, and its times are Unix nanoseconds.
// What only attempted or redelivered deliveries need is in hist, allocated
// at the first attempt or redelivery.
type dlv struct {
	id   string
	ev   *eventEntry
	sub  *subState
	hist *history // nil before the first attempt or redelivery

	next, created, updated, leasedUntil int64
	lease                               uint64 // 0 when none

	attempts int32
	idx      int32 // index in the heap or FIFO named by where
	state    uint8
	where    uint8
	// owhere and oidx place a pending delivery in its subscription's
	// pendingQueue for the waiting order (they fit in what would be
	// padding).
	owhere uint8
	oidx   int32
}

// history is the attempt log of a delivery, which attempt its Last
// fields come from, and its latest redelivery. The first attempt, usually
// the only one, is kept inline, so an attempted delivery costs one
// allocation of about 130 bytes.
type history struct {
	first attemptRec
	more  []attemptRec
	n     int32 // attempts logged: 0 (redelivered before any) or 1+len(more)
	last  int32 // index of the latest attempt of a valid outcome, -1 if none
	// redelivered is RedeliveredAt in Unix nanoseconds (zeroNanos if
	// never), atRedelivery AttemptsAtRedelivery.
	redelivered  int64
	atRedelivery int32
}

// attemptRec is an attempt as kept: its IDs are its delivery's, its time
// is in Unix nanoseconds.
type attemptRec struct {
	at, duration   int64
	number, status int32
	body, err      string
	outcome        webhook.DeliveryState
	manual         bool
}

func (h *history) len() int { return int(h.n) }

func (h *history) at(i int) *attemptRec {
	if i == 0 {
		return &h.first
	}
	return &h.more[i-1]
}

// addAttempt appends an attempt to the log of d, making the log if it is
// the first, counts it in the Stats of d's subscription, and returns its
// index.
func (s *Store) addAttempt(d *dlv, a *webhook.Attempt) int32 {
	r := attemptRec{
		at: nanos(a.At), duration: int64(a.Duration),
		number: int32(a.Number), status: int32(a.StatusCode),
		body: a.ResponseBody, err: a.Error, outcome: a.Outcome, manual: a.Manual,
	}
	if d.sub.cur != nil { // a deleted subscription's Stats are gone
		d.sub.stats.countAttempt(&r, hourOf(a.At), s.cutHour)
	}
	s.held += attemptBytes(&r)
	h := d.hist
	switch {
	case h == nil:
		s.held += historyCost
		d.hist = &history{first: r, n: 1, last: -1, redelivered: zeroNanos}
		return 0
	case h.n == 0:
		h.first, h.n = r, 1
		return 0
	}
	s.held += attemptCost
	h.more = append(h.more, r)
	h.n++
	return h.n - 1
}

// history returns the history of d, making it if there is none yet.
func (s *Store) history(d *dlv) *history {
	if d.hist == nil {
		s.held += historyCost
		d.hist = &history{last: -1, redelivered: zeroNanos}
	}
	return d.hist
}

// attempt returns the i-th attempt of d's log.
func (d *dlv) attempt(i int) webhook.Attempt {
	r := d.hist.at(i)
	return webhook.Attempt{
		DeliveryID: d.id, EventID: d.ev.ev.ID, SubscriptionID: d.sub.id,
		Number: int(r.number), Manual: r.manual, At: fromNanos(r.at), Duration: time.Duration(r.duration),
		StatusCode: int(r.status), ResponseBody: r.body, Error: r.err, Outcome: r.outcome,
	}
}

// waitingSince is the time since which a pending delivery has waited, in
// Unix nanoseconds: its latest redelivery, or its creation.
func (d *dlv) waitingSince() int64 {
	if d.hist != nil && d.hist.redelivered != zeroNanos {
		return d.hist.redelivered
	}
	return d.created
}

// eventEntry is a stored event. Claim hands out &ev, so ev is never
// modified.
type eventEntry struct {
	ev      webhook.Event
	dlvs    []*dlv // its deliveries, in no particular order
	ts      int64  // ev.Timestamp in Unix nanoseconds
	pending int32  // how many of dlvs are pending
	idx     int32  // index in Store.prunable, -1 when absent
}

type pendingOps struct{}

func (pendingOps) less(a, b *dlv) bool {
	return a.next < b.next || (a.next == b.next && a.id < b.id)
}
func (pendingOps) setIndex(d *dlv, i int) { d.idx = int32(i) }

type leasedOps struct{}

func (leasedOps) less(a, b *dlv) bool    { return a.leasedUntil < b.leasedUntil }
func (leasedOps) setIndex(d *dlv, i int) { d.idx = int32(i) }

type dueOps struct{}

func (dueOps) less(a, b *subState) bool {
	return pendingOps{}.less(a.pending.top(), b.pending.top())
}
func (dueOps) setIndex(ss *subState, i int) { ss.dueIdx = i }

type leaseOps struct{}

func (leaseOps) less(a, b *subState) bool {
	return a.leased.top().leasedUntil < b.leased.top().leasedUntil
}
func (leaseOps) setIndex(ss *subState, i int) { ss.leaseIdx = i }

type pruneOps struct{}

func (pruneOps) less(a, b *eventEntry) bool    { return a.ts < b.ts }
func (pruneOps) setIndex(e *eventEntry, i int) { e.idx = int32(i) }

// requeue puts the subscription in, moves it within, or takes it out of the
// due and leases heaps after its own heaps or its state changed.
func (s *Store) requeue(ss *subState) {
	active := ss.active()
	s.dropThrottle(ss, active)
	switch want := active && ss.pending.len() > 0 && !ss.atConcurrencyCap() && ss.rate.idx == 0; {
	case want && ss.dueIdx < 0:
		s.due.push(ss)
	case want:
		s.due.fix(ss.dueIdx)
	case ss.dueIdx >= 0:
		s.due.remove(ss.dueIdx)
	}
	switch want := active && ss.leased.len() > 0; {
	case want && ss.leaseIdx < 0:
		s.leases.push(ss)
	case want:
		s.leases.fix(ss.leaseIdx)
	case ss.leaseIdx >= 0:
		s.leases.remove(ss.leaseIdx)
	}
}

// unqueue takes the delivery out of whichever heap of its subscription
// holds it. The caller requeues the subscription.
func unqueue(d *dlv) {
	switch d.where {
	case inPending, inPendingFIFO:
		d.sub.pending.remove(d)
	case inLeased:
		d.sub.leased.remove(int(d.idx))
	}
	d.where = inNone
}

// addPending updates the event's count of pending deliveries and its place
// in the prune queue.
func (s *Store) addPending(e *eventEntry, n int) {
	was := e.pending
	e.pending += int32(n)
	s.nPending += int64(n)
	switch {
	case was == 0 && e.pending > 0 && e.idx >= 0:
		s.prunable.remove(int(e.idx))
	case was > 0 && e.pending == 0:
		s.prunable.push(e)
	}
}

// wake closes the notify channel, if any. Called with s.mu held.
func (s *Store) wake() {
	if s.notify != nil {
		close(s.notify)
		s.notify = nil
	}
}

// Wake returns a channel that is closed the next time deliveries may have
// become claimable: after an Enqueue that created deliveries, a Finish
// that left a delivery pending, a Redeliver, or a subscription turning
// Active.
func (s *Store) Wake() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.notify == nil {
		s.notify = make(chan struct{})
	}
	return s.notify
}

// zeroNanos stands for the zero time.Time.
const zeroNanos = math.MinInt64

// nanos returns t in Unix nanoseconds, which covers the years 1678 to 2262.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return zeroNanos
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos, in UTC.
func fromNanos(n int64) time.Time {
	if n == zeroNanos {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// A lease's text is leasePrefix, its number, leaseSep and the seq of its
// delivery's organization.
const (
	leasePrefix = "lease_"
	leaseSep    = "."
)

func formatLease(l uint64, seq uint32) string {
	if l == 0 {
		return ""
	}
	return leasePrefix + strconv.FormatUint(l, 10) + leaseSep + strconv.FormatUint(uint64(seq), 10)
}

// parseLease returns the number and the organization's seq of a lease's
// text, zeros if it is not one.
func parseLease(s string) (uint64, uint32) {
	rest, ok := strings.CutPrefix(s, leasePrefix)
	if !ok {
		return 0, 0
	}
	digits, seq, ok := strings.Cut(rest, leaseSep)
	if !ok {
		return 0, 0
	}
	l, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, 0
	}
	o, err := strconv.ParseUint(seq, 10, 32)
	if err != nil {
		return 0, 0
	}
	return l, uint32(o)
}

// pageLimit returns the number of items a page asks for.
func pageLimit(p webhook.Page) (int, error) {
	switch {
	case p.Limit == 0:
		return webhook.DefaultPageLimit, nil
	case p.Limit < 0 || p.Limit > webhook.MaxPageLimit:
		return 0, invalidArg("Page.Limit", "must be 0 to %d", webhook.MaxPageLimit)
	}
	return p.Limit, nil
}

// page is sortedList.page of items, sorted by ID.
func page[T any](items []T, id func(T) string, cursor string, limit int, desc bool, keep func(T) bool) ([]T, string) {
	return pageChunks([][]T{items}, id, cursor, limit, desc, keep)
}

// The kinds of cursors of the listings, for internal/cursor.
const (
	subscriptionsCursor = "subscriptions"
	eventsCursor        = "events"
	deliveriesCursor    = "deliveries"
)

// parseOrder reports whether a listing's order is descending.
func parseOrder(field string, o webhook.Order) (desc bool, err error) {
	switch o {
	case "", webhook.OldestFirst:
		return false, nil
	case webhook.NewestFirst:
		return true, nil
	}
	return false, invalidArg(field, "must be empty, %q or %q", webhook.OldestFirst, webhook.NewestFirst)
}

func orderName(desc bool) string {
	if desc {
		return "desc"
	}
	return "asc"
}

// decodeCursor returns the key a page's cursor carries, "" for the first
// page.
func decodeCursor(p webhook.Page, kind string, desc bool) (string, error) {
	k, err := cursor.Decode(p.Cursor, kind, orderName(desc))
	if err != nil {
		return "", invalidArg("Page.Cursor", "is not a cursor of this listing and order")
	}
	return k, nil
}

// encodeCursor returns the cursor of the page after the key, "" after
// the last page.
func encodeCursor(key, kind string, desc bool) string {
	if key == "" {
		return ""
	}
	return cursor.Encode(kind, orderName(desc), key)
}

// insertSorted inserts x into items, sorted by ID. IDs sort by creation
// time, so this is nearly always an append.
func insertSorted[T any](items []T, x T, id func(T) string) []T {
	k := id(x)
	n := len(items)
	if n == 0 || id(items[n-1]) < k {
		return append(items, x)
	}
	i, _ := slices.BinarySearchFunc(items, k, func(y T, k string) int { return strings.Compare(id(y), k) })
	return slices.Insert(items, i, x)
}

// find returns the organization's delivery with the ID, nil if there is
// none.
func (o *org) find(id string) *dlv {
	d, _ := o.dlvs.find(id)
	return d
}

// setLease gives d the lease l (0 for none), keeping byLease in step.
func (s *Store) setLease(d *dlv, l uint64) {
	if d.lease != 0 {
		delete(s.byLease, d.lease)
	}
	d.lease = l
	if l != 0 {
		s.byLease[l] = d
	}
}

func subID(ss *subState) string    { return ss.id }
func dlvID(d *dlv) string          { return d.id }
func dlvCreated(d *dlv) int64      { return d.created }
func eventTS(e *eventEntry) int64  { return e.ts }
func eventID(e *eventEntry) string { return e.ev.ID }
func keepAll[T any](T) bool        { return true }
func notFound(what, id string) error {
	return fmt.Errorf("memstore: %s %q: %w", what, id, webhook.ErrNotFound)
}

func invalidArg(field, format string, args ...any) error {
	return &webhook.ValidationError{Kind: webhook.ErrInvalidArgument, Field: field, Reason: fmt.Sprintf(format, args...)}
}
