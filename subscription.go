package webhook

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// State is whether a subscription receives events.
type State string

// The states of a subscription, as SuperOffice names them.
const (
	// StateActive subscriptions receive events.
	StateActive State = "Active"
	// StateStopped subscriptions were stopped by the host, or by the
	// dispatcher when their endpoint answered 410 Gone. They receive
	// nothing until re-activated.
	StateStopped State = "Stopped"
	// StateTooManyErrors subscriptions failed more consecutive attempts
	// than the dispatcher's FailureThreshold. They receive nothing until
	// re-activated.
	StateTooManyErrors State = "TooManyErrors"
)

// Content types a subscription can select.
const (
	// ContentTypeJSON sends the body as JSON. The default.
	ContentTypeJSON = "application/json"
	// ContentTypeForm sends the JSON body in the form field "payload" of
	// an application/x-www-form-urlencoded body, as NeonCRM does.
	ContentTypeForm = "application/x-www-form-urlencoded"
)

// TypeWebhook is the subscription type delivered by HTTP POST, the default.
// Other types are delivered by the Sender registered for them in
// Config.Senders.
const TypeWebhook = "webhook"

// Limits of the key of a subscription's secret: the bytes that
// SecretPrefix and base64 encode. The limits of the other fields are
// Limits.
const (
	MinSecretBytes = 24 // bytes of key in a secret
	MaxSecretBytes = 64 // bytes of key in a secret
)

// SecretPrefix starts every secret in the Standard Webhooks form.
const SecretPrefix = "whsec_"

// Subscription is one customer endpoint and the events it wants, modelled on
// SuperOffice's webhook entity with NeonCRM's options.
//
// Create, update and re-activate subscriptions through the Dispatcher, which
// validates them and fills in defaults; fmt and slog output of a
// Subscription never shows its secrets or password.
//
// # JSON
//
// The JSON form uses the names a management API's clients expect: id,
// number, organizationId, name, url, events, contentType, format, secret,
// previousSecrets, basicAuth, headers, customParameters, properties,
// state, type, errorsEmail, filter, maxConcurrency, rateLimit, ordered, consecutiveFailures, createdAt, updatedAt,
// createdBy and updatedBy (times in RFC 3339; optional fields left out
// when empty). A *ValidationError names a bad field by these names.
//
// Secrets and passwords are write-only: json.Unmarshal accepts secret,
// previousSecrets[].secret and basicAuth.password (a client may choose its
// own on create), but json.Marshal never writes them, see MarshalJSON.
// The secret is shown only in the explicit result of create, rotate or
// reveal: the Go value holds it (the *Subscription CreateSubscription
// filled in, the one RotateSecret returns, the one GetSubscription
// returns), and a management API or portal that shows it must copy it
// into its own answer, for those operations only.
type Subscription struct {
	// ID identifies the subscription. Generated ("sub_" and 26
	// characters) when empty at creation.
	ID string `json:"id,omitempty"`
	// Number is a second identifier, assigned by the Store at creation:
	// a positive integer, unique in the store and never reused, for
	// clients that want a numeric ID (SuperOffice's WebhookId). It fits
	// in 32 bits until the store has made 2,147,483,647 subscriptions.
	// Set by Store.CreateSubscription; ignored on update.
	Number int64 `json:"number,omitempty"`
	// OrganizationID is the tenant; the subscription receives only the
	// events of this organization. Required.
	OrganizationID string `json:"organizationId"`
	// Name is a label for people; it need not be unique.
	Name string `json:"name,omitempty"`
	// URL is the endpoint that receives the HTTP POSTs (for TypeWebhook):
	// http or https, with a host and no credentials, and an address the
	// dispatcher's guard allows. For another Type it names that sender's
	// target in its own terms (SuperOffice's crmscript: a script ID).
	// Required.
	URL string `json:"url"`
	// Events lists the event types the subscription wants: exact names
	// ("contact.created"), prefixes ending in ".*" ("contact.*" matches
	// "contact.created" and "contact.address.changed"), or "*" for all.
	// At least one is required.
	Events []string `json:"events"`
	// ContentType is ContentTypeJSON or ContentTypeForm. Defaults to
	// ContentTypeJSON.
	ContentType string `json:"contentType,omitempty"`
	// Format names the body format, registered in Config.Formats.
	// Defaults to FormatEnvelope.
	Format string `json:"format,omitempty"`
	// Secret signs every request (HMAC-SHA256, Standard Webhooks): "whsec_"
	// followed by the base64 of 24 to 64 random bytes. Generated when
	// empty at creation. Write-only in JSON: never marshalled.
	Secret string `json:"secret,omitempty"`
	// PreviousSecrets are earlier secrets that keep signing beside Secret
	// until they expire, so a receiver can roll its configuration over.
	PreviousSecrets []PreviousSecret `json:"previousSecrets,omitempty"`
	// BasicAuth, when set, is sent as HTTP basic authentication.
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`
	// Headers are extra HTTP headers sent with every request. They cannot
	// set the signature, content or hop-by-hop headers.
	Headers map[string]string `json:"headers,omitempty"`
	// CustomParameters are name/value pairs sent in every body (the
	// Envelope's customParameters, FormatGeneric's current_context). With
	// FormatGeneric, a key equal to organization_id ignoring case is
	// refused.
	CustomParameters map[string]string `json:"customParameters,omitempty"`
	// Properties are injected as extra top-level keys of the Envelope
	// body; they never replace its standard keys, and a key equal to one
	// of them ignoring case is refused.
	Properties map[string]string `json:"properties,omitempty"`
	// State says whether the subscription receives events. Defaults to
	// StateActive at creation.
	State State `json:"state,omitempty"`
	// Type selects the Sender that delivers: TypeWebhook (HTTP POST, the
	// default) or a type registered in Config.Senders.
	Type string `json:"type,omitempty"`
	// ErrorsEmail is told, through the Notifier, when the state turns to
	// StateTooManyErrors. Optional.
	ErrorsEmail string `json:"errorsEmail,omitempty"`
	// Filter, when set, is a condition on the event that must hold for
	// the subscription to receive it, checked at Dispatch: an event whose
	// type matches Events but that fails the filter creates no delivery
	// to it. A JSON object whose keys are paths ("type", "data",
	// "data.amount", "data.customer.country") and whose values are a
	// value the path must equal, or an object of operators ($eq, $ne,
	// $gt, $gte, $lt, $lte, $in, $nin, $exists); "$and" and "$or" take an
	// array of such objects. For example
	// {"data.amount": {"$gte": 100}, "data.country": {"$in": ["NO", "SE"]}}.
	// See the README's "Payload filters" for the semantics and
	// MaxFilterBytes and the other limits. Stored compacted. Defaults to
	// none: every event of a matching type.
	Filter json.RawMessage `json:"filter,omitempty"`
	// MaxConcurrency, when positive, is the most attempts to this
	// subscription in flight at once, across every dispatcher sharing the
	// store (the Store's Claim counts the deliveries leased to it), and it
	// replaces Config.MaxPerSubscription as the cap within one dispatcher
	// (still at most Config.Workers). 1 sends one request at a time. At
	// most MaxConcurrencyLimit. Defaults to 0: only each dispatcher's
	// Config.MaxPerSubscription applies.
	MaxConcurrency int `json:"maxConcurrency,omitempty"`
	// RateLimit, when set, bounds the requests sent to the subscription's
	// endpoint, across every dispatcher sharing the store: they are
	// spaced evenly, one every Per/Requests, retries included; its other
	// deliveries wait without holding back any other subscription's.
	// Defaults to none.
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
	// Ordered, when true, delivers to the subscription one event at a
	// time in the order of their deliveries' IDs (dispatch order), across
	// every dispatcher sharing the store: only the oldest pending delivery
	// is ever attempted, so a failing one is retried on its schedule and
	// holds back this subscription's later events (no one else's) until
	// it is delivered or dead; a dead one releases the next. It implies a
	// MaxConcurrency of 1. Defaults to false.
	Ordered bool `json:"ordered,omitempty"`
	// ConsecutiveFailures counts failed attempts since the last success;
	// maintained by the Store.
	ConsecutiveFailures int `json:"consecutiveFailures"`
	// CreatedAt, UpdatedAt, CreatedBy and UpdatedBy record who registered
	// and last changed the subscription, and when. The times are set by
	// the Dispatcher; the names are the host's.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	CreatedBy string    `json:"createdBy,omitempty"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
}

// PreviousSecret is a secret being rotated out. Its JSON form is
// {"secret", "expiresAt"}; the secret is write-only (see MarshalJSON).
type PreviousSecret struct {
	// Secret is the old secret, in the same form as Subscription.Secret.
	// Write-only in JSON: never marshalled.
	Secret string `json:"secret,omitempty"`
	// ExpiresAt is when it stops signing.
	ExpiresAt time.Time `json:"expiresAt"`
}

// BasicAuth is HTTP basic authentication sent to an endpoint. Its JSON
// form is {"username", "password"}; the password is write-only (see
// MarshalJSON).
type BasicAuth struct {
	// Username is sent in the clear (base64); it may not contain ':'.
	Username string `json:"username"`
	// Password never appears in logs, errors, fmt or JSON output.
	Password string `json:"password,omitempty"`
}

// The JSON forms without the methods, for MarshalJSON.
type (
	subscriptionJSON   Subscription
	previousSecretJSON PreviousSecret
	basicAuthJSON      BasicAuth
)

// MarshalJSON writes the subscription's JSON form without its secrets or
// password: the secret key is left out, and PreviousSecrets and BasicAuth
// marshal without theirs. s itself is not changed. json.Unmarshal does
// accept them.
//
// A struct that embeds a Subscription inherits this method, and so
// marshals as the subscription alone; hold it in a named field to marshal
// fields beside it.
func (s Subscription) MarshalJSON() ([]byte, error) {
	s.Secret = ""
	return json.Marshal(subscriptionJSON(s))
}

// MarshalJSON writes {"expiresAt"} without the secret; p itself is not
// changed. json.Unmarshal does accept the secret.
func (p PreviousSecret) MarshalJSON() ([]byte, error) {
	p.Secret = ""
	return json.Marshal(previousSecretJSON(p))
}

// MarshalJSON writes {"username"} without the password; b itself is not
// changed. json.Unmarshal does accept the password.
func (b BasicAuth) MarshalJSON() ([]byte, error) {
	b.Password = ""
	return json.Marshal(basicAuthJSON(b))
}

// Clone returns a deep copy of the subscription: a Store keeps or returns
// one so that no caller shares its slices and maps.
func (s *Subscription) Clone() *Subscription {
	c := *s
	c.Events = slices.Clone(s.Events)
	c.PreviousSecrets = slices.Clone(s.PreviousSecrets)
	if s.BasicAuth != nil {
		b := *s.BasicAuth
		c.BasicAuth = &b
	}
	c.Headers = maps.Clone(s.Headers)
	c.CustomParameters = maps.Clone(s.CustomParameters)
	c.Properties = maps.Clone(s.Properties)
	c.Filter = bytes.Clone(s.Filter)
	if s.RateLimit != nil {
		r := *s.RateLimit
		c.RateLimit = &r
	}
	return &c
}

// NewSecret returns a new random secret: "whsec_" and the base64 of 32
// bytes from crypto/rand.
func NewSecret() string {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		panic("webhook: crypto/rand failed: " + err.Error())
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key[:])
}

// decodeSecret returns the key of a "whsec_" secret.
func decodeSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("must start with %q", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("is not %q followed by standard base64", SecretPrefix)
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("key is %d bytes, want %d to %d", len(key), MinSecretBytes, MaxSecretBytes)
	}
	return key, nil
}

// Matches reports whether the subscription wants events of the type: one of
// its Events is the type, "*", or a prefix "p.*" with the type starting
// with "p.". It does not look at the organization or the state.
func (s *Subscription) Matches(eventType string) bool {
	for _, p := range s.Events {
		if matchPattern(p, eventType) {
			return true
		}
	}
	return false
}

// matchPattern reports whether an event pattern matches an event type; see
// Subscription.Events.
func matchPattern(pattern, eventType string) bool {
	if pattern == "*" || pattern == eventType {
		return true
	}
	prefix, ok := strings.CutSuffix(pattern, "*")
	return ok && strings.HasSuffix(prefix, ".") && strings.HasPrefix(eventType, prefix)
}

// ValidEventType reports whether t is a valid event type under the
// default Limits: 1 to 128 bytes (Limits.MaxEventTypeLength),
// dot-separated segments of ASCII letters, digits, '_' and '-'.
func ValidEventType(t string) bool { return validEventType(t, DefaultLimits().MaxEventTypeLength) }

func validEventType(t string, maxLen int) bool {
	if len(t) == 0 || len(t) > maxLen {
		return false
	}
	seg := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '.':
			if seg == 0 {
				return false
			}
			seg = 0
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			seg++
		default:
			return false
		}
	}
	return seg > 0
}

func validPattern(p string, maxLen int) bool {
	if p == "*" {
		return true
	}
	if len(p) > maxLen {
		return false
	}
	if prefix, ok := strings.CutSuffix(p, ".*"); ok {
		return validEventType(prefix, maxLen)
	}
	return validEventType(p, maxLen)
}

// reservedHeaders cannot be set through Subscription.Headers (lower case):
// the content and framing headers, the hop-by-hop headers, and User-Agent
// (Config.UserAgent). Names starting with "webhook-" or "proxy-" are
// refused too, and Authorization when BasicAuth is set.
var reservedHeaders = map[string]bool{
	"content-type": true, "content-length": true, "content-encoding": true,
	"host": true, "transfer-encoding": true, "connection": true,
	"keep-alive": true, "te": true, "trailer": true, "trailers": true,
	"upgrade": true, "expect": true, "http2-settings": true,
	"user-agent": true,
}

// reservedHeader reports whether a custom header may not be named k.
func reservedHeader(k string, basicAuth bool) bool {
	lk := strings.ToLower(k)
	return reservedHeaders[lk] || strings.HasPrefix(lk, "webhook-") || strings.HasPrefix(lk, "proxy-") ||
		(lk == "authorization" && basicAuth)
}

// Validate checks the subscription's fields against the default Limits
// and returns a *ValidationError wrapping ErrInvalidSubscription for the
// first bad one, naming it as the JSON form does ("url", "events[0]",
// `headers["X-Custom"]`). Fields that get defaults (ID, Secret, State,
// ContentType, Format, Type) may be empty.
//
// The Dispatcher runs the same checks before any write, with its
// Config.Limits, and adds what depends on its configuration: the address
// policy (a literal IP in a refused range, Config.HTTPSOnly; see
// AddressGuard), whose refusal also wraps ErrAddressNotAllowed, and that
// Format and Type are registered, whose refusal also wraps
// ErrUnknownFormat or ErrUnknownType.
func (s *Subscription) Validate() error { return s.validate(DefaultLimits()) }

func (s *Subscription) validate(l Limits) error {
	bad := func(field, format string, args ...any) error {
		return invalid(ErrInvalidSubscription, field, format, args...)
	}
	if s.OrganizationID == "" {
		return bad("organizationId", "is required")
	}
	if len(s.OrganizationID) > l.MaxNameLength || !printable(s.OrganizationID) {
		return bad("organizationId", "must be at most %d printable bytes", l.MaxNameLength)
	}
	if len(s.ID) > l.MaxNameLength || !printable(s.ID) {
		return bad("id", "must be at most %d printable bytes", l.MaxNameLength)
	}
	if len(s.Name) > l.MaxNameLength || !printableUTF8(s.Name) {
		return bad("name", "must be at most %d bytes of UTF-8 without control characters", l.MaxNameLength)
	}
	if s.isHTTP() {
		if err := validateURL(s.URL, l.MaxURLLength); err != nil {
			return bad("url", "%s", err)
		}
	} else if s.URL == "" || len(s.URL) > l.MaxURLLength || !printable(s.URL) {
		return bad("url", "must be 1 to %d printable bytes naming the %s sender's target", l.MaxURLLength, truncate(s.Type, 64))
	}
	if len(s.Events) == 0 {
		return bad("events", "needs at least one event type or pattern")
	}
	if len(s.Events) > l.MaxEventPatterns {
		return bad("events", "has %d entries, more than %d", len(s.Events), l.MaxEventPatterns)
	}
	for i, p := range s.Events {
		if !validPattern(p, l.MaxEventTypeLength) {
			return bad(indexField("events", i), "%q is not an event type of at most %d bytes, a prefix ending in \".*\", or \"*\"", truncate(p, 64), l.MaxEventTypeLength)
		}
	}
	switch s.ContentType {
	case "", ContentTypeJSON, ContentTypeForm:
	default:
		return bad("contentType", "must be %q or %q", ContentTypeJSON, ContentTypeForm)
	}
	if len(s.Format) > l.MaxNameLength || !printable(s.Format) {
		return bad("format", "must be at most %d printable bytes", l.MaxNameLength)
	}
	if len(s.Type) > l.MaxNameLength || !printable(s.Type) {
		return bad("type", "must be at most %d printable bytes", l.MaxNameLength)
	}
	if s.Secret != "" {
		if _, err := decodeSecret(s.Secret); err != nil {
			return bad("secret", "%s", err)
		}
	}
	if len(s.PreviousSecrets) > l.MaxPreviousSecrets {
		return bad("previousSecrets", "has %d entries, more than %d", len(s.PreviousSecrets), l.MaxPreviousSecrets)
	}
	for i, ps := range s.PreviousSecrets {
		if _, err := decodeSecret(ps.Secret); err != nil {
			return bad(indexField("previousSecrets", i)+".secret", "%s", err)
		}
		if ps.ExpiresAt.IsZero() {
			return bad(indexField("previousSecrets", i)+".expiresAt", "is required")
		}
	}
	if s.BasicAuth != nil {
		if s.BasicAuth.Username == "" {
			return bad("basicAuth.username", "is required when basicAuth is set")
		}
		if strings.Contains(s.BasicAuth.Username, ":") || !printable(s.BasicAuth.Username) || len(s.BasicAuth.Username) > l.MaxNameLength {
			return bad("basicAuth.username", "must be at most %d printable bytes without ':'", l.MaxNameLength)
		}
		if !printable(s.BasicAuth.Password) || len(s.BasicAuth.Password) > l.MaxValueLength {
			return bad("basicAuth.password", "must be at most %d printable bytes", l.MaxValueLength)
		}
	}
	if err := validateHeaders(s.Headers, s.BasicAuth != nil, l); err != nil {
		return err
	}
	if err := validateMap("customParameters", s.CustomParameters, l.MaxCustomParameters, l); err != nil {
		return err
	}
	if err := validateMap("properties", s.Properties, l.MaxProperties, l); err != nil {
		return err
	}
	if field := reservedKeyField(s); field != "" {
		return bad(field, "would replace a standard key of the body")
	}
	switch s.State {
	case "", StateActive, StateStopped, StateTooManyErrors:
	default:
		return bad("state", "must be %q, %q or %q", StateActive, StateStopped, StateTooManyErrors)
	}
	if s.ErrorsEmail != "" {
		if len(s.ErrorsEmail) > l.MaxNameLength {
			return bad("errorsEmail", "is longer than %d bytes", l.MaxNameLength)
		}
		if a, err := mail.ParseAddress(s.ErrorsEmail); err != nil || a.Address != s.ErrorsEmail {
			return bad("errorsEmail", "is not a plain e-mail address")
		}
	}
	if len(s.CreatedBy) > l.MaxNameLength || !printableUTF8(s.CreatedBy) {
		return bad("createdBy", "must be at most %d bytes of UTF-8 without control characters", l.MaxNameLength)
	}
	if len(s.UpdatedBy) > l.MaxNameLength || !printableUTF8(s.UpdatedBy) {
		return bad("updatedBy", "must be at most %d bytes of UTF-8 without control characters", l.MaxNameLength)
	}
	return s.validateControls()
}

func validateHeaders(h map[string]string, basicAuth bool, l Limits) error {
	if len(h) > l.MaxHeaders {
		return invalid(ErrInvalidSubscription, "headers", "has %d entries, more than %d", len(h), l.MaxHeaders)
	}
	seen := make(map[string]bool, len(h))
	for _, k := range sortedKeys(h) {
		v := h[k]
		field := keyField("headers", k)
		if !validHeaderName(k, l.MaxNameLength) {
			return invalid(ErrInvalidSubscription, field, "is not a valid header name of at most %d bytes", l.MaxNameLength)
		}
		if reservedHeader(k, basicAuth) {
			return invalid(ErrInvalidSubscription, field, "cannot be set: the dispatcher owns it")
		}
		lk := strings.ToLower(k)
		if seen[lk] {
			return invalid(ErrInvalidSubscription, field, "names the same header as another entry (names ignore case)")
		}
		seen[lk] = true
		if len(v) > l.MaxValueLength || !validHeaderValue(v) {
			return invalid(ErrInvalidSubscription, field, "value must be at most %d bytes without control characters", l.MaxValueLength)
		}
	}
	return nil
}

// isHTTP reports whether the subscription is delivered by HTTP POST.
func (s *Subscription) isHTTP() bool { return s.Type == "" || s.Type == TypeWebhook }

// validateURL checks a subscription URL's syntax: http or https, a host
// that is a DNS name or an IP address in standard notation, a port in
// range, no credentials, no fragment.
func validateURL(raw string, maxLen int) error {
	if raw == "" {
		return fmt.Errorf("is required")
	}
	if len(raw) > maxLen {
		return fmt.Errorf("is longer than %d bytes", maxLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https")
	}
	if u.User != nil {
		return fmt.Errorf("must not contain credentials (use basicAuth)")
	}
	if u.Hostname() == "" {
		return fmt.Errorf("has no host")
	}
	if u.Fragment != "" {
		return fmt.Errorf("must not have a fragment")
	}
	if err := validateHost(u.Hostname()); err != nil {
		return err
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port must be 1 to 65535")
		}
	}
	return nil
}

// validateHost accepts an IP address in standard notation, without a
// zone, or a DNS name of ASCII letters, digits, '-' and '_' (names in
// other scripts in their "xn--" form). A name whose last label is a number
// is refused: resolvers read "127.1", "2130706433" or "0x7f.1" as IPv4
// addresses.
func validateHost(host string) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return fmt.Errorf("host must not have an IPv6 zone")
		}
		return nil
	}
	if strings.ContainsAny(host, ":%") {
		return fmt.Errorf("host is not a valid IP address")
	}
	name := strings.TrimSuffix(host, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("host must be a DNS name of 1 to 253 bytes or an IP address")
	}
	labels := strings.Split(name, ".")
	for _, label := range labels {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("host has an empty label or one longer than 63 bytes")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("host must be ASCII letters, digits, '-', '_' and dots (IDNs in their xn-- form) or an IP address")
			}
		}
	}
	if looksNumeric(labels[len(labels)-1]) {
		return fmt.Errorf("host must be an IPv4 address in dotted decimal, without leading zeros, or a DNS name")
	}
	return nil
}

// looksNumeric reports whether a label is a number as IPv4 parsers read
// it: decimal, octal, or hexadecimal with "0x".
func looksNumeric(label string) bool {
	if rest, ok := strings.CutPrefix(strings.ToLower(label), "0x"); ok {
		for i := 0; i < len(rest); i++ {
			if c := rest[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(label); i++ {
		if label[i] < '0' || label[i] > '9' {
			return false
		}
	}
	return true
}

func validateMap(name string, m map[string]string, most int, l Limits) error {
	if len(m) > most {
		return invalid(ErrInvalidSubscription, name, "has %d entries, more than %d", len(m), most)
	}
	for _, k := range sortedKeys(m) {
		if k == "" || len(k) > l.MaxNameLength || !utf8.ValidString(k) {
			return invalid(ErrInvalidSubscription, name, "keys must be 1 to %d bytes of UTF-8", l.MaxNameLength)
		}
		if len(m[k]) > l.MaxValueLength {
			return invalid(ErrInvalidSubscription, keyField(name, k), "is longer than %d bytes", l.MaxValueLength)
		}
	}
	return nil
}

func validHeaderName(k string, maxLen int) bool {
	if k == "" || len(k) > maxLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// printableUTF8 reports whether s is valid UTF-8 without control
// characters.
func printableUTF8(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// indexField names an entry of an array field in a *ValidationError:
// name[i].
func indexField(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }

// keyField names an entry of a map field in a *ValidationError: name
// followed by the key, cut to 64 bytes, as a JSON string in brackets
// (headers["X-Custom"]).
func keyField(name, key string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(truncate(key, 64)) // a string always encodes
	return name + "[" + strings.TrimSuffix(b.String(), "\n") + "]"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// redactedURL returns the URL without credentials or query values.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	return u.String()
}

// String describes the subscription without secrets.
func (s Subscription) String() string {
	return fmt.Sprintf("Subscription{ID:%s Org:%s Name:%q URL:%s Events:%v State:%s Type:%s}",
		s.ID, s.OrganizationID, s.Name, redactedURL(s.URL), s.Events, s.State, s.Type)
}

// GoString is String, so %#v does not print secrets either.
func (s Subscription) GoString() string { return s.String() }

// LogValue describes the subscription to log/slog without secrets.
func (s Subscription) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", s.ID),
		slog.String("organization_id", s.OrganizationID),
		slog.String("url", redactedURL(s.URL)),
		slog.String("state", string(s.State)),
	)
}

// String hides the password.
func (b BasicAuth) String() string {
	return "BasicAuth{Username:" + b.Username + " Password:<redacted>}"
}

// GoString hides the password.
func (b BasicAuth) GoString() string { return b.String() }

// LogValue hides the password from log/slog, whose JSON handler would
// otherwise marshal the struct field by field.
func (b BasicAuth) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", b.Username), slog.String("password", "<redacted>"))
}

// String hides the secret.
func (p PreviousSecret) String() string {
	return "PreviousSecret{Secret:<redacted> ExpiresAt:" + p.ExpiresAt.Format(time.RFC3339) + "}"
}

// GoString hides the secret.
func (p PreviousSecret) GoString() string { return p.String() }

// LogValue hides the secret from log/slog, whose JSON handler would
// otherwise marshal the struct field by field.
func (p PreviousSecret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("secret", "<redacted>"), slog.Time("expires_at", p.ExpiresAt))
}
