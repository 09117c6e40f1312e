package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relayhook/webhook/internal/ids"
	"github.com/relayhook/webhook/internal/jsonvalid"
)

// DispatchResult tells what Dispatch did.
type DispatchResult struct {
	// EventID is the event's ID (generated if it had none).
	EventID string
	// Matched is how many Active subscriptions matched the event: its type
	// and their Filter.
	Matched int
	// Enqueued is how many deliveries were created; fewer than Matched
	// when the event was dispatched before (idempotent dispatch).
	Enqueued int
}

// Dispatcher is the host's entry point: it stores subscriptions, fans
// events out to them, and (once started) delivers, retries and logs. All
// its methods are safe for concurrent use.
//
// It is a front over the parts Start starts, each with its own file: the
// claimer (claim loop, per-subscription cap, wake-ups), the attempter
// (workers that encode, sign, send and classify), the finisher (batched
// Store.Finish writes) and the pruner.
type Dispatcher struct {
	store   Store
	cfg     Config // with defaults filled in
	clock   Clock
	log     *slog.Logger
	formats map[string]Format
	senders map[string]Sender

	mu      sync.Mutex
	started bool
	closed  bool
	done    chan struct{} // closed when Close finished

	closing atomic.Bool
	stop    chan struct{}      // closed to stop claiming and pruning
	runCtx  context.Context    // parent of attempts; cancelled when Close's ctx ends
	cancel  context.CancelFunc // cancels runCtx
	// finishCtx bounds the finisher's writes: cancelled shortly after
	// Close's ctx ends, so that a hung Store cannot hold Close.
	finishCtx    context.Context
	cancelFinish context.CancelFunc

	// The parts, made by Start.
	claimer   *claimer
	attempter *attempter
	finisher  *finisher
	pruner    *pruner // nil without a Retention

	catalog []EventType // Config.EventTypes, sorted by name
	filters filterCache // compiled Subscription.Filters

	ownClient *http.Client // the default client, whose idle connections Close closes
	addrGuard *AddressGuard

	writeMu sync.Mutex // serialises UpdateSubscription and RotateSecret
}

// NewDispatcher returns a Dispatcher over the store. It does not deliver
// until Start is called; Dispatch and the subscription methods work
// before that.
func NewDispatcher(store Store, cfg *Config) (*Dispatcher, error) {
	if store == nil {
		return nil, invalid(ErrInvalidConfig, "store", "is nil")
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	catalog, err := newCatalog(c.EventTypes, c.Limits.withDefaults())
	if err != nil {
		return nil, err
	}
	c.EventTypes = nil
	c = c.withDefaults()
	guard := &AddressGuard{AllowPrivateNetworks: c.AllowPrivateNetworks, AllowedNetworks: c.AllowedNetworks}
	client, owned := guardedClient(c.HTTPClient, guard, c.transport())
	var ownClient *http.Client
	if owned {
		ownClient = client
	} else if _, ok := c.HTTPClient.Transport.(*http.Transport); !ok {
		c.Logger.Warn("webhook: Config.HTTPClient's transport is not an *http.Transport, so the address guard cannot check host names at dial time; use Config.WrapTransport to wrap the dispatcher's transport instead",
			"transport", fmt.Sprintf("%T", c.HTTPClient.Transport))
	}
	wrapTransport(client, c.WrapTransport)
	d := &Dispatcher{
		store:     store,
		cfg:       c,
		clock:     c.Clock,
		log:       c.Logger,
		formats:   builtinFormats(),
		senders:   map[string]Sender{},
		done:      make(chan struct{}),
		stop:      make(chan struct{}),
		ownClient: ownClient,
		addrGuard: guard,
		catalog:   catalog,
	}
	d.senders[TypeWebhook] = &httpSender{
		client: client, maxRead: c.MaxResponseBodyRead, maxKeep: c.MaxResponseBodyKept,
		guard: guard, httpsOnly: c.HTTPSOnly,
	}
	for name, f := range c.Formats {
		d.formats[name] = f
	}
	for name, s := range c.Senders {
		d.senders[name] = s
	}
	d.runCtx, d.cancel = context.WithCancel(context.Background())
	d.finishCtx, d.cancelFinish = context.WithCancel(context.Background())
	return d, nil
}

// Store returns the dispatcher's Store: for the engine's own wiring (such
// as pgstore's outbox). Hosts read through the Dispatcher's org-scoped
// methods (GetDelivery, ListDeliveries, GetEvent, ListEvents, Stats)
// instead: the Store also exposes Claim and Finish.
func (d *Dispatcher) Store() Store { return d.store }

// Start starts delivering: a claimer, Config.Workers workers, a finisher
// that writes outcomes in batches, and (with a Retention) a pruner. ctx is
// used only while starting; call Close to stop. A second Start returns
// ErrAlreadyStarted; Start after Close returns ErrDispatcherClosed.
func (d *Dispatcher) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrDispatcherClosed
	}
	if d.started {
		return ErrAlreadyStarted
	}
	d.started = true
	outcomes := make(chan leasedOutcome, d.cfg.Workers*2)
	d.claimer = newClaimer(d.runCtx, d.store, &d.cfg, d.stop, outcomes)
	d.attempter = &attempter{
		store: d.store, cfg: &d.cfg, clock: d.clock, log: d.log,
		formats: d.formats, senders: d.senders,
		runCtx: d.runCtx, closing: &d.closing,
		claimer: d.claimer, outcomes: outcomes,
	}
	d.finisher = &finisher{
		store: d.store, clock: d.clock, log: d.log,
		finishCtx: d.finishCtx, outcomes: outcomes, claimer: d.claimer,
	}
	d.claimer.start()
	d.attempter.start()
	d.finisher.start()
	if d.cfg.Retention > 0 {
		d.pruner = &pruner{store: d.store, cfg: &d.cfg, clock: d.clock, log: d.log, runCtx: d.runCtx, stop: d.stop}
		d.pruner.start()
	}
	return nil
}

// Close stops claiming, lets the attempts in flight finish until ctx ends
// (then cancels them), releases the leases of the deliveries it claimed
// but did not finish, so another process takes them over at once, and
// returns when every goroutine it started has exited: ctx.Err() if ctx
// ended first, nil otherwise. Close returns soon after ctx ends (within
// half a second) whatever the Store does: outcomes it could not write by
// then are not lost, their deliveries are tried again once their leases
// expire (an attempt may repeat). An attempt cut short after its request
// was sent is logged, as the endpoint saw it. Pass a fresh context (not
// one already cancelled by a shutdown signal) to let attempts finish. Close is idempotent and safe before Start;
// after it, Dispatch returns ErrDispatcherClosed.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		<-d.done
		return nil
	}
	d.closed = true
	started := d.started
	d.mu.Unlock()
	defer close(d.done)
	d.closing.Store(true)
	if !started {
		d.cancel()
		d.cancelFinish()
		return nil
	}
	close(d.stop)
	var err error
	// Past ctx, attempts in flight are aborted, and the finisher has a
	// short grace to write their releases before its writes are cut off
	// too: Close returns soon after ctx ends, whatever the Store does.
	var graceMu sync.Mutex
	var grace *time.Timer
	stopAfter := context.AfterFunc(ctx, func() {
		d.cancel()
		graceMu.Lock()
		grace = time.AfterFunc(closeGrace, d.cancelFinish)
		graceMu.Unlock()
	})
	defer func() {
		stopAfter()
		graceMu.Lock()
		if grace != nil {
			grace.Stop()
		}
		graceMu.Unlock()
	}()
	// The claimer closes jobs as it stops; the workers then drain them.
	// Once neither can queue an outcome, the finisher writes the rest.
	d.claimer.wait()
	d.attempter.wait()
	if d.pruner != nil {
		d.pruner.wait()
	}
	d.finisher.stop()
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	d.cancel()
	d.cancelFinish()
	if d.ownClient != nil {
		d.ownClient.CloseIdleConnections()
	}
	return err
}

// closeGrace is how long after Close's context ends the finisher may still
// write outcomes (the releases of aborted attempts).
const closeGrace = 500 * time.Millisecond

func (d *Dispatcher) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// Dispatch fans an event out: it validates it, fills in its ID and
// Timestamp if empty, stores it with one Pending delivery per matching
// Active subscription of its organization, and returns once all are in the
// Store. Dispatching an event whose OrganizationID and ID were dispatched
// before creates no second delivery to any subscription. The event is
// stored even when nothing matches, so it can be replayed to a
// subscription later (see Replay).
func (d *Dispatcher) Dispatch(ctx context.Context, ev Event) (DispatchResult, error) {
	return d.DispatchWith(ctx, ev, d.store.Enqueue)
}

// EnqueueFunc stores an event and its deliveries as Store.Enqueue does,
// copying what it keeps: the dispatcher reuses the deliveries' memory once
// it returns.
type EnqueueFunc func(ctx context.Context, ev *Event, deliveries []*Delivery) (int, error)

// DispatchWith is Dispatch with the final write done by enqueue instead of
// the Store's Enqueue: pgstore uses it to enqueue inside the host's own
// transaction (the outbox pattern). Matching still reads the Store.
func (d *Dispatcher) DispatchWith(ctx context.Context, ev Event, enqueue EnqueueFunc) (DispatchResult, error) {
	if d.isClosed() {
		return DispatchResult{}, ErrDispatcherClosed
	}
	now := d.clock.Now()
	if err := d.prepareEvent(&ev, now); err != nil {
		return DispatchResult{}, err
	}
	d.captureTrace(ctx, &ev)
	subIDs, err := d.match(ctx, &ev)
	if err != nil {
		return DispatchResult{}, fmt.Errorf("webhook: matching subscriptions: %w", err)
	}
	// The deliveries are made in a recycled block (enqueue copies what it
	// keeps), their IDs with one read of randomness for the whole fan-out.
	f := getFanOut(len(subIDs))
	defer putFanOut(f)
	ids.Fill(f.ids, "dlv_", now)
	for i, subID := range subIDs {
		f.block[i] = Delivery{
			ID:             f.ids[i],
			EventID:        ev.ID,
			OrganizationID: ev.OrganizationID,
			SubscriptionID: subID,
			State:          DeliveryPending,
			NextAttemptAt:  now,
			CreatedAt:      now,
			UpdatedAt:      now,
		}
		f.ptrs[i] = &f.block[i]
	}
	n, err := enqueue(ctx, &ev, f.ptrs)
	if err != nil {
		return DispatchResult{}, fmt.Errorf("webhook: enqueueing event %s: %w", ev.ID, err)
	}
	res := DispatchResult{EventID: ev.ID, Matched: len(subIDs), Enqueued: n}
	d.dispatched(ctx, &ev, res)
	return res, nil
}

// fanOut is the scratch space of one DispatchWith: its deliveries, and
// pointers to them and their IDs.
type fanOut struct {
	block []Delivery
	ptrs  []*Delivery
	ids   []string
}

var fanOutPool sync.Pool

// getFanOut returns a fanOut for n deliveries.
func getFanOut(n int) *fanOut {
	f, _ := fanOutPool.Get().(*fanOut)
	if f == nil || cap(f.block) < n {
		return &fanOut{block: make([]Delivery, n), ptrs: make([]*Delivery, n), ids: make([]string, n)}
	}
	f.block, f.ptrs, f.ids = f.block[:n], f.ptrs[:n], f.ids[:n]
	return f
}

// putFanOut clears f, so that it holds on to nothing, and recycles it.
func putFanOut(f *fanOut) {
	clear(f.block)
	clear(f.ptrs)
	clear(f.ids)
	fanOutPool.Put(f)
}

func (d *Dispatcher) prepareEvent(ev *Event, now time.Time) error {
	bad := func(field, format string, args ...any) error {
		return invalid(ErrInvalidEvent, field, format, args...)
	}
	lim := &d.cfg.Limits
	if !validEventType(ev.Type, lim.MaxEventTypeLength) {
		return bad("type", "%q is not dot-separated segments of letters, digits, '_' and '-', at most %d bytes", truncate(ev.Type, 64), lim.MaxEventTypeLength)
	}
	if ev.OrganizationID == "" {
		return bad("organizationId", "is required")
	}
	if len(ev.OrganizationID) > lim.MaxNameLength || !printable(ev.OrganizationID) {
		return bad("organizationId", "must be at most %d printable bytes", lim.MaxNameLength)
	}
	if len(ev.ID) > lim.MaxNameLength || !printable(ev.ID) {
		return bad("id", "must be at most %d printable bytes", lim.MaxNameLength)
	}
	if len(ev.Data) > d.cfg.MaxDataBytes {
		return bad("data", "is %d bytes, more than %d", len(ev.Data), d.cfg.MaxDataBytes)
	}
	if len(ev.Data) > 0 {
		switch jsonvalid.Check(ev.Data, lim.MaxDataDepth) { // json.Valid's checks, faster, and more
		case jsonvalid.Syntax:
			return bad("data", "is not valid JSON")
		case jsonvalid.TooDeep:
			return bad("data", "nests arrays and objects more than %d deep", lim.MaxDataDepth)
		case jsonvalid.BadUTF8:
			return bad("data", "has a string that is not valid UTF-8")
		}
	}
	if ev.ID == "" {
		ev.ID = ids.New("evt_", now)
	}
	if ev.Timestamp.IsZero() {
		ev.Timestamp = now
	}
	ev.Timestamp = ev.Timestamp.Round(0).Truncate(time.Microsecond)
	return nil
}

// CreateSubscription validates s, fills in its defaults (ID, Secret,
// State, ContentType, Format, Type, CreatedAt, UpdatedAt) and stores it. An
// invalid s gets a *ValidationError and is left unchanged.
func (d *Dispatcher) CreateSubscription(ctx context.Context, s *Subscription) error {
	if err := d.validateSubscription(s); err != nil {
		return err
	}
	if d.isClosed() {
		return ErrDispatcherClosed
	}
	now := d.clock.Now().Round(0).Truncate(time.Microsecond)
	if s.ID == "" {
		s.ID = ids.New("sub_", now)
	}
	if s.Secret == "" {
		s.Secret = NewSecret()
	}
	s.State = orDefault(s.State, StateActive)
	s.ContentType = orDefault(s.ContentType, ContentTypeJSON)
	s.Format = orDefault(s.Format, FormatEnvelope)
	s.Type = orDefault(s.Type, TypeWebhook)
	s.CreatedAt, s.UpdatedAt = now, now
	s.PreviousSecrets = unexpiredSecrets(s.PreviousSecrets, now)
	if err := normalizeControls(s); err != nil {
		return err
	}
	s.ConsecutiveFailures = 0
	if s.UpdatedBy == "" {
		s.UpdatedBy = s.CreatedBy
	}
	return d.store.CreateSubscription(ctx, s)
}

// UpdateSubscription validates s and replaces the stored subscription with
// its ID. CreatedAt and CreatedBy are kept from the store, UpdatedAt is set
// now, an empty Secret keeps the stored one, and expired PreviousSecrets
// are dropped. Setting State to Active re-activates a subscription (as
// SetSubscriptionState does). To replace a secret while the old one keeps
// signing for a while, use RotateSecret.
func (d *Dispatcher) UpdateSubscription(ctx context.Context, s *Subscription) error {
	if s == nil {
		return invalid(ErrInvalidSubscription, "Subscription", "is nil")
	}
	if s.ID == "" {
		return invalid(ErrInvalidSubscription, "ID", "is required to update")
	}
	if err := d.validateSubscription(s); err != nil {
		return err
	}
	if d.isClosed() {
		return ErrDispatcherClosed
	}
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	old, err := d.store.GetSubscription(ctx, s.OrganizationID, s.ID)
	if err != nil {
		return err
	}
	return d.replaceSubscription(ctx, old, s)
}

// replaceSubscription stores s, validated, over old by UpdateSubscription's
// rules, and sets *s to what it stored. Called with d.writeMu held.
func (d *Dispatcher) replaceSubscription(ctx context.Context, old, s *Subscription) error {
	u := *s
	u.Secret = orDefault(u.Secret, old.Secret)
	u.State = orDefault(u.State, old.State)
	u.ContentType = orDefault(u.ContentType, ContentTypeJSON)
	u.Format = orDefault(u.Format, FormatEnvelope)
	u.Type = orDefault(u.Type, TypeWebhook)
	u.CreatedAt, u.CreatedBy = old.CreatedAt, old.CreatedBy
	u.UpdatedAt = d.clock.Now().Round(0).Truncate(time.Microsecond)
	u.PreviousSecrets = unexpiredSecrets(u.PreviousSecrets, u.UpdatedAt)
	u.ConsecutiveFailures, u.Number = old.ConsecutiveFailures, old.Number
	if err := normalizeControls(&u); err != nil {
		return err
	}
	if err := d.store.UpdateSubscription(ctx, &u); err != nil {
		return err
	}
	if u.State == StateActive && old.State != StateActive {
		if err := d.store.SetSubscriptionState(ctx, u.OrganizationID, u.ID, StateActive, u.UpdatedAt); err != nil {
			return err
		}
		u.ConsecutiveFailures = 0
	}
	*s = u
	return nil
}

func (d *Dispatcher) validateSubscription(s *Subscription) error {
	if s == nil {
		return invalid(ErrInvalidSubscription, "Subscription", "is nil")
	}
	if err := s.validate(d.cfg.Limits); err != nil {
		return err
	}
	if err := d.checkEvents(s); err != nil {
		return err
	}
	if s.isHTTP() {
		if err := d.checkTarget(s.URL); err != nil {
			return err
		}
	}
	if s.Format != "" && d.formats[s.Format] == nil {
		return &ValidationError{Kind: ErrInvalidSubscription, Field: "format", Err: ErrUnknownFormat,
			Reason: fmt.Sprintf("%q is not a known format", truncate(s.Format, 64)),
			Hint:   "formats are registered in Config.Formats"}
	}
	if s.Type != "" && d.senders[s.Type] == nil {
		return &ValidationError{Kind: ErrInvalidSubscription, Field: "type", Err: ErrUnknownType,
			Reason: fmt.Sprintf("%q is not a known type", truncate(s.Type, 64)),
			Hint:   "types other than webhook are registered in Config.Senders"}
	}
	return nil
}

// checkTarget applies the address policy to a subscription URL that
// passed validateURL: HTTPSOnly, and the guard on a literal IP or a
// localhost name. Host names are checked again at dial time. A refusal is
// a *ValidationError whose cause is an *AddressError, so errors.Is(err,
// ErrAddressNotAllowed) holds.
func (d *Dispatcher) checkTarget(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return invalid(ErrInvalidSubscription, "url", "does not parse")
	}
	if d.cfg.HTTPSOnly && u.Scheme != "https" {
		return &ValidationError{Kind: ErrInvalidSubscription, Field: "url",
			Reason: "scheme must be https",
			Hint:   "Config.HTTPSOnly",
			Err:    &AddressError{Host: u.Hostname(), Reason: "only https is allowed"}}
	}
	if err := d.addrGuard.checkHost(u.Hostname()); err != nil {
		ae := &AddressError{Host: u.Hostname(), Reason: "not allowed"}
		errors.As(err, &ae)
		return &ValidationError{Kind: ErrInvalidSubscription, Field: "url",
			Reason: fmt.Sprintf("%s is not allowed: %s", truncate(u.Hostname(), 64), ae.Reason),
			Hint:   "see Config.AllowPrivateNetworks and Config.AllowedNetworks",
			Err:    ae}
	}
	return nil
}

// GetSubscription returns the organization's subscription with the ID, or
// ErrNotFound (also for another organization's).
func (d *Dispatcher) GetSubscription(ctx context.Context, orgID, id string) (*Subscription, error) {
	return d.store.GetSubscription(ctx, orgID, id)
}

// DeleteSubscription deletes the organization's subscription and its
// pending deliveries.
func (d *Dispatcher) DeleteSubscription(ctx context.Context, orgID, id string) error {
	if d.isClosed() {
		return ErrDispatcherClosed
	}
	return d.store.DeleteSubscription(ctx, orgID, id)
}

// ListSubscriptions returns a page of an organization's subscriptions and
// the cursor of the next page ("" after the last).
func (d *Dispatcher) ListSubscriptions(ctx context.Context, orgID string, page Page) ([]*Subscription, string, error) {
	if err := checkPage(page); err != nil {
		return nil, "", err
	}
	return d.store.ListSubscriptions(ctx, orgID, page)
}

func checkPage(p Page) error {
	if p.Limit < 0 || p.Limit > MaxPageLimit {
		return invalid(ErrInvalidArgument, "limit", "must be 0 to %d", MaxPageLimit)
	}
	return nil
}

func checkOrder(o Order) error {
	switch o {
	case "", OldestFirst, NewestFirst:
		return nil
	}
	return invalid(ErrInvalidArgument, "order", "must be %q or %q", OldestFirst, NewestFirst)
}

func checkRange(from, to time.Time) error {
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return invalid(ErrInvalidArgument, "to", "must be after from")
	}
	return nil
}

// SetSubscriptionState stops (StateStopped) or re-activates (StateActive)
// the organization's subscription. Re-activation resets its failure count,
// and its waiting deliveries resume; see Replay for the events it missed
// meanwhile.
func (d *Dispatcher) SetSubscriptionState(ctx context.Context, orgID, id string, state State) error {
	switch state {
	case StateActive, StateStopped, StateTooManyErrors:
	default:
		return invalid(ErrInvalidArgument, "state", "must be %q, %q or %q", StateActive, StateStopped, StateTooManyErrors)
	}
	if d.isClosed() {
		return ErrDispatcherClosed
	}
	return d.store.SetSubscriptionState(ctx, orgID, id, state, d.clock.Now())
}

// GetDelivery returns the organization's delivery with the ID and its
// attempts, oldest first, or ErrNotFound.
func (d *Dispatcher) GetDelivery(ctx context.Context, orgID, id string) (*Delivery, []*Attempt, error) {
	dl, err := d.store.GetDelivery(ctx, orgID, id)
	if err != nil {
		return nil, nil, err
	}
	attempts, err := d.store.ListAttempts(ctx, orgID, id)
	if err != nil {
		return nil, nil, err
	}
	return dl, attempts, nil
}

// ListDeliveries returns a page of the deliveries f selects, and the cursor
// of the next page ("" after the last). f.OrganizationID is required.
func (d *Dispatcher) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, string, error) {
	if f.OrganizationID == "" {
		return nil, "", invalid(ErrInvalidArgument, "organizationId", "is required")
	}
	if err := errors.Join(checkPage(f.Page), checkOrder(f.Order), checkRange(f.CreatedFrom, f.CreatedTo)); err != nil {
		return nil, "", err
	}
	switch f.State {
	case "", DeliveryPending, DeliveryDelivered, DeliveryDead:
	default:
		return nil, "", invalid(ErrInvalidArgument, "state", "must be %q, %q or %q", DeliveryPending, DeliveryDelivered, DeliveryDead)
	}
	return d.store.ListDeliveries(ctx, f)
}

// GetEvent returns the organization's event with the ID and its
// deliveries, oldest first, or ErrNotFound.
func (d *Dispatcher) GetEvent(ctx context.Context, orgID, id string) (*Event, []*Delivery, error) {
	ev, err := d.store.GetEvent(ctx, orgID, id)
	if err != nil {
		return nil, nil, err
	}
	var all []*Delivery
	f := DeliveryFilter{OrganizationID: orgID, EventID: id, Page: Page{Limit: MaxPageLimit}}
	for {
		page, next, err := d.store.ListDeliveries(ctx, f)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, page...)
		if next == "" {
			return ev, all, nil
		}
		f.Page.Cursor = next
	}
}

// ListEvents returns a page of the events f selects, and the cursor of the
// next page. f.OrganizationID is required.
func (d *Dispatcher) ListEvents(ctx context.Context, f EventFilter) ([]*Event, string, error) {
	if f.OrganizationID == "" {
		return nil, "", invalid(ErrInvalidArgument, "organizationId", "is required")
	}
	if err := errors.Join(checkPage(f.Page), checkOrder(f.Order), checkRange(f.From, f.To)); err != nil {
		return nil, "", err
	}
	return d.store.ListEvents(ctx, f)
}

// Stats sums up the deliveries of one subscription of the organization
// (subscriptionID set) or of all its subscriptions, with the attempts and
// failures of the last window (truncated to whole hours; 0 means 24
// hours). It reads counters: cheap enough for every page view.
func (d *Dispatcher) Stats(ctx context.Context, orgID, subscriptionID string, window time.Duration) (*Stats, error) {
	if orgID == "" {
		return nil, invalid(ErrInvalidArgument, "organizationId", "is required")
	}
	if window < 0 {
		return nil, invalid(ErrInvalidArgument, "window", "must not be negative")
	}
	window = orDefault(window, 24*time.Hour)
	return d.store.Stats(ctx, StatsFilter{OrganizationID: orgID, SubscriptionID: subscriptionID, Since: d.clock.Now().Add(-window)})
}

// Redeliver puts the organization's dead (or delivered) delivery back in
// the queue, due now, with a fresh retry schedule. Its attempt numbers go
// on, and the next attempt is logged as Manual.
func (d *Dispatcher) Redeliver(ctx context.Context, orgID, deliveryID string) error {
	if d.isClosed() {
		return ErrDispatcherClosed
	}
	return d.store.Redeliver(ctx, orgID, deliveryID, d.clock.Now())
}

// RedeliverFilter selects, for RedeliverAll, finished deliveries of one
// subscription to put back in the queue. Every field set must hold.
type RedeliverFilter struct {
	// OrganizationID and SubscriptionID are required.
	OrganizationID string
	SubscriptionID string
	// State is DeliveryDead (the default, also for "") or
	// DeliveryDelivered.
	State DeliveryState
	// EventType, when set, keeps the deliveries of events of that type.
	EventType string
	// CreatedFrom and CreatedTo, when non-zero, keep deliveries created
	// in [CreatedFrom, CreatedTo).
	CreatedFrom time.Time
	CreatedTo   time.Time
	// DryRun counts the deliveries that would be redelivered and changes
	// nothing: what a confirmation dialog shows.
	DryRun bool
}

// RedeliverAll redelivers, as Redeliver does, the deliveries the filter
// keeps, and returns how many (with DryRun, how many it would). An error
// part-way returns how many were redelivered before it.
func (d *Dispatcher) RedeliverAll(ctx context.Context, f RedeliverFilter) (int, error) {
	if err := checkRange(f.CreatedFrom, f.CreatedTo); err != nil {
		return 0, err
	}
	state := orDefault(f.State, DeliveryDead)
	if state != DeliveryDead && state != DeliveryDelivered {
		return 0, invalid(ErrInvalidArgument, "state", "must be dead or delivered")
	}
	if d.isClosed() {
		return 0, ErrDispatcherClosed
	}
	if _, err := d.store.GetSubscription(ctx, f.OrganizationID, f.SubscriptionID); err != nil {
		return 0, err
	}
	// Collect first: redelivering while paging would move rows under the
	// cursor's filter.
	var todo []string
	lf := DeliveryFilter{OrganizationID: f.OrganizationID, SubscriptionID: f.SubscriptionID, State: state,
		EventType: f.EventType, CreatedFrom: f.CreatedFrom, CreatedTo: f.CreatedTo, Page: Page{Limit: MaxPageLimit}}
	for {
		page, next, err := d.store.ListDeliveries(ctx, lf)
		if err != nil {
			return 0, err
		}
		for _, dl := range page {
			todo = append(todo, dl.ID)
		}
		if next == "" {
			break
		}
		lf.Page.Cursor = next
	}
	if f.DryRun {
		return len(todo), nil
	}
	now := d.clock.Now()
	for i, id := range todo {
		if err := d.store.Redeliver(ctx, f.OrganizationID, id, now); err != nil {
			return i, err
		}
	}
	return len(todo), nil
}

// Replay enqueues, for the organization's subscription, the stored events
// of the organization whose Timestamp is in [from, to) (a zero bound is
// open) and that match its Events, skipping those it already has a
// delivery for and SendTest's test events. It returns how many deliveries it created. Use it after
// re-activating a subscription to send what it missed while it was off.
func (d *Dispatcher) Replay(ctx context.Context, orgID, subscriptionID string, from, to time.Time) (int, error) {
	if err := checkRange(from, to); err != nil {
		return 0, err
	}
	if d.isClosed() {
		return 0, ErrDispatcherClosed
	}
	sub, err := d.store.GetSubscription(ctx, orgID, subscriptionID)
	if err != nil {
		return 0, err
	}
	total := 0
	f := EventFilter{OrganizationID: sub.OrganizationID, From: from, To: to, Page: Page{Limit: MaxPageLimit}}
	for {
		events, next, err := d.store.ListEvents(ctx, f)
		if err != nil {
			return total, err
		}
		for _, ev := range events {
			if !sub.Matches(ev.Type) || strings.HasPrefix(ev.ID, TestEventIDPrefix) || !d.passesFilter(sub, ev) {
				continue
			}
			now := d.clock.Now()
			n, err := d.store.Enqueue(ctx, ev, []*Delivery{{
				ID: ids.New("dlv_", now), EventID: ev.ID, OrganizationID: ev.OrganizationID,
				SubscriptionID: sub.ID, State: DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
			}})
			if err != nil {
				return total, err
			}
			total += n
		}
		if next == "" {
			return total, nil
		}
		f.Page.Cursor = next
	}
}
