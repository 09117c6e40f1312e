package webhook_test

import (
	"bytes"
	"encoding/base64"
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
			s.Events = make([]string, webhook.MaxEventPatterns)
			for i := range s.Events {
				s.Events[i] = "e" + strconv.Itoa(i)
			}
		},
		"max headers": func(s *webhook.Subscription) { s.BasicAuth = nil; s.Headers = manyStrings(webhook.MaxHeaders) },
		"max params":  func(s *webhook.Subscription) { s.CustomParameters = manyStrings(webhook.MaxCustomParameters) },
		"max props":   func(s *webhook.Subscription) { s.Properties = manyStrings(webhook.MaxProperties) },
		"max url": func(s *webhook.Subscription) {
			s.URL = "https://h.example/" + strings.Repeat("a", webhook.MaxURLLength-len("https://h.example/"))
		},
		"max value": func(s *webhook.Subscription) {
			s.CustomParameters = map[string]string{"k": strings.Repeat("v", webhook.MaxValueLength)}
		},
		"long pattern": func(s *webhook.Subscription) { s.Events = []string{strings.Repeat("a", webhook.MaxEventTypeLength)} },
		"long prefix": func(s *webhook.Subscription) {
			s.Events = []string{strings.Repeat("a", webhook.MaxEventTypeLength-2) + ".*"}
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
		{"no organization", func(s *webhook.Subscription) { s.OrganizationID = "" }, "OrganizationID"},
		{"long organization", func(s *webhook.Subscription) { s.OrganizationID = strings.Repeat("o", webhook.MaxNameLength+1) }, "OrganizationID"},
		{"long ID", func(s *webhook.Subscription) { s.ID = strings.Repeat("i", webhook.MaxNameLength+1) }, "ID"},
		{"long name", func(s *webhook.Subscription) { s.Name = strings.Repeat("n", webhook.MaxNameLength+1) }, "Name"},

		{"URL empty", func(s *webhook.Subscription) { s.URL = "" }, "URL"},
		{"URL ftp", func(s *webhook.Subscription) { s.URL = "ftp://files.example.com/in" }, "URL"},
		{"URL no scheme", func(s *webhook.Subscription) { s.URL = "hooks.example.com/in" }, "URL"},
		{"URL javascript", func(s *webhook.Subscription) { s.URL = "javascript:alert(1)" }, "URL"},
		{"URL credentials", func(s *webhook.Subscription) { s.URL = "https://user:pw@hooks.example.com/" }, "URL"},
		{"URL user only", func(s *webhook.Subscription) { s.URL = "https://user@hooks.example.com/" }, "URL"},
		{"URL no host", func(s *webhook.Subscription) { s.URL = "https:///path" }, "URL"},
		{"URL port only", func(s *webhook.Subscription) { s.URL = "http://:8080/" }, "URL"},
		{"URL fragment", func(s *webhook.Subscription) { s.URL = "https://h.example/#frag" }, "URL"},
		{"URL does not parse", func(s *webhook.Subscription) { s.URL = "http://h.example/%zz" }, "URL"},
		{"URL bad port", func(s *webhook.Subscription) { s.URL = "http://h.example:port/" }, "URL"},
		{"URL control char", func(s *webhook.Subscription) { s.URL = "http://h.example/\n" }, "URL"},
		{"URL decimal IPv4", func(s *webhook.Subscription) { s.URL = "http://2130706433/" }, "URL"},
		{"URL short IPv4", func(s *webhook.Subscription) { s.URL = "http://127.1/" }, "URL"},
		{"URL hex IPv4", func(s *webhook.Subscription) { s.URL = "http://0x7f.0.0.1/" }, "URL"},
		{"URL hex last label", func(s *webhook.Subscription) { s.URL = "http://h.example.0x10/" }, "URL"},
		{"URL octal IPv4", func(s *webhook.Subscription) { s.URL = "http://0177.0.0.1/" }, "URL"},
		{"URL leading zero IPv4", func(s *webhook.Subscription) { s.URL = "http://010.0.0.1/" }, "URL"},
		{"URL IPv6 zone", func(s *webhook.Subscription) { s.URL = "http://[fe80::1%25eth0]/" }, "URL"},
		{"URL port zero", func(s *webhook.Subscription) { s.URL = "http://h.example:0/" }, "URL"},
		{"URL port too high", func(s *webhook.Subscription) { s.URL = "http://h.example:65536/" }, "URL"},
		{"URL bang in host", func(s *webhook.Subscription) { s.URL = "http://ex!ample.com/" }, "URL"},
		{"URL non-ASCII host", func(s *webhook.Subscription) { s.URL = "http://bücher.example/" }, "URL"},
		{"URL empty label", func(s *webhook.Subscription) { s.URL = "http://a..example/" }, "URL"},
		{"URL long label", func(s *webhook.Subscription) { s.URL = "http://" + strings.Repeat("l", 64) + ".example/" }, "URL"},
		{"URL long host", func(s *webhook.Subscription) {
			s.URL = "http://" + strings.Repeat("l.", 127) + "example/"
		}, "URL"},
		{"URL too long", func(s *webhook.Subscription) {
			s.URL = "https://h.example/" + strings.Repeat("a", webhook.MaxURLLength-len("https://h.example/")+1)
		}, "URL"},

		{"Events nil", func(s *webhook.Subscription) { s.Events = nil }, "Events"},
		{"Events empty", func(s *webhook.Subscription) { s.Events = []string{} }, "Events"},
		{"Events empty string", func(s *webhook.Subscription) { s.Events = []string{""} }, "Events[0]"},
		{"Events bad second", func(s *webhook.Subscription) { s.Events = []string{"ok", "contact.*.created"} }, "Events[1]"},
		{"Events bare star suffix", func(s *webhook.Subscription) { s.Events = []string{"contact*"} }, "Events[0]"},
		{"Events dot star", func(s *webhook.Subscription) { s.Events = []string{".*"} }, "Events[0]"},
		{"Events space", func(s *webhook.Subscription) { s.Events = []string{"contact created"} }, "Events[0]"},
		{"Events double dot", func(s *webhook.Subscription) { s.Events = []string{"contact..created"} }, "Events[0]"},
		{"Events too long", func(s *webhook.Subscription) {
			s.Events = []string{strings.Repeat("a", webhook.MaxEventTypeLength+1)}
		}, "Events[0]"},
		{"Events too many", func(s *webhook.Subscription) {
			s.Events = make([]string, webhook.MaxEventPatterns+1)
			for i := range s.Events {
				s.Events[i] = "e" + strconv.Itoa(i)
			}
		}, "Events"},

		{"ContentType xml", func(s *webhook.Subscription) { s.ContentType = "application/xml" }, "ContentType"},
		{"ContentType with charset", func(s *webhook.Subscription) { s.ContentType = "application/json; charset=utf-8" }, "ContentType"},
		{"long Format", func(s *webhook.Subscription) { s.Format = strings.Repeat("f", webhook.MaxNameLength+1) }, "Format"},
		{"long Type", func(s *webhook.Subscription) { s.Type = strings.Repeat("t", webhook.MaxNameLength+1) }, "Type"},

		{"Secret without prefix", func(s *webhook.Subscription) {
			s.Secret = strings.TrimPrefix(webhook.NewSecret(), webhook.SecretPrefix)
		}, "Secret"},
		{"Secret not base64", func(s *webhook.Subscription) { s.Secret = "whsec_not*base64*at*all" }, "Secret"},
		{"Secret too short", func(s *webhook.Subscription) { s.Secret = secretOfLen(webhook.MinSecretBytes-1, 1) }, "Secret"},
		{"Secret too long", func(s *webhook.Subscription) { s.Secret = secretOfLen(webhook.MaxSecretBytes+1, 1) }, "Secret"},
		{"PreviousSecrets bad", func(s *webhook.Subscription) { s.PreviousSecrets[0].Secret = "whsec_short" }, "PreviousSecrets[0].Secret"},
		{"PreviousSecrets empty", func(s *webhook.Subscription) { s.PreviousSecrets[0].Secret = "" }, "PreviousSecrets[0].Secret"},
		{"PreviousSecrets no expiry", func(s *webhook.Subscription) { s.PreviousSecrets[0].ExpiresAt = time.Time{} }, "PreviousSecrets[0].ExpiresAt"},
		{"PreviousSecrets too many", func(s *webhook.Subscription) {
			for range webhook.MaxPreviousSecrets {
				s.PreviousSecrets = append(s.PreviousSecrets, s.PreviousSecrets[0])
			}
		}, "PreviousSecrets"},

		{"BasicAuth empty username", func(s *webhook.Subscription) { s.BasicAuth.Username = "" }, "BasicAuth.Username"},
		{"BasicAuth colon", func(s *webhook.Subscription) { s.BasicAuth.Username = "a:b" }, "BasicAuth.Username"},
		{"BasicAuth username newline", func(s *webhook.Subscription) { s.BasicAuth.Username = "a\nb" }, "BasicAuth.Username"},
		{"BasicAuth long username", func(s *webhook.Subscription) {
			s.BasicAuth.Username = strings.Repeat("u", webhook.MaxNameLength+1)
		}, "BasicAuth.Username"},
		{"BasicAuth password CR", func(s *webhook.Subscription) { s.BasicAuth.Password = "pw\r" }, "BasicAuth.Password"},
		{"BasicAuth long password", func(s *webhook.Subscription) {
			s.BasicAuth.Password = strings.Repeat("p", webhook.MaxValueLength+1)
		}, "BasicAuth.Password"},

		{"Headers webhook-signature", withHeader("webhook-signature", "v1,x"), "Headers[webhook-signature]"},
		{"Headers Webhook-Id", withHeader("Webhook-Id", "x"), "Headers[Webhook-Id]"},
		{"Headers WEBHOOK-TIMESTAMP", withHeader("WEBHOOK-TIMESTAMP", "1"), "Headers[WEBHOOK-TIMESTAMP]"},
		{"Headers webhook-other", withHeader("webhook-whatever", "x"), "Headers[webhook-whatever]"},
		{"Headers Content-Type", withHeader("Content-Type", "text/plain"), "Headers[Content-Type]"},
		{"Headers content-length", withHeader("content-length", "1"), "Headers[content-length]"},
		{"Headers Host", withHeader("Host", "evil.example"), "Headers[Host]"},
		{"Headers Connection", withHeader("Connection", "close"), "Headers[Connection]"},
		{"Headers Transfer-Encoding", withHeader("Transfer-Encoding", "chunked"), "Headers[Transfer-Encoding]"},
		{"Headers Upgrade", withHeader("Upgrade", "h2c"), "Headers[Upgrade]"},
		{"Headers Authorization with BasicAuth", withHeader("Authorization", "Bearer x"), "Headers[Authorization]"},
		{"Headers CR in value", withHeader("X-A", "a\rb"), "Headers[X-A]"},
		{"Headers LF in value", withHeader("X-A", "a\nInjected: yes"), "Headers[X-A]"},
		{"Headers NUL in value", withHeader("X-A", "a\x00"), "Headers[X-A]"},
		{"Headers long value", withHeader("X-A", strings.Repeat("v", webhook.MaxValueLength+1)), "Headers[X-A]"},
		{"Headers space in name", withHeader("X A", "v"), "Headers[X A]"},
		{"Headers colon in name", withHeader("X-A:", "v"), "Headers[X-A:]"},
		{"Headers empty name", withHeader("", "v"), "Headers[]"},
		{"Headers non-ASCII name", withHeader("X-Zoë", "v"), "Headers[X-Zoë]"},
		{"Headers too many", func(s *webhook.Subscription) { s.Headers = manyStrings(webhook.MaxHeaders + 1) }, "Headers"},
		{"Headers Keep-Alive", withHeader("Keep-Alive", "timeout=5"), "Headers[Keep-Alive]"},
		{"Headers TE", withHeader("TE", "trailers"), "Headers[TE]"},
		{"Headers Trailer", withHeader("Trailer", "X"), "Headers[Trailer]"},
		{"Headers Trailers", withHeader("Trailers", "X"), "Headers[Trailers]"},
		{"Headers Expect", withHeader("Expect", "100-continue"), "Headers[Expect]"},
		{"Headers HTTP2-Settings", withHeader("HTTP2-Settings", "AAMAAABkAAQAAP__"), "Headers[HTTP2-Settings]"},
		{"Headers Proxy-Authorization", withHeader("Proxy-Authorization", "Basic x"), "Headers[Proxy-Authorization]"},
		{"Headers Proxy-Connection", withHeader("Proxy-Connection", "keep-alive"), "Headers[Proxy-Connection]"},
		{"Headers Proxy-Anything", withHeader("proxy-whatever", "x"), "Headers[proxy-whatever]"},
		{"Headers Content-Encoding", withHeader("Content-Encoding", "gzip"), "Headers[Content-Encoding]"},
		{"Headers User-Agent", withHeader("User-Agent", "curl/8"), "Headers[User-Agent]"},
		{"Headers same name twice", func(s *webhook.Subscription) {
			s.Headers = map[string]string{"X-Tenant": "a", "x-tenant": "b"}
		}, "Headers[x-tenant]"},
		{"Headers DEL in value", withHeader("X-A", "a\x7f"), "Headers[X-A]"},
		{"Headers long name", withHeader("X"+strings.Repeat("n", webhook.MaxNameLength), "v"), "Headers[X" + strings.Repeat("n", 63) + "…]"},

		{"CustomParameters too many", func(s *webhook.Subscription) {
			s.CustomParameters = manyStrings(webhook.MaxCustomParameters + 1)
		}, "CustomParameters"},
		{"CustomParameters empty key", func(s *webhook.Subscription) { s.CustomParameters = map[string]string{"": "v"} }, "CustomParameters"},
		{"CustomParameters long value", func(s *webhook.Subscription) {
			s.CustomParameters = map[string]string{"k": strings.Repeat("v", webhook.MaxValueLength+1)}
		}, "CustomParameters[k]"},
		{"Properties too many", func(s *webhook.Subscription) { s.Properties = manyStrings(webhook.MaxProperties + 1) }, "Properties"},
		{"Properties long key", func(s *webhook.Subscription) {
			s.Properties = map[string]string{strings.Repeat("k", webhook.MaxNameLength+1): "v"}
		}, "Properties"},
		{"Properties standard key", func(s *webhook.Subscription) { s.Properties = map[string]string{"data": "x"} }, "Properties[data]"},
		{"Properties standard key in other case", func(s *webhook.Subscription) {
			s.Properties = map[string]string{"EventTrigger": "x"}
		}, "Properties[EventTrigger]"},
		{"Properties invalid UTF-8 key", func(s *webhook.Subscription) { s.Properties = map[string]string{"\xff": "x"} }, "Properties"},
		{"CustomParameters invalid UTF-8 key", func(s *webhook.Subscription) {
			s.CustomParameters = map[string]string{"a\xfe": "x"}
		}, "CustomParameters"},

		{"State unknown", func(s *webhook.Subscription) { s.State = "Paused" }, "State"},
		{"State wrong case", func(s *webhook.Subscription) { s.State = "active" }, "State"},

		{"ErrorsEmail no at", func(s *webhook.Subscription) { s.ErrorsEmail = "ops.example.com" }, "ErrorsEmail"},
		{"ErrorsEmail display name", func(s *webhook.Subscription) { s.ErrorsEmail = "Ops <ops@example.com>" }, "ErrorsEmail"},
		{"ErrorsEmail two", func(s *webhook.Subscription) { s.ErrorsEmail = "a@example.com, b@example.com" }, "ErrorsEmail"},
		{"ErrorsEmail newline", func(s *webhook.Subscription) { s.ErrorsEmail = "ops@example.com\nBcc: x@evil.example" }, "ErrorsEmail"},

		{"long CreatedBy", func(s *webhook.Subscription) { s.CreatedBy = strings.Repeat("c", webhook.MaxNameLength+1) }, "CreatedBy"},
		{"long UpdatedBy", func(s *webhook.Subscription) { s.UpdatedBy = strings.Repeat("c", webhook.MaxNameLength+1) }, "UpdatedBy"},
		{"CreatedBy with newline", func(s *webhook.Subscription) { s.CreatedBy = "admin\nINFO forged" }, "CreatedBy"},
		{"Name with escape", func(s *webhook.Subscription) { s.Name = "\x1b[31mred" }, "Name"},
		{"Name invalid UTF-8", func(s *webhook.Subscription) { s.Name = "\xff" }, "Name"},
		{"ID with newline", func(s *webhook.Subscription) { s.ID = "sub\n1" }, "ID"},
		{"OrganizationID with NUL", func(s *webhook.Subscription) { s.OrganizationID = "o\x00" }, "OrganizationID"},
		{"Format with newline", func(s *webhook.Subscription) { s.Format = "envelope\n" }, "Format"},
		{"Type with tab", func(s *webhook.Subscription) { s.Type = "web\thook" }, "Type"},
		{"long ErrorsEmail", func(s *webhook.Subscription) {
			s.ErrorsEmail = strings.Repeat("a", webhook.MaxNameLength) + "@example.com"
		}, "ErrorsEmail"},
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
		})
	}
}

// withHeader replaces the subscription's headers by one (keeping BasicAuth).
func withHeader(name, value string) func(s *webhook.Subscription) {
	return func(s *webhook.Subscription) { s.Headers = map[string]string{name: value} }
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
		require.Equal(t, tt.want, webhook.MatchPattern(tt.pattern, tt.eventType), "%q vs %q", tt.pattern, tt.eventType)
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
		"Secret":                    func(s *webhook.Subscription, v string) { s.Secret = v },
		"PreviousSecrets[0].Secret": func(s *webhook.Subscription, v string) { s.PreviousSecrets[0].Secret = v },
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
	for _, bad := range []string{password + "\n", password + "\x7f", password + strings.Repeat("x", webhook.MaxValueLength)} {
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
