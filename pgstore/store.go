package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	webhook "github.com/relayhook/webhook"
	"github.com/relayhook/webhook/internal/cursor"
)

// DefaultSchema is the schema that holds the tables when Options.Schema is
// empty.
const DefaultSchema = "relayhook"

// DefaultSubscriptionCacheSize is the number of decoded subscriptions Claim
// keeps when Options.SubscriptionCacheSize is zero.
const DefaultSubscriptionCacheSize = 4096

// DefaultNotifyInterval is the least time between two NOTIFYs a store sends
// for its Enqueue and Finish calls when Options.NotifyInterval is zero.
const DefaultNotifyInterval = 5 * time.Millisecond

// maxIdentifierLength is PostgreSQL's limit on names, in bytes.
const maxIdentifierLength = 63

// Options configures a Store. The zero value (or nil) gives the defaults.
type Options struct {
	// Schema is the PostgreSQL schema that holds the store's tables; Migrate
	// creates it. Replicas that share a queue use the same schema. It must
	// be 1 to 63 bytes. Defaults to DefaultSchema.
	Schema string

	// Logger receives the store's own reports: the notification listener
	// losing its connection and reconnecting, a wake-up NOTIFY failing.
	// Defaults to slog.Default().
	Logger *slog.Logger

	// NotifyInterval is the least time between two NOTIFYs that this store
	// sends to wake the other stores on the schema after its Enqueue and
	// Finish calls: the first is sent at once, those asked for within the
	// interval are merged into one sent at its end. A wake-up per enqueued
	// event would serialize commits on PostgreSQL's notification queue.
	// (EnqueueTx always notifies within the host's transaction.) Defaults
	// to DefaultNotifyInterval.
	NotifyInterval time.Duration

	// SubscriptionCacheSize is how many decoded subscriptions Claim keeps,
	// by ID and version, so that claiming does not fetch and decode a
	// subscription per delivery. Negative disables the cache. Defaults to
	// DefaultSubscriptionCacheSize.
	SubscriptionCacheSize int
}

// Store is a webhook.Store on PostgreSQL, safe for concurrent use by many
// goroutines and by many processes sharing one database and schema.
//
// Create it with New, call Migrate once at start-up, and Close it when done;
// the pool stays the caller's.
type Store struct {
	pool    *pgxpool.Pool
	schema  string
	channel string // LISTEN/NOTIFY channel
	origin  string // payload of this store's notifications
	log     *slog.Logger
	q       queries

	subCache *subCache

	congestedUntil       atomic.Int64 // Unix nanoseconds until which claims go by subscription
	capped               cappedState  // whether capped subscriptions exist
	alwaysBySubscription bool         // claims always go by subscription (tests)

	notifyInterval time.Duration
	notifyReq      chan struct{} // a pending request for a NOTIFY
	wakerOnce      sync.Once
	wakerDone      chan struct{}
	notifies       atomic.Int64    // NOTIFYs sent by the waker (tests)
	ctx            context.Context // cancelled by Close
	cancel         context.CancelFunc

	mu     sync.Mutex
	wake   chan struct{} // closed and replaced on every notification
	closed bool

	listenOnce sync.Once
	listenDone chan struct{}
	listening  chan struct{} // closed once the first LISTEN succeeded (tests)
}

var _ webhook.Store = (*Store)(nil)

// New returns a Store on the pool. It does not touch the database: call
// Migrate before the first use.
func New(pool *pgxpool.Pool, opts *Options) (*Store, error) {
	if pool == nil {
		return nil, &webhook.ValidationError{Kind: webhook.ErrInvalidConfig, Field: "pool", Reason: "is nil"}
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	if len(o.Schema) > maxIdentifierLength || strings.IndexByte(o.Schema, 0) >= 0 {
		return nil, &webhook.ValidationError{Kind: webhook.ErrInvalidConfig, Field: "Schema",
			Reason: fmt.Sprintf("must be 1 to %d bytes without NUL", maxIdentifierLength)}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.NotifyInterval < 0 {
		return nil, &webhook.ValidationError{Kind: webhook.ErrInvalidConfig, Field: "NotifyInterval", Reason: "is negative"}
	}
	if o.NotifyInterval == 0 {
		o.NotifyInterval = DefaultNotifyInterval
	}
	if o.SubscriptionCacheSize == 0 {
		o.SubscriptionCacheSize = DefaultSubscriptionCacheSize
	}
	var origin [12]byte
	if _, err := rand.Read(origin[:]); err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s := &Store{
		pool:       pool,
		schema:     o.Schema,
		channel:    channelName(o.Schema),
		origin:     hex.EncodeToString(origin[:]),
		log:        o.Logger,
		q:          newQueries(pgx.Identifier{o.Schema}.Sanitize()),
		subCache:   newSubCache(o.SubscriptionCacheSize),
		wake:       make(chan struct{}),
		listenDone: make(chan struct{}),
		listening:  make(chan struct{}),

		notifyInterval: o.NotifyInterval,
		notifyReq:      make(chan struct{}, 1),
		wakerDone:      make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// channelName returns the LISTEN/NOTIFY channel of a schema.
func channelName(schema string) string {
	name := "relayhook." + schema
	if len(name) > maxIdentifierLength {
		h := fnv.New64a()
		h.Write([]byte(schema))
		name = fmt.Sprintf("relayhook.%x", h.Sum64())
	}
	return name
}

// Schema returns the schema that holds the store's tables.
func (s *Store) Schema() string { return s.schema }

// Close stops the store's goroutines (the notification listener, and the
// sender of coalesced NOTIFYs after sending what it has pending) and waits
// for them to end. It does not close the pool. Close is idempotent; the
// store's other methods keep working after it, but Wake's channels are no
// longer closed by the other stores' changes, nor are they told of this
// one's.
func (s *Store) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	// Each goroutine either was started, and this does nothing, or never
	// will be.
	s.listenOnce.Do(func() { close(s.listenDone) })
	s.wakerOnce.Do(func() { close(s.wakerDone) })
	s.cancel()
	<-s.listenDone
	<-s.wakerDone
}

// broadcast wakes everyone waiting on Wake.
func (s *Store) broadcast() {
	s.mu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}

// Errors.

const (
	pgUniqueViolation = "23505"
)

func isUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == pgUniqueViolation && (constraint == "" || pe.ConstraintName == constraint)
}

func dbError(op string, err error) error {
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

func notFound(what, id string) error {
	return fmt.Errorf("pgstore: %s %q: %w", what, id, webhook.ErrNotFound)
}

func invalidArgument(field, format string, args ...any) error {
	return &webhook.ValidationError{Kind: webhook.ErrInvalidArgument, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Conversions.

// utc returns a time read from the database in UTC (pgx reads timestamptz
// in the local zone).
func utc(t time.Time) time.Time { return t.UTC() }

func fromTimestamptz(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// nullTime is NULL for the zero time.
func nullTime(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t, Valid: true}
}

// pgText makes s storable in a text column: PostgreSQL refuses NUL and
// invalid UTF-8, which an error message quoting a response may contain.
func pgText(s string) string {
	if storable(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// storable tells whether s can be stored in a text column: PostgreSQL
// refuses NUL and invalid UTF-8. An ID that is not storable names no
// stored record, and a filter that is not matches nothing: neither is
// sent to the database, where it would fail the statement.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// The kinds of the listings' cursors (see internal/cursor), and their
// orders.
const (
	cursorSubscriptions = "subscriptions"
	cursorEvents        = "events"
	cursorDeliveries    = "deliveries"
	cursorAsc           = "asc"
	cursorDesc          = "desc"
)

// listOrder validates a listing's order and tells whether it is
// descending.
func listOrder(o webhook.Order) (desc bool, err error) {
	switch o {
	case "", webhook.OldestFirst:
		return false, nil
	case webhook.NewestFirst:
		return true, nil
	}
	return false, invalidArgument("Order", "must be %q or %q", webhook.OldestFirst, webhook.NewestFirst)
}

// checkPage validates a page of the listing kind in the order (descending
// if desc) and returns its limit and the key its cursor carries (empty for
// the first page). A cursor that the listing did not make in that order
// is refused here, before any query.
func checkPage(p webhook.Page, kind string, desc bool) (limit int, after string, err error) {
	limit = p.Limit
	switch {
	case limit == 0:
		limit = webhook.DefaultPageLimit
	case limit < 0 || limit > webhook.MaxPageLimit:
		return 0, "", invalidArgument("Page.Limit", "must be 0 to %d", webhook.MaxPageLimit)
	}
	after, err = cursor.Decode(p.Cursor, kind, cursorOrder(desc))
	if err != nil {
		return 0, "", invalidArgument("Page.Cursor", "is not a cursor of this listing and order")
	}
	return limit, after, nil
}

// nextCursor returns the cursor of the page after the one that ends with
// the item key.
func nextCursor(kind string, desc bool, key string) string {
	return cursor.Encode(kind, cursorOrder(desc), key)
}

func cursorOrder(desc bool) string {
	if desc {
		return cursorDesc
	}
	return cursorAsc
}
