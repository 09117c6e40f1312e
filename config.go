package webhook

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"time"
)

// Defaults of Config, given in its fields' docs.
const (
	defaultWorkers             = 128
	defaultMaxPerSubscription  = 16
	defaultTimeout             = 30 * time.Second
	defaultMaxResponseBodyRead = 64 << 10
	defaultMaxResponseBodyKept = 1 << 10
	defaultMaxDataBytes        = 256 << 10
	defaultPollInterval        = 5 * time.Second
	defaultRetention           = 7 * 24 * time.Hour
	defaultPruneInterval       = 10 * time.Second
	defaultPruneBatch          = 1000
	defaultUserAgent           = "relayhook/1"
)

// Config configures a Dispatcher. The zero value (or nil) gives the
// defaults.
type Config struct {
	// Workers is how many attempts run at once. Defaults to 128: on
	// pgstore, the more attempts in flight, the more deliveries each
	// claim and each finish carries (one round trip each).
	Workers int
	// MaxPerSubscription is how many attempts to one subscription run at
	// once, so a slow endpoint cannot take every worker. Defaults to 16
	// (capped at Workers).
	MaxPerSubscription int
	// Timeout bounds each attempt, from dialling to the end of the
	// response. Defaults to 30s.
	Timeout time.Duration
	// DialTimeout bounds resolving the endpoint's host and connecting to
	// it. Defaults to 10s; from Timeout up, Timeout alone
	// bounds it.
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake. Defaults to 10s;
	// from Timeout up, Timeout alone bounds
	// it.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response's headers
	// once the request is written. Defaults to 20s;
	// from Timeout up, Timeout alone bounds
	// it.
	ResponseHeaderTimeout time.Duration
	// MaxResponseHeaderBytes bounds the response's headers; an endpoint
	// sending more fails the attempt. Defaults to 64 KiB.
	MaxResponseHeaderBytes int64
	// Resolver looks up endpoints' host names for the dialer the
	// dispatcher installs (in the default client, or in a host's
	// *http.Transport without a dial function). Defaults to
	// net.DefaultResolver.
	Resolver *net.Resolver
	// HTTPClient sends TypeWebhook attempts. Redirects are never followed
	// whatever its CheckRedirect says. TLSHandshakeTimeout,
	// ResponseHeaderTimeout and MaxResponseHeaderBytes apply to the
	// default client only: a client of the host's keeps its own
	// settings. The address guard is put on a copy of its transport when
	// that is an *http.Transport (see AddressGuard and the README's
	// Security section); with any other RoundTripper, host names are not
	// checked at dial time (the dispatcher logs a warning once) and that
	// is the host's responsibility. Defaults to a client like
	// NewHTTPClient(), with the guard. A host that wraps the transport
	// (for tracing, say) should use WrapTransport instead, which keeps
	// the guard.
	HTTPClient *http.Client
	// WrapTransport, when set, wraps the transport of the HTTP client
	// once the dispatcher has put the address guard on it: the way to
	// add tracing (otelhttp.NewTransport) or other middleware without
	// losing the dial-time check. Defaults to none.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// MaxResponseBodyRead is how many bytes of a response are read (so the
	// connection can be reused); the rest is discarded with the
	// connection. Defaults to 64 KiB.
	MaxResponseBodyRead int64
	// MaxResponseBodyKept is how many bytes of a response the attempt log
	// keeps. Defaults to 1 KiB (at most MaxResponseBodyRead).
	MaxResponseBodyKept int
	// MaxDataBytes is the largest Event.Data Dispatch accepts; a larger
	// one gets a *ValidationError and nothing is stored. Defaults to 256
	// KiB.
	MaxDataBytes int
	// Limits bounds the fields of subscriptions and events. Each zero
	// field defaults to the constant of the same name; see Limits.
	Limits Limits
	// Retry decides the retry schedule. Defaults to DefaultRetryPolicy().
	Retry RetryPolicy
	// FailureThreshold is how many consecutive failed attempts turn a
	// subscription to StateTooManyErrors. Defaults to 50;
	// negative disables it.
	FailureThreshold int
	// Notifier is told when a subscription is turned off. Optional.
	Notifier Notifier
	// Observer, when set, is called after every attempt, from the worker
	// that made it, with what a host needs for metrics. It is called last:
	// after the outcome is handed to the store writer, the subscription's
	// health recorded and the Notifier told. It must be quick and safe for
	// concurrent use; a panic in it is recovered and logged.
	Observer func(AttemptInfo)
	// Instrumentation holds the hooks of tracing and metrics adapters
	// (trace context captured at Dispatch, a hook around each attempt).
	// Defaults to none; see Instrumentation.
	Instrumentation Instrumentation
	// Formats registers body formats by name, beside the built-in
	// FormatEnvelope, FormatAgileCRM and FormatGeneric (which it may
	// replace).
	Formats map[string]Format
	// Senders registers senders by subscription type, beside TypeWebhook
	// (which it may replace).
	Senders map[string]Sender
	// Clock tells the time. Defaults to SystemClock.
	Clock Clock
	// Logger receives the dispatcher's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// Lease is how long a claimed delivery is held before another worker
	// may take it over. It must exceed Timeout. Defaults to 2*Timeout +
	// 30s.
	Lease time.Duration
	// PollInterval is how often an idle dispatcher looks for work when
	// its Store cannot signal new work (Store.Wake returns nil), and
	// the longest it sleeps otherwise. Defaults to 5s.
	PollInterval time.Duration
	// Retention is how long events are kept (with their finished
	// deliveries and attempts) after their Timestamp; the dispatcher
	// prunes older ones every PruneInterval, never one with a pending
	// delivery. It is also the window of idempotent dispatch and of
	// Replay: an event dispatched again after it was pruned is a new
	// event. Hosts that dispatch events with old Timestamps (a backfill)
	// should raise it or set it negative. Defaults to 7 days (168h);
	// negative keeps events forever.
	Retention time.Duration
	// PruneInterval is how often the dispatcher deletes the events past
	// Retention (at Start, then every PruneInterval). Each round deletes
	// everything past Retention, PruneBatch events per Store.Prune call,
	// so the store holds about Retention's worth of events plus one
	// interval's; between two calls it rests as long as the last call
	// took, so that a large backlog keeps the store busy at most half of
	// the time while deliveries go on. Defaults to 10s.
	PruneInterval time.Duration
	// PruneBatch is the most events one Store.Prune call deletes (with
	// their deliveries and attempts): what the store's lock, or
	// pgstore's transaction, is held for at a time. Defaults to 1000.
	PruneBatch int
	// UserAgent is sent with every request. Defaults to "relayhook/1".
	UserAgent string

	// AllowPrivateNetworks lets subscriptions reach loopback, private,
	// link-local and other non-public addresses (for on-premise hosts and
	// tests). Defaults to false: such targets are refused when a
	// subscription is saved and again at dial time, on the resolved IP.
	// See AddressGuard for the ranges refused.
	AllowPrivateNetworks bool
	// AllowedNetworks are address ranges allowed even though they are not
	// public, e.g. an on-premise CRM's subnet; they are allowed whatever
	// their class. Defaults to none.
	AllowedNetworks []netip.Prefix
	// HTTPSOnly refuses http:// subscription URLs when they are saved,
	// and refuses to send to one saved earlier. Defaults to false.
	HTTPSOnly bool
	// SecretGracePeriod is how long RotateSecret lets the old secret keep
	// signing beside the new one. Defaults to 24h.
	SecretGracePeriod time.Duration

	// EventTypes is the catalog of the event types the host dispatches
	// (see EventType): shown to customers, used by SendTest, and, when
	// set, every pattern of a subscription's Events must match at least
	// one of them, or the subscription is refused with a
	// *ValidationError (ErrUnknownEventType). Dispatch is not checked
	// against it. Defaults to none: any valid pattern is accepted.
	EventTypes []EventType
}

// validate returns a *ValidationError wrapping ErrInvalidConfig for the
// first bad field of c, checked as given (zero fields take their
// defaults): negative values, the Limits, the event-type catalog, the
// allowed networks, a Lease no longer than Timeout, and empty names or
// nil values in Formats and Senders.
func (c *Config) validate() error {
	bad := func(field, reason string) error { return invalid(ErrInvalidConfig, field, "%s", reason) }
	switch {
	case c.Workers < 0:
		return bad("Workers", "is negative")
	case c.MaxPerSubscription < 0:
		return bad("MaxPerSubscription", "is negative")
	case c.Timeout < 0:
		return bad("Timeout", "is negative")
	case c.MaxResponseBodyRead < 0:
		return bad("MaxResponseBodyRead", "is negative")
	case c.MaxResponseBodyKept < 0:
		return bad("MaxResponseBodyKept", "is negative")
	case c.MaxDataBytes < 0:
		return bad("MaxDataBytes", "is negative")
	case c.Lease < 0:
		return bad("Lease", "is negative")
	case c.PollInterval < 0:
		return bad("PollInterval", "is negative")
	case c.DialTimeout < 0:
		return bad("DialTimeout", "is negative")
	case c.TLSHandshakeTimeout < 0:
		return bad("TLSHandshakeTimeout", "is negative")
	case c.ResponseHeaderTimeout < 0:
		return bad("ResponseHeaderTimeout", "is negative")
	case c.MaxResponseHeaderBytes < 0:
		return bad("MaxResponseHeaderBytes", "is negative")
	case c.SecretGracePeriod < 0:
		return bad("SecretGracePeriod", "is negative")
	case c.PruneInterval < 0:
		return bad("PruneInterval", "is negative")
	case c.PruneBatch < 0:
		return bad("PruneBatch", "is negative")
	}
	if err := c.Limits.check(); err != nil {
		return err
	}
	if _, err := newCatalog(c.EventTypes, c.Limits.withDefaults()); err != nil {
		return err
	}
	for i, p := range c.AllowedNetworks {
		if !p.IsValid() {
			return bad(fmt.Sprintf("AllowedNetworks[%d]", i), "is not a valid prefix")
		}
	}
	timeout := orDefault(c.Timeout, defaultTimeout)
	if orDefault(c.Lease, 2*timeout+30*time.Second) <= timeout {
		return bad("Lease", "must be longer than Timeout")
	}
	for name, f := range c.Formats {
		if name == "" || f == nil {
			return bad("Formats", "has an empty name or a nil Format")
		}
	}
	for name, s := range c.Senders {
		if name == "" || s == nil {
			return bad("Senders", "has an empty name or a nil Sender")
		}
	}
	return nil
}

// withDefaults returns c with every zero field set to its default and
// AllowedNetworks copied and masked. c must have passed validate.
func (c Config) withDefaults() Config {
	c.AllowedNetworks = slices.Clone(c.AllowedNetworks)
	for i, p := range c.AllowedNetworks {
		c.AllowedNetworks[i] = p.Masked()
	}
	c.Workers = orDefault(c.Workers, defaultWorkers)
	c.MaxPerSubscription = min(orDefault(c.MaxPerSubscription, defaultMaxPerSubscription), c.Workers)
	c.Timeout = orDefault(c.Timeout, defaultTimeout)
	c.MaxResponseBodyRead = orDefault(c.MaxResponseBodyRead, defaultMaxResponseBodyRead)
	c.MaxResponseBodyKept = min(orDefault(c.MaxResponseBodyKept, defaultMaxResponseBodyKept), int(c.MaxResponseBodyRead))
	c.MaxDataBytes = orDefault(c.MaxDataBytes, defaultMaxDataBytes)
	c.Lease = orDefault(c.Lease, 2*c.Timeout+30*time.Second)
	c.PollInterval = orDefault(c.PollInterval, defaultPollInterval)
	c.Retention = orDefault(c.Retention, defaultRetention)
	c.PruneInterval = orDefault(c.PruneInterval, defaultPruneInterval)
	c.PruneBatch = orDefault(c.PruneBatch, defaultPruneBatch)
	c.FailureThreshold = orDefault(c.FailureThreshold, defaultFailureThreshold)
	c.UserAgent = orDefault(c.UserAgent, defaultUserAgent)
	c.Limits = c.Limits.withDefaults()
	c.SecretGracePeriod = orDefault(c.SecretGracePeriod, defaultSecretGracePeriod)
	c.DialTimeout = orDefault(c.DialTimeout, defaultDialTimeout)
	c.TLSHandshakeTimeout = orDefault(c.TLSHandshakeTimeout, defaultTLSHandshakeTimeout)
	c.ResponseHeaderTimeout = orDefault(c.ResponseHeaderTimeout, defaultResponseHeaderTimeout)
	c.MaxResponseHeaderBytes = orDefault(c.MaxResponseHeaderBytes, defaultMaxResponseHeaderBytes)
	if c.Retry == nil {
		c.Retry = DefaultRetryPolicy()
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// transport is what the default client's transport, and the dialer put on
// a host's, are built from: the phase timeouts that end before the
// attempt's own.
func (c *Config) transport() transportConfig {
	return transportConfig{
		dialTimeout:           belowTimeout(c.DialTimeout, c.Timeout),
		tlsHandshakeTimeout:   belowTimeout(c.TLSHandshakeTimeout, c.Timeout),
		responseHeaderTimeout: belowTimeout(c.ResponseHeaderTimeout, c.Timeout),
		maxResponseHeaderByte: c.MaxResponseHeaderBytes,
		resolver:              c.Resolver,
	}
}
