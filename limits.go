package webhook

// Limits bounds what subscriptions and events may hold. A subscription or
// event past one of them is refused with a *ValidationError naming the
// field. Set Config.Limits to change them; a zero field takes its default,
// given in its doc (DefaultLimits returns them all).
// Subscription.Validate checks against the defaults; a Dispatcher checks
// against its Config.Limits.
type Limits struct {
	// MaxURLLength is the most bytes of Subscription.URL. Defaults to
	// 2048.
	MaxURLLength int
	// MaxEventPatterns is the most entries of Subscription.Events.
	// Defaults to 100.
	MaxEventPatterns int
	// MaxEventTypeLength is the most bytes of an event type
	// (Event.Type) or pattern (an entry of Subscription.Events). Defaults
	// to 128.
	MaxEventTypeLength int
	// MaxHeaders is the most entries of Subscription.Headers. Defaults to
	// 32.
	MaxHeaders int
	// MaxCustomParameters is the most entries of
	// Subscription.CustomParameters. Defaults to 64.
	MaxCustomParameters int
	// MaxProperties is the most entries of Subscription.Properties.
	// Defaults to 64.
	MaxProperties int
	// MaxNameLength is the most bytes of a name: a header name, a key of
	// CustomParameters or Properties, a subscription's ID, Name,
	// OrganizationID, Format, Type, CreatedBy, UpdatedBy, ErrorsEmail and
	// BasicAuth.Username, an event's ID and OrganizationID. At least 32,
	// so that the IDs the dispatcher generates ("sub_" and 26 characters)
	// fit. Defaults to 256.
	MaxNameLength int
	// MaxValueLength is the most bytes of a value: of a header, a custom
	// parameter, a property, and BasicAuth.Password. Defaults to 4096.
	MaxValueLength int
	// MaxPreviousSecrets is the most entries of
	// Subscription.PreviousSecrets, and so the most old secrets that keep
	// signing during rotations. Defaults to 5.
	MaxPreviousSecrets int
	// MaxDataDepth is how deep arrays and objects may nest in Event.Data:
	// `[[1]]` is 2 deep, a number or string 0. Every body format wraps
	// Data one level deeper (or more, for a custom Format), and receivers'
	// decoders stop at a depth of their own, so what Dispatch accepts must
	// stay below theirs. At most 9984: encoding/json refuses values nested
	// deeper than 10000, and the rest is room for a custom Format's
	// wrapping. Defaults to 128, which leaves room for the wrapping of any
	// format under the nesting limits of common decoders (encoding/json's
	// 10000, PHP's 512, Jackson's 1000); some stop earlier
	// (System.Text.Json and Json.NET at 64, Ruby's JSON at 100), and a
	// host whose receivers use them can lower it.
	MaxDataDepth int
}

// minNameLength is the least Limits.MaxNameLength may be: room for the
// IDs the dispatcher generates ("sub_" and 26 characters).
const minNameLength = 32

// maxDataDepthCap is the most Limits.MaxDataDepth may be: encoding/json
// refuses values nested deeper than 10000, and a body wraps Data one
// level deeper in the built-in formats; the rest is room for a custom
// Format's wrapping.
const maxDataDepthCap = 10000 - 16

// DefaultLimits returns the Limits with every field at its default.
func DefaultLimits() Limits {
	return Limits{
		MaxURLLength:        2048,
		MaxEventPatterns:    100,
		MaxEventTypeLength:  128,
		MaxHeaders:          32,
		MaxCustomParameters: 64,
		MaxProperties:       64,
		MaxNameLength:       256,
		MaxValueLength:      4096,
		MaxPreviousSecrets:  5,
		MaxDataDepth:        128,
	}
}

// withDefaults returns l with its zero fields set to their defaults.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	l.MaxURLLength = orDefault(l.MaxURLLength, d.MaxURLLength)
	l.MaxEventPatterns = orDefault(l.MaxEventPatterns, d.MaxEventPatterns)
	l.MaxEventTypeLength = orDefault(l.MaxEventTypeLength, d.MaxEventTypeLength)
	l.MaxHeaders = orDefault(l.MaxHeaders, d.MaxHeaders)
	l.MaxCustomParameters = orDefault(l.MaxCustomParameters, d.MaxCustomParameters)
	l.MaxProperties = orDefault(l.MaxProperties, d.MaxProperties)
	l.MaxNameLength = orDefault(l.MaxNameLength, d.MaxNameLength)
	l.MaxValueLength = orDefault(l.MaxValueLength, d.MaxValueLength)
	l.MaxPreviousSecrets = orDefault(l.MaxPreviousSecrets, d.MaxPreviousSecrets)
	l.MaxDataDepth = orDefault(l.MaxDataDepth, d.MaxDataDepth)
	return l
}

// check returns a *ValidationError wrapping ErrInvalidConfig for a
// negative field.
func (l Limits) check() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"MaxURLLength", l.MaxURLLength},
		{"MaxEventPatterns", l.MaxEventPatterns},
		{"MaxEventTypeLength", l.MaxEventTypeLength},
		{"MaxHeaders", l.MaxHeaders},
		{"MaxCustomParameters", l.MaxCustomParameters},
		{"MaxProperties", l.MaxProperties},
		{"MaxNameLength", l.MaxNameLength},
		{"MaxValueLength", l.MaxValueLength},
		{"MaxPreviousSecrets", l.MaxPreviousSecrets},
		{"MaxDataDepth", l.MaxDataDepth},
	} {
		if f.v < 0 {
			return invalid(ErrInvalidConfig, "Limits."+f.name, "is negative")
		}
	}
	if l.MaxNameLength != 0 && l.MaxNameLength < minNameLength {
		return invalid(ErrInvalidConfig, "Limits.MaxNameLength", "must be at least %d", minNameLength)
	}
	if l.MaxDataDepth > maxDataDepthCap {
		return invalid(ErrInvalidConfig, "Limits.MaxDataDepth", "must be at most %d", maxDataDepthCap)
	}
	return nil
}
