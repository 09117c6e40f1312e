package webhook_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// validSubscription returns a subscription that passes Validate, with every
// optional field set.
func validSubscription() *webhook.Subscription {
	return &webhook.Subscription{
		ID:               "sub_01HZX",
		OrganizationID:   "org_1",
		Name:             "CRM sync",
		URL:              "https://hooks.example.com/crm?tenant=1",
		Events:           []string{"contact.created", "sale.*"},
		ContentType:      webhook.ContentTypeJSON,
		Format:           webhook.FormatEnvelope,
		Secret:           webhook.NewSecret(),
		PreviousSecrets:  []webhook.PreviousSecret{{Secret: webhook.NewSecret(), ExpiresAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}},
		BasicAuth:        &webhook.BasicAuth{Username: "neon", Password: "p@ss word"},
		Headers:          map[string]string{"X-Api-Key": "k-123", "X-Trace": "a\tb"},
		CustomParameters: map[string]string{"source": "crm"},
		Properties:       map[string]string{"tenant": "acme"},
		State:            webhook.StateActive,
		Type:             webhook.TypeWebhook,
		ErrorsEmail:      "ops@example.com",
		CreatedBy:        "admin",
		UpdatedBy:        "admin",
	}
}

func manyStrings(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m["X-K"+strconv.Itoa(i)] = "v"
	}
	return m
}

func TestSubscriptionValidateValid(t *testing.T) {
	t.Parallel()
	tests := map[string]func(s *webhook.Subscription){
		"all fields": func(s *webhook.Subscription) {},
		"minimal": func(s *webhook.Subscription) {
			*s = webhook.Subscription{OrganizationID: "o", URL: "http://h", Events: []string{"*"}}
		},
		"http":        func(s *webhook.Subscription) { s.URL = "http://example.com" },
		"port and ip": func(s *webhook.Subscription) { s.URL = "https://203.0.113.7:8443/in" },
		"ipv6":        func(s *webhook.Subscription) { s.URL = "https://[2001:db8::1]/in" },
		"form":        func(s *webhook.Subscription) { s.ContentType = webhook.ContentTypeForm },
		"no secret":   func(s *webhook.Subscription) { s.Secret = "" },
		"min secret":  func(s *webhook.Subscription) { s.Secret = secretOfLen(webhook.MinSecretBytes, 1) },
		"max secret":  func(s *webhook.Subscription) { s.Secret = secretOfLen(webhook.MaxSecretBytes, 2) },
		"vector":      func(s *webhook.Subscription) { s.Secret = vectorSecret },
		"no auth":     func(s *webhook.Subscription) { s.BasicAuth = nil },
		"empty pass":  func(s *webhook.Subscription) { s.BasicAuth.Password = "" },
		"api key auth": func(s *webhook.Subscription) {
			s.BasicAuth = nil
			s.Headers = map[string]string{"Authorization": "Bearer t"}
		},
		"header token": func(s *webhook.Subscription) { s.Headers = map[string]string{"X-Odd_Name!#$%&'*+-.^`|~": ""} },
		"utf-8 value":  func(s *webhook.Subscription) { s.Headers = map[string]string{"X-Name": "Zoë"} },
		"stopped":      func(s *webhook.Subscription) { s.State = webhook.StateStopped },
		"too many err": func(s *webhook.Subscription) { s.State = webhook.StateTooManyErrors },
		"no state":     func(s *webhook.Subscription) { s.State = "" },
		"no email":     func(s *webhook.Subscription) { s.ErrorsEmail = "" },
		"other type":   func(s *webhook.Subscription) { s.Type = "email" },
		"other format": func(s *webhook.Subscription) { s.Format = "agile" },
		"max events": func(s *webhook.Subscription) {
			s.Events = make([]string, defLimits.MaxEventPatterns)
			for i := range s.Events {
				s.Events[i] = "e" + strconv.Itoa(i)
			}
		},
		"max headers": func(s *webhook.Subscription) { s.BasicAuth = nil; s.Headers = manyStrings(defLimits.MaxHeaders) },
		"max params":  func(s *webhook.Subscription) { s.CustomParameters = manyStrings(defLimits.MaxCustomParameters) },
		"max props":   func(s *webhook.Subscription) { s.Properties = manyStrings(defLimits.MaxProperties) },
		"max url": func(s *webhook.Subscription) {
			s.URL = "https://h.example/" + strings.Repeat("a", defLimits.MaxURLLength-len("https://h.example/"))
		},
		"max value": func(s *webhook.Subscription) {
			s.CustomParameters = map[string]string{"k": strings.Repeat("v", defLimits.MaxValueLength)}
		},
		"long pattern": func(s *webhook.Subscription) { s.Events = []string{strings.Repeat("a", defLimits.MaxEventTypeLength)} },
		"long prefix": func(s *webhook.Subscription) {
			s.Events = []string{strings.Repeat("a", defLimits.MaxEventTypeLength-2) + ".*"}
		},
		"host with underscore and dash": func(s *webhook.Subscription) {
			s.URL = "https://_hooks.my-crm.example/in"
		},
		"host with a final dot": func(s *webhook.Subscription) { s.URL = "https://hooks.example.com./in" },
		"punycode host":         func(s *webhook.Subscription) { s.URL = "https://xn--bcher-kva.example/in" },
		"host with digits":      func(s *webhook.Subscription) { s.URL = "https://1.2.3.example/in" },
		"numeric label inside":  func(s *webhook.Subscription) { s.URL = "https://10.example.com/in" },
		"highest port":          func(s *webhook.Subscription) { s.URL = "https://h.example:65535/in" },
		"loopback (policy is the dispatcher's)": func(s *webhook.Subscription) {
			s.URL = "http://127.0.0.1:8080/in"
		},
		"UTF-8 name":      func(s *webhook.Subscription) { s.Name = "Zoë's CRM ✓" },
		"UTF-8 param key": func(s *webhook.Subscription) { s.CustomParameters = map[string]string{"clé": "v"} },
		"X-Proxyish name": func(s *webhook.Subscription) { s.Headers = map[string]string{"X-Proxy-Id": "1"} },
		"Authorization without auth": func(s *webhook.Subscription) {
			s.BasicAuth = nil
			s.Headers = map[string]string{"authorization": "Bearer t"}
		},
		"nested prefix": func(s *webhook.Subscription) { s.Events = []string{"contact.address.*", "*", "contact"} },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := validSubscription()
			mutate(s)
			require.NoError(t, s.Validate())
		})
	}
}

func TestSubscriptionValidateInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(s *webhook.Subscription)
		field  string
	}{
		{"no organization", func(s *webhook.Subscription) { s.OrganizationID = "" }, "organizationId"},
		{"long organization", func(s *webhook.Subscription) { s.OrganizationID = strings.Repeat("o", defLimits.MaxNameLength+1) }, "organizationId"},
		{"long ID", func(s *webhook.Subscription) { s.ID = strings.Repeat("i", defLimits.MaxNameLength+1) }, "id"},
		{"long name", func(s *webhook.Subscription) { s.Name = strings.Repeat("n", defLimits.MaxNameLength+1) }, "name"},

		{"URL empty", func(s *webhook.Subscription) { s.URL = "" }, "url"},
		{"URL ftp", func(s *webhook.Subscription) { s.URL = "ftp://files.example.com/in" }, "url"},
		{"URL no scheme", func(s *webhook.Subscription) { s.URL = "hooks.example.com/in" }, "url"},
		{"URL javascript", func(s *webhook.Subscription) { s.URL = "javascript:alert(1)" }, "url"},
		{"URL credentials", func(s *webhook.Subscription) { s.URL = "https://user:pw@hooks.example.com/" }, "url"},
		{"URL user only", func(s *webhook.Subscription) { s.URL = "https://user@hooks.example.com/" }, "url"},
		{"URL no host", func(s *webhook.Subscription) { s.URL = "https:///path" }, "url"},
		{"URL port only", func(s *webhook.Subscription) { s.URL = "http://:8080/" }, "url"},
		{"URL fragment", func(s *webhook.Subscription) { s.URL = "https://h.example/#frag" }, "url"},
		{"URL does not parse", func(s *webhook.Subscription) { s.URL = "http://h.example/%zz" }, "url"},
		{"URL bad port", func(s *webhook.Subscription) { s.URL = "http://h.example:port/" }, "url"},
		{"URL control char", func(s *webhook.Subscription) { s.URL = "http://h.example/\n" }, "url"},
		{"URL decimal IPv4", func(s *webhook.Subscription) { s.URL = "http://2130706433/" }, "url"},
		{"URL short IPv4", func(s *webhook.Subscription) { s.URL = "http://127.1/" }, "url"},
		{"URL hex IPv4", func(s *webhook.Subscription) { s.URL = "http://0x7f.0.0.1/" }, "url"},
		{"URL hex last label", func(s *webhook.Subscription) { s.URL = "http://h.example.0x10/" }, "url"},
		{"URL octal IPv4", func(s *webhook.Subscription) { s.URL = "http://0177.0.0.1/" }, "url"},
		{"URL leading zero IPv4", func(s *webhook.Subscription) { s.URL = "http://010.0.0.1/" }, "url"},
		{"URL IPv6 zone", func(s *webhook.Subscription) { s.URL = "http://[fe80::1%25eth0]/" }, "url"},
		{"URL port zero", func(s *webhook.Subscription) { s.URL = "http://h.example:0/" }, "url"},
		{"URL port too high", func(s *webhook.Subscription) { s.URL = "http://h.example:65536/" }, "url"},
		{"URL bang in host", func(s *webhook.Subscription) { s.URL = "http://ex!ample.com/" }, "url"},
		{"URL non-ASCII host", func(s *webhook.Subscription) { s.URL = "http://bücher.example/" }, "url"},
		{"URL empty label", func(s *webhook.Subscription) { s.URL = "http://a..example/" }, "url"},
		{"URL long label", func(s *webhook.Subscription) { s.URL = "http://" + strings.Repeat("l", 64) + ".example/" }, "url"},
		{"URL long host", func(s *webhook.Subscription) {
			s.URL = "http://" + strings.Repeat("l.", 127) + "example/"
		}, "url"},
		{"URL too long", func(s *webhook.Subscription) {
			s.URL = "https://h.example/" + strings.Repeat("a", defLimits.MaxURLLength-len("https://h.example/")+1)
		}, "url"},

		{"Events nil", func(s *webhook.Subscription) { s.Events = nil }, "events"},
		{"Events empty", func(s *webhook.Subscription) { s.Events = []string{} }, "events"},
		{"Events empty string", func(s *webhook.Subscription) { s.Events = []string{""} }, "events[0]"},
		{"Events bad second", func(s *webhook.Subscription) { s.Events = []string{"ok", "contact.*.created"} }, "events[1]"},
		{"Events bare star suffix", func(s *webhook.Subscription) { s.Events = []string{"contact*"} }, "events[0]"},
		{"Events dot star", func(s *webhook.Subscription) { s.Events = []string{".*"} }, "events[0]"},
		{"Events space", func(s *webhook.Subscription) { s.Events = []string{"contact created"} }, "events[0]"},
		{"Events double dot", func(s *webhook.Subscription) { s.Events = []string{"contact..created"} }, "events[0]"},
		{"Events too long", func(s *webhook.Subscription) {
			s.Events = []string{strings.Repeat("a", defLimits.MaxEventTypeLength+1)}
		}, "events[0]"},
		{"Events too many", func(s *webhook.Subscription) {
			s.Events = make([]string, defLimits.MaxEventPatterns+1)
			for i := range s.Events {
				s.Events[i] = "e" + strconv.Itoa(i)
			}
		}, "events"},

		{"ContentType xml", func(s *webhook.Subscription) { s.ContentType = "application/xml" }, "contentType"},
		{"ContentType with charset", func(s *webhook.Subscription) { s.ContentType = "application/json; charset=utf-8" }, "contentType"},
		{"long Format", func(s *webhook.Subscription) { s.Format = strings.Repeat("f", defLimits.MaxNameLength+1) }, "format"},
		{"long Type", func(s *webhook.Subscription) { s.Type = strings.Repeat("t", defLimits.MaxNameLength+1) }, "type"},

		{"Secret without prefix", func(s *webhook.Subscription) {
			s.Secret = strings.TrimPrefix(webhook.NewSecret(), webhook.SecretPrefix)
		}, "secret"},
		{"Secret not base64", func(s *webhook.Subscription) { s.Secret = "whsec_not*base64*at*all" }, "secret"},
		{"Secret too short", func(s *webhook.Subscription) { s.Secret = secretOfLen(webhook.MinSecretBytes-1, 1) }, "secret"},
		{"Secret too long", func(s *webhook.Subscription) { s.Secret = secretOfLen(webhook.MaxSecretBytes+1, 1) }, "secret"},
		{"PreviousSecrets bad", func(s *webhook.Subscription) { s.PreviousSecrets[0].Secret = "whsec_short" }, "previousSecrets[0].secret"},
		{"PreviousSecrets empty", func(s *webhook.Subscription) { s.PreviousSecrets[0].Secret = "" }, "previousSecrets[0].secret"},
		{"PreviousSecrets no expiry", func(s *webhook.Subscription) { s.PreviousSecrets[0].ExpiresAt = time.Time{} }, "previousSecrets[0].expiresAt"},
		{"PreviousSecrets too many", func(s *webhook.Subscription) {
			for range defLimits.MaxPreviousSecrets {
				s.PreviousSecrets = append(s.PreviousSecrets, s.PreviousSecrets[0])
			}
		}, "previousSecrets"},

		{"BasicAuth empty username", func(s *webhook.Subscription) { s.BasicAuth.Username = "" }, "basicAuth.username"},
		{"BasicAuth colon", func(s *webhook.Subscription) { s.BasicAuth.Username = "a:b" }, "basicAuth.username"},
		{"BasicAuth username newline", func(s *webhook.Subscription) { s.BasicAuth.Username = "a\nb" }, "basicAuth.username"},
		{"BasicAuth long username", func(s *webhook.Subscription) {
			s.BasicAuth.Username = strings.Repeat("u", defLimits.MaxNameLength+1)
		}, "basicAuth.username"},
		{"BasicAuth password CR", func(s *webhook.Subscription) { s.BasicAuth.Password = "pw\r" }, "basicAuth.password"},
		{"BasicAuth long password", func(s *webhook.Subscription) {
			s.BasicAuth.Password = strings.Repeat("p", defLimits.MaxValueLength+1)
		}, "basicAuth.password"},

		{"Headers webhook-signature", withHeader("webhook-signature", "v1,x"), `headers["webhook-signature"]`},
		{"Headers Webhook-Id", withHeader("Webhook-Id", "x"), `headers["Webhook-Id"]`},
		{"Headers WEBHOOK-TIMESTAMP", withHeader("WEBHOOK-TIMESTAMP", "1"), `headers["WEBHOOK-TIMESTAMP"]`},
		{"Headers webhook-other", withHeader("webhook-whatever", "x"), `headers["webhook-whatever"]`},
		{"Headers Content-Type", withHeader("Content-Type", "text/plain"), `headers["Content-Type"]`},
		{"Headers content-length", withHeader("content-length", "1"), `headers["content-length"]`},
		{"Headers Host", withHeader("Host", "evil.example"), `headers["Host"]`},
		{"Headers Connection", withHeader("Connection", "close"), `headers["Connection"]`},
		{"Headers Transfer-Encoding", withHeader("Transfer-Encoding", "chunked"), `headers["Transfer-Encoding"]`},
		{"Headers Upgrade", withHeader("Upgrade", "h2c"), `headers["Upgrade"]`},
		{"Headers Authorization with BasicAuth", withHeader("Authorization", "Bearer x"), `headers["Authorization"]`},
		{"Headers CR in value", withHeader("X-A", "a\rb"), `headers["X-A"]`},
		{"Headers LF in value", withHeader("X-A", "a\nInjected: yes"), `headers["X-A"]`},
		{"Headers NUL in value", withHeader("X-A", "a\x00"), `headers["X-A"]`},
		{"Headers long value", withHeader("X-A", strings.Repeat("v", defLimits.MaxValueLength+1)), `headers["X-A"]`},
		{"Headers space in name", withHeader("X A", "v"), `headers["X A"]`},
		{"Headers colon in name", withHeader("X-A:", "v"), `headers["X-A:"]`},
		{"Headers empty name", withHeader("", "v"), `headers[""]`},
		{"Headers non-ASCII name", withHeader("X-Zoë", "v"), `headers["X-Zoë"]`},
		{"Headers too many", func(s *webhook.Subscription) { s.Headers = manyStrings(defLimits.MaxHeaders + 1) }, "headers"},
		{"Headers Keep-Alive", withHeader("Keep-Alive", "timeout=5"), `headers["Keep-Alive"]`},
		{"Headers TE", withHeader("TE", "trailers"), `headers["TE"]`},
		{"Headers Trailer", withHeader("Trailer", "X"), `headers["Trailer"]`},
		{"Headers Trailers", withHeader("Trailers", "X"), `headers["Trailers"]`},
		{"Headers Expect", withHeader("Expect", "100-continue"), `headers["Expect"]`},
		{"Headers HTTP2-Settings", withHeader("HTTP2-Settings", "AAMAAABkAAQAAP__"), `headers["HTTP2-Settings"]`},
		{"Headers Proxy-Authorization", withHeader("Proxy-Authorization", "Basic x"), `headers["Proxy-Authorization"]`},
		{"Headers Proxy-Connection", withHeader("Proxy-Connection", "keep-alive"), `headers["Proxy-Connection"]`},
		{"Headers Proxy-Anything", withHeader("proxy-whatever", "x"), `headers["proxy-whatever"]`},
		{"Headers Content-Encoding", withHeader("Content-Encoding", "gzip"), `headers["Content-Encoding"]`},
		{"Headers User-Agent", withHeader("User-Agent", "curl/8"), `headers["User-Agent"]`},
		{"Headers same name twice", func(s *webhook.Subscription) {
			s.Headers = map[string]string{"X-Tenant": "a", "x-tenant": "b"}
		}, `headers["x-tenant"]`},
		{"Headers DEL in value", withHeader("X-A", "a\x7f"), `headers["X-A"]`},
		{"Headers long name", withHeader("X"+strings.Repeat("n", defLimits.MaxNameLength), "v"), `headers["X` + strings.Repeat("n", 63) + `…"]`},

		{"CustomParameters too many", func(s *webhook.Subscription) {
			s.CustomParameters = manyStrings(defLimits.MaxCustomParameters + 1)
		}, "customParameters"},
		{"CustomParameters empty key", func(s *webhook.Subscription) { s.CustomParameters = map[string]string{"": "v"} }, "customParameters"},
		{"CustomParameters long value", func(s *webhook.Subscription) {
			s.CustomParameters = map[string]string{"k": strings.Repeat("v", defLimits.MaxValueLength+1)}
		}, `customParameters["k"]`},
		{"Properties too many", func(s *webhook.Subscription) { s.Properties = manyStrings(defLimits.MaxProperties + 1) }, "properties"},
		{"Properties long key", func(s *webhook.Subscription) {
			s.Properties = map[string]string{strings.Repeat("k", defLimits.MaxNameLength+1): "v"}
		}, "properties"},
		{"Properties standard key", func(s *webhook.Subscription) { s.Properties = map[string]string{"data": "x"} }, `properties["data"]`},
		{"Properties standard key in other case", func(s *webhook.Subscription) {
			s.Properties = map[string]string{"EventTrigger": "x"}
		}, `properties["EventTrigger"]`},
		{"Properties invalid UTF-8 key", func(s *webhook.Subscription) { s.Properties = map[string]string{"\xff": "x"} }, "properties"},
		{"CustomParameters invalid UTF-8 key", func(s *webhook.Subscription) {
			s.CustomParameters = map[string]string{"a\xfe": "x"}
		}, "customParameters"},

		{"State unknown", func(s *webhook.Subscription) { s.State = "Paused" }, "state"},
		{"State wrong case", func(s *webhook.Subscription) { s.State = "active" }, "state"},

		{"ErrorsEmail no at", func(s *webhook.Subscription) { s.ErrorsEmail = "ops.example.com" }, "errorsEmail"},
		{"ErrorsEmail display name", func(s *webhook.Subscription) { s.ErrorsEmail = "Ops <ops@example.com>" }, "errorsEmail"},
		{"ErrorsEmail two", func(s *webhook.Subscription) { s.ErrorsEmail = "a@example.com, b@example.com" }, "errorsEmail"},
		{"ErrorsEmail newline", func(s *webhook.Subscription) { s.ErrorsEmail = "ops@example.com\nBcc: x@evil.example" }, "errorsEmail"},

		{"long CreatedBy", func(s *webhook.Subscription) { s.CreatedBy = strings.Repeat("c", defLimits.MaxNameLength+1) }, "createdBy"},
		{"long UpdatedBy", func(s *webhook.Subscription) { s.UpdatedBy = strings.Repeat("c", defLimits.MaxNameLength+1) }, "updatedBy"},
		{"CreatedBy with newline", func(s *webhook.Subscription) { s.CreatedBy = "admin\nINFO forged" }, "createdBy"},
		{"Name with escape", func(s *webhook.Subscription) { s.Name = "\x1b[31mred" }, "name"},
		{"Name invalid UTF-8", func(s *webhook.Subscription) { s.Name = "\xff" }, "name"},
		{"ID with newline", func(s *webhook.Subscription) { s.ID = "sub\n1" }, "id"},
		{"OrganizationID with NUL", func(s *webhook.Subscription) { s.OrganizationID = "o\x00" }, "organizationId"},
		{"Format with newline", func(s *webhook.Subscription) { s.Format = "envelope\n" }, "format"},
		{"Type with tab", func(s *webhook.Subscription) { s.Type = "web\thook" }, "type"},
		{"long ErrorsEmail", func(s *webhook.Subscription) {
			s.ErrorsEmail = strings.Repeat("a", defLimits.MaxNameLength) + "@example.com"
		}, "errorsEmail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := validSubscription()
			tt.mutate(s)
			err := s.Validate()
			require.ErrorIs(t, err, webhook.ErrInvalidSubscription)
			var ve *webhook.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.field, ve.Field)
			require.Equal(t, webhook.ErrInvalidSubscription, ve.Kind)
			require.NotEmpty(t, ve.Reason)
			require.Contains(t, err.Error(), ve.Field)
			for _, goName := range []string{"Config", "BasicAuth", "Headers", "Properties", "CustomParameters"} {
				require.NotContains(t, ve.Reason, goName, "the reason names no Go identifier")
			}
		})
	}
}

// withHeader replaces the subscription's headers by one (keeping BasicAuth).
func withHeader(name, value string) func(s *webhook.Subscription) {
	return func(s *webhook.Subscription) { s.Headers = map[string]string{name: value} }
}

// TestValidationErrorNamesMapKeysAsJSONStrings: a map entry is named
// name["key"], the key a JSON string, so keys holding dots, quotes or
// brackets stay unambiguous.
func TestValidationErrorNamesMapKeysAsJSONStrings(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("v", defLimits.MaxValueLength+1)
	tests := []struct {
		mutate func(s *webhook.Subscription)
		field  string
		key    string
	}{
		{func(s *webhook.Subscription) { s.Headers = map[string]string{"X.Dotted": "a\rb"} }, `headers["X.Dotted"]`, "X.Dotted"},
		{func(s *webhook.Subscription) { s.Properties = map[string]string{`a"b]`: long} }, `properties["a\"b]"]`, `a"b]`},
		{func(s *webhook.Subscription) { s.CustomParameters = map[string]string{"zoë <&>": long} }, `customParameters["zoë <&>"]`, "zoë <&>"},
		{func(s *webhook.Subscription) { s.CustomParameters = map[string]string{"a\nb": long} }, `customParameters["a\nb"]`, "a\nb"},
	}
	for _, tt := range tests {
		s := validSubscription()
		tt.mutate(s)
		var ve *webhook.ValidationError
		require.ErrorAs(t, s.Validate(), &ve)
		require.Equal(t, tt.field, ve.Field)
		name, rest, ok := strings.Cut(ve.Field, "[")
		require.True(t, ok)
		var key string
		require.NoError(t, json.Unmarshal([]byte(strings.TrimSuffix(rest, "]")), &key), name)
		require.Equal(t, tt.key, key)
	}
}

// TestValidationErrorCause: what CreateSubscription and UpdateSubscription
// refuse for an unknown format or type, or for the address policy, is
// errors.Is the cause as well as ErrInvalidSubscription.
func TestValidationErrorCause(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newIdleDispatcher(t, nil)
	strict := newIdleDispatcher(t, func(c *webhook.Config) { c.HTTPSOnly = true })
	good := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"}}
	require.NoError(t, d.CreateSubscription(ctx, good))
	strictGood := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"}}
	require.NoError(t, strict.CreateSubscription(ctx, strictGood))

	causes := []error{webhook.ErrUnknownFormat, webhook.ErrUnknownType, webhook.ErrAddressNotAllowed}
	tests := []struct {
		name   string
		d      *webhook.Dispatcher
		good   *webhook.Subscription
		mutate func(s *webhook.Subscription)
		field  string
		cause  error // nil: none
		hint   string
	}{
		{"unknown format", d, good, func(s *webhook.Subscription) { s.Format = "xml" }, "format", webhook.ErrUnknownFormat, "Config.Formats"},
		{"unknown type", d, good, func(s *webhook.Subscription) { s.Type = "carrier-pigeon" }, "type", webhook.ErrUnknownType, "Config.Senders"},
		{"private address", d, good, func(s *webhook.Subscription) { s.URL = "https://10.0.0.7/in" }, "url", webhook.ErrAddressNotAllowed, "Config.AllowPrivateNetworks"},
		{"metadata address", d, good, func(s *webhook.Subscription) { s.URL = "http://[::ffff:169.254.169.254]/" }, "url", webhook.ErrAddressNotAllowed, "Config.AllowedNetworks"},
		{"localhost", d, good, func(s *webhook.Subscription) { s.URL = "https://api.localhost/" }, "url", webhook.ErrAddressNotAllowed, "Config.AllowPrivateNetworks"},
		{"http under HTTPSOnly", strict, strictGood, func(s *webhook.Subscription) { s.URL = "http://hooks.example.com/in" }, "url", webhook.ErrAddressNotAllowed, "Config.HTTPSOnly"},
		{"bad scheme", d, good, func(s *webhook.Subscription) { s.URL = "ftp://hooks.example.com/" }, "url", nil, ""},
		{"bad header", d, good, func(s *webhook.Subscription) { s.Headers = map[string]string{"Host": "x"} }, `headers["Host"]`, nil, ""},
	}
	for _, tc := range tests {
		for _, op := range []string{"create", "update"} {
			name := tc.name + ", " + op
			var s *webhook.Subscription
			var err error
			if op == "create" {
				s = &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"}}
				tc.mutate(s)
				err = tc.d.CreateSubscription(ctx, s)
				require.Empty(t, s.ID, name)
			} else {
				s = tc.good.Clone()
				tc.mutate(s)
				err = tc.d.UpdateSubscription(ctx, s)
			}
			require.ErrorIs(t, err, webhook.ErrInvalidSubscription, name)
			var ve *webhook.ValidationError
			require.ErrorAs(t, err, &ve, name)
			require.Equal(t, tc.field, ve.Field, name)
			require.Equal(t, webhook.ErrInvalidSubscription, ve.Kind, name)
			for _, c := range causes {
				require.Equal(t, c == tc.cause, errors.Is(err, c), "%s: errors.Is %v", name, c)
			}
			require.False(t, errors.Is(err, webhook.ErrInvalidConfig), name)
			if tc.cause == nil {
				require.NoError(t, ve.Err, name)
				require.Equal(t, []error{webhook.ErrInvalidSubscription}, ve.Unwrap(), name)
				require.Empty(t, ve.Hint, name)
				continue
			}
			require.Equal(t, []error{webhook.ErrInvalidSubscription, ve.Err}, ve.Unwrap(), name)
			if tc.cause == webhook.ErrAddressNotAllowed {
				var ae *webhook.AddressError
				require.ErrorAs(t, err, &ae, name)
				require.NotEmpty(t, ae.Reason, name)
				require.NotContains(t, ae.Host, "[", name)
			}
			// Reason is for customers, Hint for the host's logs.
			require.NotContains(t, ve.Reason, "Config", name)
			require.Contains(t, ve.Hint, tc.hint, name)
			require.Contains(t, err.Error(), ve.Reason, name)
			require.Contains(t, err.Error(), tc.hint, name)
		}
	}
	// Nothing was stored or changed.
	got, err := d.GetSubscription(ctx, good.OrganizationID, good.ID)
	require.NoError(t, err)
	require.Equal(t, good, got)
}

// TestValidationErrorError: the message is kind, field, reason, and the
// hint in parentheses when there is one.
func TestValidationErrorError(t *testing.T) {
	t.Parallel()
	ve := &webhook.ValidationError{Kind: webhook.ErrInvalidSubscription, Field: "url", Reason: "scheme must be https"}
	require.Equal(t, "webhook: invalid subscription: url: scheme must be https", ve.Error())
	ve.Hint = "Config.HTTPSOnly"
	require.Equal(t, "webhook: invalid subscription: url: scheme must be https (Config.HTTPSOnly)", ve.Error())
	ve.Err = webhook.ErrAddressNotAllowed
	require.Equal(t, "webhook: invalid subscription: url: scheme must be https (Config.HTTPSOnly)", ve.Error(), "the reason describes the cause")
	require.ErrorIs(t, fmt.Errorf("saving: %w", ve), webhook.ErrAddressNotAllowed)
	require.ErrorIs(t, fmt.Errorf("saving: %w", ve), webhook.ErrInvalidSubscription)
}

func TestMatchPattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, eventType string
		want               bool
	}{
		{"*", "contact.created", true},
		{"*", "x", true},
		{"contact.created", "contact.created", true},
		{"contact.created", "contact.changed", false},
		{"contact.created", "contact.created.twice", false},
		{"contact.created", "Contact.Created", false},
		{"contact.*", "contact.created", true},
		{"contact.*", "contact.address.changed", true},
		{"contact.*", "contacts.created", false},
		{"contact.*", "contact", false},
		{"contact.*", "contact.", true}, // not a valid type, but a prefix match
		{"contact.*", "person.contact.created", false},
		{"contact.address.*", "contact.address.changed", true},
		{"contact.address.*", "contact.created", false},
		{"contact*", "contacts.created", false},
		{"contact*", "contact.created", false},
		{"sale.changed", "sale.*", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, (&webhook.Subscription{Events: []string{tt.pattern}}).Matches(tt.eventType), "%q vs %q", tt.pattern, tt.eventType)
	}
}

func TestSubscriptionMatches(t *testing.T) {
	t.Parallel()
	s := &webhook.Subscription{Events: []string{"contact.*", "sale.changed"}}
	for typ, want := range map[string]bool{
		"contact.created":         true,
		"contact.address.changed": true,
		"contacts.created":        false,
		"contact":                 false,
		"sale.changed":            true,
		"sale.created":            false,
		"project.created":         false,
	} {
		require.Equal(t, want, s.Matches(typ), typ)
	}
	require.False(t, (&webhook.Subscription{}).Matches("contact.created"))
	require.True(t, (&webhook.Subscription{Events: []string{"*"}}).Matches("anything.at.all"))
	// State and organization play no part.
	stopped := &webhook.Subscription{Events: []string{"*"}, State: webhook.StateStopped}
	require.True(t, stopped.Matches("contact.created"))
}

func TestValidEventType(t *testing.T) {
	t.Parallel()
	for typ, want := range map[string]bool{
		"contact.created":                     true,
		"contact":                             true,
		"Contact.Created":                     true,
		"sale_item.changed-v2":                true,
		"a.b.c.d.e":                           true,
		"0":                                   true,
		strings.Repeat("a", 128):              true,
		strings.Repeat("a", 129):              false,
		strings.Repeat("ab.", 42) + "ab":      true, // 128 bytes
		"":                                    false,
		".":                                   false,
		".contact":                            false,
		"contact.":                            false,
		"contact..created":                    false,
		"contact.*":                           false,
		"*":                                   false,
		"contact created":                     false,
		"contact/created":                     false,
		"contact:created":                     false,
		"contäct.created":                     false,
		"contact.created\n":                   false,
		"Contact is Created":                  false,
		"contact.created\x00":                 false,
		strings.Repeat("a.", 64) + "a":        false, // 129 bytes
		strings.Repeat("a", 64) + "." + "bcd": true,
	} {
		require.Equal(t, want, webhook.ValidEventType(typ), "%q", typ)
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		s := webhook.NewSecret()
		require.True(t, strings.HasPrefix(s, webhook.SecretPrefix), s)
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, webhook.SecretPrefix))
		require.NoError(t, err)
		require.Len(t, key, 32)
		require.False(t, seen[s], "NewSecret repeated itself")
		seen[s] = true

		sub := &webhook.Subscription{OrganizationID: "o", URL: "https://h.example", Events: []string{"*"}, Secret: s}
		require.NoError(t, sub.Validate())
		_, err = webhook.NewSigner(s)
		require.NoError(t, err)
	}
}

func TestSecretsNeverInOutput(t *testing.T) {
	t.Parallel()
	const (
		password  = "hunter2-Sup3rS3cret"
		apiKey    = "apikey-9f8e7d6c"
		urlToken  = "tok-5b4a3c2d"
		paramSecr = "param-0a1b2c3d"
	)
	s := validSubscription()
	s.BasicAuth.Password = password
	s.Headers = map[string]string{"X-Api-Key": apiKey}
	s.URL = "https://hooks.example.com/in?token=" + urlToken
	s.CustomParameters = map[string]string{"signing": paramSecr}
	secret, previous := s.Secret, s.PreviousSecrets[0].Secret
	secrets := []string{
		secret, strings.TrimPrefix(secret, webhook.SecretPrefix),
		previous, strings.TrimPrefix(previous, webhook.SecretPrefix),
		password, apiKey, urlToken, paramSecr,
	}

	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		outputs = append(outputs,
			fmt.Sprintf(verb, *s),
			fmt.Sprintf(verb, s),
			fmt.Sprintf(verb, []*webhook.Subscription{s}),
			fmt.Sprintf(verb, struct{ Sub webhook.Subscription }{*s}),
			fmt.Sprintf(verb, s.BasicAuth),
			fmt.Sprintf(verb, *s.BasicAuth),
			fmt.Sprintf(verb, s.PreviousSecrets),
			fmt.Sprintf(verb, s.PreviousSecrets[0]),
		)
	}
	outputs = append(outputs, s.String(), s.GoString())

	var logs bytes.Buffer
	for _, h := range []slog.Handler{
		slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}),
		slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}),
	} {
		log := slog.New(h)
		log.Info("saved", "sub", *s, "ptr", s)
		log.Info("saved", slog.Any("sub", s), slog.Group("g", "sub", *s))
		log.Info("auth", "basic", s.BasicAuth, "basicValue", *s.BasicAuth)
		log.Info("rotation", "previous", s.PreviousSecrets[0], "ptr", &s.PreviousSecrets[0])
		log.With("sub", s).Error("failed")
	}
	outputs = append(outputs, logs.String())

	// Validation errors about a bad secret or password do not quote it.
	badSecrets := map[string]func(*webhook.Subscription, string){
		"secret":                    func(s *webhook.Subscription, v string) { s.Secret = v },
		"previousSecrets[0].secret": func(s *webhook.Subscription, v string) { s.PreviousSecrets[0].Secret = v },
	}
	for field, set := range badSecrets {
		for _, bad := range []string{
			"whsec_" + strings.Repeat("A", 20),        // too short
			"whsec_" + strings.Repeat("QUJD", 30),     // too long
			"whsec_" + "not-base64-but-secret-abcdef", // not base64
			strings.TrimPrefix(webhook.NewSecret(), webhook.SecretPrefix),
		} {
			s := validSubscription()
			set(s, bad)
			err := s.Validate()
			var ve *webhook.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, field, ve.Field)
			require.NotContains(t, err.Error(), strings.TrimPrefix(bad, webhook.SecretPrefix))
			outputs = append(outputs, err.Error(), fmt.Sprintf("%+v", ve), fmt.Sprintf("%#v", ve.Reason))
		}
	}
	for _, bad := range []string{password + "\n", password + "\x7f", password + strings.Repeat("x", defLimits.MaxValueLength)} {
		s := validSubscription()
		s.BasicAuth.Password = bad
		err := s.Validate()
		require.ErrorIs(t, err, webhook.ErrInvalidSubscription)
		outputs = append(outputs, err.Error())
	}

	for _, out := range outputs {
		for _, secret := range secrets {
			require.NotContains(t, out, secret)
		}
	}
	// The output still says which subscription it is.
	require.Contains(t, fmt.Sprint(s), s.ID)
	require.Contains(t, logs.String(), s.ID)
}
