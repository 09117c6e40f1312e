package webhook

import (
	"strings"
)

// FormatAgileCRM names the body format of Agile CRM's webhooks:
//
//	{"eventName":"Contact is Created","eventData":{...}}
//
// eventName is AgileCRMEventName of the event's type and eventData is the
// event's Data. The subscription's CustomParameters and Properties are not
// sent: the format has no place for them. Agile CRM subscriptions are per
// module, so a subscription typically selects "contact.*" or "deal.*".
const FormatAgileCRM = "agilecrm"

// FormatGeneric names the body format of a generic CRM's REST
// notifications:
//
//	{"event_time":"2026-01-24T09:42:59.000Z",
//	 "event_type":"contact.created",
//	 "current_context":{"organization_id":"org_1","name":"value"},
//	 "data":{...}}
//
// event_time is the event's Timestamp in GenericTimeLayout (its own zone
// offset, "Z" for UTC), event_type its Type, and current_context holds the
// organization and then the subscription's CustomParameters, sorted by
// key. A parameter named organization_id, in any case, would replace the
// organization for receivers that match keys case-insensitively (as
// encoding/json does): a subscription of this format with one is refused
// when saved, and one saved otherwise is left out. The subscription's
// Properties are not sent. Such a receiver usually checks an API key:
// send it as a custom header (Subscription.Headers).
const FormatGeneric = "generic"

// GenericTimeLayout is the layout of event_time in FormatGeneric:
// RFC 3339 with milliseconds.
const GenericTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// AgileCRM is the Format of FormatAgileCRM.
var AgileCRM Format = FormatFunc(appendAgileCRM)

// Generic is the Format of FormatGeneric.
var Generic Format = FormatFunc(appendGeneric)

// builtinFormats returns the formats every Dispatcher knows.
func builtinFormats() map[string]Format {
	return map[string]Format{
		FormatEnvelope: Envelope,
		FormatAgileCRM: AgileCRM,
		FormatGeneric:  Generic,
	}
}

// AgileCRMEventName returns the Agile CRM name of an event type: the
// segments before the last one, then "is", then the last one, each word
// capitalised, with '_' and '-' read as spaces. "contact.created" gives
// "Contact is Created", "deal.updated" "Deal is Updated", and
// "contact.tag_added" "Contact is Tag Added". A type of one segment is
// only capitalised.
func AgileCRMEventName(eventType string) string {
	var b strings.Builder
	b.Grow(len(eventType) + 3)
	last := strings.LastIndexByte(eventType, '.')
	if last >= 0 {
		writeAgileWords(&b, eventType[:last])
		b.WriteString(" is ")
	}
	writeAgileWords(&b, eventType[last+1:])
	return b.String()
}

// writeAgileWords writes s with '.', '_' and '-' as spaces and every word's
// first letter in upper case.
func writeAgileWords(b *strings.Builder, s string) {
	start := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' || c == '_' || c == '-':
			b.WriteByte(' ')
			start = true
			continue
		case start && c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
		start = false
	}
}

// genericContextKeys are the standard keys of FormatGeneric's
// current_context, beside which the subscription's CustomParameters go.
var genericContextKeys = []string{"organization_id"}

// isGenericContextKey reports whether a custom parameter named k could
// replace a standard key of FormatGeneric's current_context; like
// isEnvelopeKey, the comparison ignores case.
func isGenericContextKey(k string) bool {
	for _, std := range genericContextKeys {
		if strings.EqualFold(k, std) {
			return true
		}
	}
	return false
}

// reservedKeyField returns the field naming the first of the
// subscription's keys that a built-in format would write beside a
// standard key of the same name in any case, or "" if there is none:
//
//   - Properties, at the Envelope's top level (whatever the Format, as
//     Properties exist for the Envelope);
//   - CustomParameters, in FormatGeneric's current_context.
//
// FormatAgileCRM writes no key of the subscription's, and the Envelope's
// customParameters object has no standard keys.
func reservedKeyField(s *Subscription) string {
	for _, k := range sortedKeys(s.Properties) {
		if isEnvelopeKey(k) {
			return keyField("properties", k)
		}
	}
	if s.Format == FormatGeneric {
		for _, k := range sortedKeys(s.CustomParameters) {
			if isGenericContextKey(k) {
				return keyField("customParameters", k)
			}
		}
	}
	return ""
}

func appendAgileCRM(dst []byte, ev *Event, _ *Subscription) ([]byte, error) {
	dst = append(dst, `{"eventName":`...)
	dst = AppendJSONString(dst, AgileCRMEventName(ev.Type))
	dst = append(dst, `,"eventData":`...)
	dst = appendEventData(dst, ev.Data)
	return append(dst, '}'), nil
}

func appendGeneric(dst []byte, ev *Event, sub *Subscription) ([]byte, error) {
	dst = append(dst, `{"event_time":"`...)
	dst = ev.Timestamp.AppendFormat(dst, GenericTimeLayout)
	dst = append(dst, `","event_type":`...)
	dst = AppendJSONString(dst, ev.Type)
	dst = append(dst, `,"current_context":{"organization_id":`...)
	dst = AppendJSONString(dst, ev.OrganizationID)
	for _, k := range sortedKeys(sub.CustomParameters) {
		if isGenericContextKey(k) {
			continue
		}
		dst = append(dst, ',')
		dst = AppendJSONString(dst, k)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, sub.CustomParameters[k])
	}
	dst = append(dst, `},"data":`...)
	dst = appendEventData(dst, ev.Data)
	return append(dst, '}'), nil
}

// appendEventData appends an event's Data, null when empty.
func appendEventData(dst []byte, data []byte) []byte {
	if len(data) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, data...)
}
