package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	webhook "github.com/relayhook/webhook"
)

// subscriptionDoc is the part of a Subscription kept as JSON: what the
// store never queries by.
type subscriptionDoc struct {
	Name             string            `json:"name"`
	URL              string            `json:"url"`
	ContentType      string            `json:"content_type"`
	Format           string            `json:"format"`
	Secret           string            `json:"secret"`
	PreviousSecrets  []previousSecret  `json:"previous_secrets"`
	BasicAuth        *basicAuth        `json:"basic_auth"`
	Headers          map[string]string `json:"headers"`
	CustomParameters map[string]string `json:"custom_parameters"`
	Properties       map[string]string `json:"properties"`
	Type             string            `json:"type"`
	ErrorsEmail      string            `json:"errors_email"`
	Filter           json.RawMessage   `json:"filter,omitempty"`
	MaxConcurrency   int               `json:"max_concurrency,omitempty"`
	RateLimit        *rateLimit        `json:"rate_limit,omitempty"`
	RateIntervalUS   int64             `json:"rate_interval_us,omitempty"` // derived, for the generated column
	Ordered          bool              `json:"ordered,omitempty"`
	CreatedBy        string            `json:"created_by"`
	UpdatedBy        string            `json:"updated_by"`
}

type previousSecret struct {
	Secret    string    `json:"secret"`
	ExpiresAt time.Time `json:"expires_at"`
}

type rateLimit struct {
	Requests int    `json:"requests"`
	Per      string `json:"per"`
}

type basicAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func encodeDoc(s *webhook.Subscription) ([]byte, error) {
	d := subscriptionDoc{
		Name: s.Name, URL: s.URL, ContentType: s.ContentType, Format: s.Format,
		Secret: s.Secret, Headers: s.Headers, CustomParameters: s.CustomParameters,
		Properties: s.Properties, Type: s.Type, ErrorsEmail: s.ErrorsEmail,
		CreatedBy: s.CreatedBy, UpdatedBy: s.UpdatedBy, Filter: s.Filter,
		MaxConcurrency: s.MaxConcurrency, Ordered: s.Ordered,
	}
	if s.PreviousSecrets != nil {
		d.PreviousSecrets = make([]previousSecret, len(s.PreviousSecrets))
		for i, p := range s.PreviousSecrets {
			d.PreviousSecrets[i] = previousSecret{Secret: p.Secret, ExpiresAt: p.ExpiresAt.UTC()}
		}
	}
	if s.BasicAuth != nil {
		d.BasicAuth = &basicAuth{Username: s.BasicAuth.Username, Password: s.BasicAuth.Password}
	}
	if r := s.RateLimit; r != nil {
		d.RateLimit = &rateLimit{Requests: r.Requests, Per: string(r.Per)}
		d.RateIntervalUS = r.Interval().Microseconds()
	}
	b, err := json.Marshal(&d)
	if err != nil {
		// Never shows a secret: only maps of strings and times are encoded.
		return nil, fmt.Errorf("pgstore: encode subscription %q: %w", s.ID, err)
	}
	return b, nil
}

func decodeDoc(b []byte, s *webhook.Subscription) error {
	var d subscriptionDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("pgstore: decode subscription %q: %w", s.ID, err)
	}
	s.Name, s.URL, s.ContentType, s.Format = d.Name, d.URL, d.ContentType, d.Format
	s.Secret, s.Headers, s.CustomParameters, s.Properties = d.Secret, d.Headers, d.CustomParameters, d.Properties
	s.Type, s.ErrorsEmail, s.CreatedBy, s.UpdatedBy = d.Type, d.ErrorsEmail, d.CreatedBy, d.UpdatedBy
	s.Filter, s.MaxConcurrency, s.Ordered = d.Filter, d.MaxConcurrency, d.Ordered
	if d.PreviousSecrets != nil {
		s.PreviousSecrets = make([]webhook.PreviousSecret, len(d.PreviousSecrets))
		for i, p := range d.PreviousSecrets {
			s.PreviousSecrets[i] = webhook.PreviousSecret{Secret: p.Secret, ExpiresAt: p.ExpiresAt.UTC()}
		}
	}
	if d.BasicAuth != nil {
		s.BasicAuth = &webhook.BasicAuth{Username: d.BasicAuth.Username, Password: d.BasicAuth.Password}
	}
	if d.RateLimit != nil {
		s.RateLimit = &webhook.RateLimit{Requests: d.RateLimit.Requests, Per: webhook.RatePeriod(d.RateLimit.Per)}
	}
	return nil
}

// matchKeySep separates the organization from the pattern in a match key.
// Event patterns never contain it, so a key is never ambiguous.
const matchKeySep = "|"

// matchKeys returns the indexed keys of a subscription's event patterns.
func matchKeys(orgID string, events []string) []string {
	if events == nil {
		return nil
	}
	keys := make([]string, len(events))
	for i, p := range events {
		keys[i] = orgID + matchKeySep + p
	}
	return keys
}

// candidateKeys returns the keys of every pattern that can match eventType
// in the organization: the type itself, "*", and "p.*" for every prefix p
// of the type that ends before a dot (see webhook.Subscription.Matches).
func candidateKeys(orgID, eventType string) []string {
	keys := []string{orgID + matchKeySep + eventType, orgID + matchKeySep + "*"}
	for i := 0; i < len(eventType); i++ {
		if eventType[i] == '.' {
			keys = append(keys, orgID+matchKeySep+eventType[:i+1]+"*")
		}
	}
	return keys
}

// scanSubscription reads the columns of subscriptionColumns.
func scanSubscription(row pgx.Row) (*webhook.Subscription, int64, error) {
	var (
		s       webhook.Subscription
		state   string
		version int64
		doc     []byte
	)
	if err := row.Scan(&s.ID, &s.OrganizationID, &state, &s.Events, &s.ConsecutiveFailures,
		&s.CreatedAt, &s.UpdatedAt, &version, &doc, &s.Number); err != nil {
		return nil, 0, err
	}
	s.State = webhook.State(state)
	s.CreatedAt, s.UpdatedAt = utc(s.CreatedAt), utc(s.UpdatedAt)
	if err := decodeDoc(doc, &s); err != nil {
		return nil, 0, err
	}
	return &s, version, nil
}

func (s *Store) collectSubscriptions(rows pgx.Rows, op string) ([]*webhook.Subscription, error) {
	defer rows.Close()
	subs := []*webhook.Subscription{}
	for rows.Next() {
		sub, _, err := scanSubscription(rows)
		if err != nil {
			return nil, dbError(op, err)
		}
		subs = append(subs, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err)
	}
	return subs, nil
}

// CreateSubscription stores a new subscription as given and sets
// sub.Number from the table's identity column. It returns an error
// wrapping webhook.ErrAlreadyExists if the ID is taken.
func (s *Store) CreateSubscription(ctx context.Context, sub *webhook.Subscription) error {
	doc, err := encodeDoc(sub)
	if err != nil {
		return err
	}
	var number int64
	err = s.pool.QueryRow(ctx, s.q.createSubscription, sub.ID, sub.OrganizationID, string(sub.State),
		sub.Events, matchKeys(sub.OrganizationID, sub.Events), sub.ConsecutiveFailures,
		sub.CreatedAt, sub.UpdatedAt, doc).Scan(&number)
	if isUniqueViolation(err, "") {
		return fmt.Errorf("pgstore: subscription %q: %w", sub.ID, webhook.ErrAlreadyExists)
	}
	if err != nil {
		return dbError("create subscription", err)
	}
	sub.Number = number
	s.noteCapped(sub)
	return nil
}

// GetSubscriptionByNumber returns the organization's subscription with the
// Number.
func (s *Store) GetSubscriptionByNumber(ctx context.Context, orgID string, number int64) (*webhook.Subscription, error) {
	what := fmt.Sprintf("number %d", number)
	if !storable(orgID) {
		return nil, notFound("subscription", what)
	}
	sub, _, err := scanSubscription(s.pool.QueryRow(ctx, s.q.getSubscriptionByNumber, number, orgID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("subscription", what)
	}
	if err != nil {
		return nil, dbError("get subscription", err)
	}
	return sub, nil
}

// GetSubscription returns the organization's subscription with the ID.
func (s *Store) GetSubscription(ctx context.Context, orgID, id string) (*webhook.Subscription, error) {
	if !storable(orgID) || !storable(id) {
		return nil, notFound("subscription", id)
	}
	sub, _, err := scanSubscription(s.pool.QueryRow(ctx, s.q.getSubscription, id, orgID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("subscription", id)
	}
	if err != nil {
		return nil, dbError("get subscription", err)
	}
	return sub, nil
}

// UpdateSubscription replaces the stored subscription with the same ID and
// OrganizationID, keeping its ConsecutiveFailures.
func (s *Store) UpdateSubscription(ctx context.Context, sub *webhook.Subscription) error {
	if !storable(sub.OrganizationID) || !storable(sub.ID) {
		return notFound("subscription", sub.ID)
	}
	doc, err := encodeDoc(sub)
	if err != nil {
		return err
	}
	var woke *int
	err = s.pool.QueryRow(ctx, s.q.updateSubscription, sub.ID, sub.OrganizationID, string(sub.State),
		sub.Events, matchKeys(sub.OrganizationID, sub.Events), sub.CreatedAt, sub.UpdatedAt, doc,
		s.channel, s.origin).Scan(&woke)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("subscription", sub.ID)
	}
	if err != nil {
		return dbError("update subscription", err)
	}
	s.noteCapped(sub)
	if woke != nil {
		s.broadcast()
	}
	return nil
}

// DeleteSubscription removes the organization's subscription, its pending
// deliveries and its counters.
func (s *Store) DeleteSubscription(ctx context.Context, orgID, id string) error {
	if !storable(orgID) || !storable(id) {
		return notFound("subscription", id)
	}
	var n int
	if err := s.withSettingsRow(ctx, planSettings, s.q.deleteSubscription, []any{id, orgID}, &n); err != nil {
		return dbError("delete subscription", err)
	}
	if n == 0 {
		return notFound("subscription", id)
	}
	return nil
}

// ListSubscriptions returns a page of an organization's subscriptions in ID
// order.
func (s *Store) ListSubscriptions(ctx context.Context, orgID string, page webhook.Page) ([]*webhook.Subscription, string, error) {
	limit, after, err := checkPage(page, cursorSubscriptions, false)
	if err != nil {
		return nil, "", err
	}
	if !storable(orgID) {
		return []*webhook.Subscription{}, "", nil
	}
	rows, err := s.pool.Query(ctx, s.q.listSubscriptions, orgID, after, limit+1)
	if err != nil {
		return nil, "", dbError("list subscriptions", err)
	}
	subs, err := s.collectSubscriptions(rows, "list subscriptions")
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(subs) > limit {
		subs = subs[:limit]
		next = nextCursor(cursorSubscriptions, false, subs[limit-1].ID)
	}
	return subs, next, nil
}

// SetSubscriptionState sets the state of the organization's subscription
// and its UpdatedAt; StateActive also resets ConsecutiveFailures and wakes
// the dispatchers.
func (s *Store) SetSubscriptionState(ctx context.Context, orgID, id string, state webhook.State, now time.Time) error {
	if !storable(orgID) || !storable(id) {
		return notFound("subscription", id)
	}
	var woke *int
	err := s.pool.QueryRow(ctx, s.q.setState, id, string(state), now, s.channel, s.origin, orgID).Scan(&woke)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("subscription", id)
	}
	if err != nil {
		return dbError("set subscription state", err)
	}
	if woke != nil {
		s.broadcast()
	}
	return nil
}

// RecordHealth updates a subscription after an attempt; see webhook.Store.
func (s *Store) RecordHealth(ctx context.Context, id string, ok bool, threshold int, now time.Time) (bool, error) {
	if ok {
		var exists bool
		if err := s.pool.QueryRow(ctx, s.q.healthOK, id).Scan(&exists); err != nil {
			return false, dbError("record health", err)
		}
		if !exists {
			return false, notFound("subscription", id)
		}
		return false, nil
	}
	var tripped bool
	err := s.pool.QueryRow(ctx, s.q.healthFailed, id, threshold, now).Scan(&tripped)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, notFound("subscription", id)
	}
	if err != nil {
		return false, dbError("record health", err)
	}
	return tripped, nil
}

// subCache keeps decoded subscriptions by ID and version for Claim, which
// hands the same *Subscription to every delivery of it (the contract lets
// Delivery.Subscription be shared).
type subCache struct {
	mu  sync.Mutex
	max int
	m   map[string]cachedSub
}

type cachedSub struct {
	version int64
	sub     *webhook.Subscription
}

func newSubCache(max int) *subCache {
	return &subCache{max: max, m: make(map[string]cachedSub)}
}

func (c *subCache) get(id string, version int64) *webhook.Subscription {
	if c.max < 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok && e.version == version {
		return e.sub
	}
	return nil
}

func (c *subCache) put(sub *webhook.Subscription, version int64) {
	if c.max < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[sub.ID]; ok && e.version > version {
		return
	}
	if len(c.m) >= c.max {
		clear(c.m) // simple and rare: the working set refills it
	}
	c.m[sub.ID] = cachedSub{version: version, sub: sub}
}

// subscriptions returns the subscriptions with the IDs at (at least) the
// versions given, from the cache or else from the database.
func (s *Store) subscriptions(ctx context.Context, want map[string]int64) (map[string]*webhook.Subscription, error) {
	out := make(map[string]*webhook.Subscription, len(want))
	var missing []string
	for id, v := range want {
		if sub := s.subCache.get(id, v); sub != nil {
			out[id] = sub
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, s.q.getSubscriptions, missing)
	if err != nil {
		return nil, dbError("get subscriptions", err)
	}
	defer rows.Close()
	for rows.Next() {
		sub, v, err := scanSubscription(rows)
		if err != nil {
			return nil, dbError("get subscriptions", err)
		}
		out[sub.ID] = sub
		s.subCache.put(sub, v)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("get subscriptions", err)
	}
	return out, nil
}

// MatchSubscriptions returns the IDs of the Active subscriptions of the
// organization whose Events match eventType, in ID order, and their
// Filters, with one probe of the GIN index on the organization's event
// patterns.
func (s *Store) MatchSubscriptions(ctx context.Context, orgID, eventType string) ([]string, []json.RawMessage, error) {
	if !storable(orgID) || !storable(eventType) {
		return []string{}, nil, nil
	}
	rows, err := s.pool.Query(ctx, s.q.matchSubscriptions, orgID, candidateKeys(orgID, eventType))
	if err != nil {
		return nil, nil, dbError("match subscriptions", err)
	}
	defer rows.Close()
	ids := []string{}
	var filters []json.RawMessage
	for rows.Next() {
		var (
			id     string
			filter *string
		)
		if err := rows.Scan(&id, &filter); err != nil {
			return nil, nil, dbError("match subscriptions", err)
		}
		if filter != nil && *filter != "null" {
			if filters == nil {
				filters = make([]json.RawMessage, len(ids))
			}
			filters = append(filters, json.RawMessage(*filter))
		} else if filters != nil {
			filters = append(filters, nil)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, dbError("match subscriptions", err)
	}
	return ids, filters, nil
}
