package webhook_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// secretStrings returns what of a subscription's secrets and password must
// never show: each secret whole and without its prefix (the key), and the
// password.
func secretStrings(s *webhook.Subscription) []string {
	out := []string{s.Secret, strings.TrimPrefix(s.Secret, webhook.SecretPrefix)}
	for _, p := range s.PreviousSecrets {
		out = append(out, p.Secret, strings.TrimPrefix(p.Secret, webhook.SecretPrefix))
	}
	if s.BasicAuth != nil {
		out = append(out, s.BasicAuth.Password)
	}
	return out
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestSubscriptionJSONNames(t *testing.T) {
	t.Parallel()
	s := validSubscription()
	s.ConsecutiveFailures = 3
	s.CreatedAt = time.Date(2017, 1, 24, 3, 42, 59, 123000000, neonZone)
	s.UpdatedAt = time.Date(2017, 1, 25, 9, 0, 0, 0, time.UTC)
	out := marshal(t, s)

	var keys map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(out), &keys))
	got := slices.Sorted(maps.Keys(keys))
	require.Equal(t, []string{
		"basicAuth", "consecutiveFailures", "contentType", "createdAt", "createdBy", "customParameters",
		"errorsEmail", "events", "format", "headers", "id", "name", "organizationId", "previousSecrets",
		"properties", "state", "type", "updatedAt", "updatedBy", "url",
	}, got, "every field but the secret, in camelCase")
	require.JSONEq(t, `"2017-01-24T03:42:59.123-06:00"`, string(keys["createdAt"]), "RFC 3339 with the zone offset")
	require.JSONEq(t, `"2017-01-25T09:00:00Z"`, string(keys["updatedAt"]))
	require.JSONEq(t, `{"username":"neon"}`, string(keys["basicAuth"]))
	require.JSONEq(t, `[{"expiresAt":"2030-01-01T00:00:00Z"}]`, string(keys["previousSecrets"]))
	require.JSONEq(t, `["contact.created","sale.*"]`, string(keys["events"]))
	require.JSONEq(t, `{"X-Api-Key":"k-123","X-Trace":"a\tb"}`, string(keys["headers"]))
	require.JSONEq(t, `"Active"`, string(keys["state"]))
	require.JSONEq(t, `3`, string(keys["consecutiveFailures"]))

	// What is optional is left out when empty; the required fields and
	// the failure count stay.
	out = marshal(t, webhook.Subscription{})
	require.JSONEq(t, `{"organizationId":"","url":"","events":null,"consecutiveFailures":0}`, out)
}

// TestJSONNeverContainsSecrets marshals every record that holds a secret
// or a password, alone, by pointer, in slices and maps, embedded and in
// named fields, and finds none of them in the output.
func TestJSONNeverContainsSecrets(t *testing.T) {
	t.Parallel()
	s := validSubscription()
	s.PreviousSecrets = append(s.PreviousSecrets, webhook.PreviousSecret{Secret: webhook.NewSecret(), ExpiresAt: t0})
	secrets := secretStrings(s)
	before := s.Clone()

	type named struct {
		Sub   webhook.Subscription  `json:"sub"`
		Ptr   *webhook.Subscription `json:"ptr"`
		Auth  webhook.BasicAuth     `json:"auth"`
		Prev  webhook.PreviousSecret
		Other string `json:"other"`
	}
	type embedsSubscription struct {
		webhook.Subscription
		Other string
	}
	type embedsPointer struct {
		*webhook.Subscription
	}
	type embedsAuth struct {
		webhook.BasicAuth
		Realm string
	}
	type embedsPrevious struct {
		*webhook.PreviousSecret
	}
	values := map[string]any{
		"Subscription":          *s,
		"*Subscription":         s,
		"[]*Subscription":       []*webhook.Subscription{s, s},
		"[]Subscription":        []webhook.Subscription{*s},
		"map of Subscription":   map[string]webhook.Subscription{"a": *s},
		"BasicAuth":             *s.BasicAuth,
		"*BasicAuth":            s.BasicAuth,
		"PreviousSecret":        s.PreviousSecrets[0],
		"*PreviousSecret":       &s.PreviousSecrets[1],
		"[]PreviousSecret":      s.PreviousSecrets,
		"named fields":          named{Sub: *s, Ptr: s, Auth: *s.BasicAuth, Prev: s.PreviousSecrets[0], Other: "kept"},
		"embedded Subscription": embedsSubscription{Subscription: *s, Other: "x"},
		"embedded pointer":      embedsPointer{s},
		"embedded BasicAuth":    embedsAuth{BasicAuth: *s.BasicAuth, Realm: "r"},
		"embedded previous":     embedsPrevious{&s.PreviousSecrets[0]},
		"Delivery":              webhook.Delivery{ID: "dl_1", Subscription: s},
		"[]any":                 []any{s, *s.BasicAuth, s.PreviousSecrets[1]},
	}
	for name, v := range values {
		out := marshal(t, v)
		for _, secret := range secrets {
			require.NotContains(t, out, secret, name)
		}
		require.NotContains(t, out, `"secret"`, name)
		require.NotContains(t, out, `"password"`, name)
		// json.Encoder and MarshalIndent go the same way.
		ind, err := json.MarshalIndent(v, "", "  ")
		require.NoError(t, err)
		for _, secret := range secrets {
			require.NotContains(t, string(ind), secret, name)
		}
	}
	// The rest is still there, and the Go values are untouched.
	out := marshal(t, values["named fields"])
	require.Contains(t, out, `"other":"kept"`)
	require.Contains(t, out, `"username":"neon"`)
	require.Contains(t, out, `"url":"https://hooks.example.com/crm?tenant=1"`)
	require.Equal(t, before, s)
}

// TestJSONAcceptsSecrets: secrets and passwords are write-only, so a
// client may set its own on create.
func TestJSONAcceptsSecrets(t *testing.T) {
	t.Parallel()
	secret, old := webhook.NewSecret(), webhook.NewSecret()
	in := `{
		"id": "sub_1", "organizationId": "org_1", "name": "n", "url": "https://hooks.example.com/in",
		"events": ["contact.*"], "contentType": "application/x-www-form-urlencoded", "format": "envelope",
		"secret": "` + secret + `",
		"previousSecrets": [{"secret": "` + old + `", "expiresAt": "2030-01-01T00:00:00+01:00"}],
		"basicAuth": {"username": "neon", "password": "p@ss"},
		"headers": {"X-Api-Key": "k"}, "customParameters": {"source": "crm"}, "properties": {"tenant": "acme"},
		"state": "Stopped", "type": "webhook", "errorsEmail": "ops@example.com",
		"consecutiveFailures": 2, "createdAt": "2017-01-24T03:42:59-06:00", "updatedAt": "2017-01-25T00:00:00Z",
		"createdBy": "ada", "updatedBy": "bob"
	}`
	var s webhook.Subscription
	require.NoError(t, json.Unmarshal([]byte(in), &s))
	require.Equal(t, webhook.Subscription{
		ID: "sub_1", OrganizationID: "org_1", Name: "n", URL: "https://hooks.example.com/in",
		Events: []string{"contact.*"}, ContentType: webhook.ContentTypeForm, Format: webhook.FormatEnvelope,
		Secret:           secret,
		PreviousSecrets:  []webhook.PreviousSecret{{Secret: old, ExpiresAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600))}},
		BasicAuth:        &webhook.BasicAuth{Username: "neon", Password: "p@ss"},
		Headers:          map[string]string{"X-Api-Key": "k"},
		CustomParameters: map[string]string{"source": "crm"},
		Properties:       map[string]string{"tenant": "acme"},
		State:            webhook.StateStopped, Type: webhook.TypeWebhook, ErrorsEmail: "ops@example.com",
		ConsecutiveFailures: 2,
		CreatedAt:           time.Date(2017, 1, 24, 3, 42, 59, 0, time.FixedZone("", -6*3600)),
		UpdatedAt:           time.Date(2017, 1, 25, 0, 0, 0, 0, time.UTC),
		CreatedBy:           "ada", UpdatedBy: "bob",
	}, s)
	require.NoError(t, s.Validate())

	// A round trip keeps everything but what is write-only.
	var back webhook.Subscription
	require.NoError(t, json.Unmarshal([]byte(marshal(t, s)), &back))
	want := *s.Clone()
	want.Secret = ""
	want.PreviousSecrets[0].Secret = ""
	want.BasicAuth.Password = ""
	require.Equal(t, want, back)

	var b webhook.BasicAuth
	require.NoError(t, json.Unmarshal([]byte(`{"username":"u","password":"pw"}`), &b))
	require.Equal(t, webhook.BasicAuth{Username: "u", Password: "pw"}, b)
	var p webhook.PreviousSecret
	require.NoError(t, json.Unmarshal([]byte(`{"secret":"`+old+`","expiresAt":"2030-01-01T00:00:00Z"}`), &p))
	require.Equal(t, old, p.Secret)
}

func TestEventJSON(t *testing.T) {
	t.Parallel()
	ev := webhook.Event{
		ID: "evt_1", Type: "contact.created", OrganizationID: "org_1",
		Timestamp: time.Date(2017, 1, 24, 3, 42, 59, 0, neonZone),
		Data:      json.RawMessage(`{"id": 1, "tags": ["a"]}`),
	}
	out := marshal(t, ev)
	require.Equal(t, `{"id":"evt_1","type":"contact.created","organizationId":"org_1","timestamp":"2017-01-24T03:42:59-06:00","data":{"id":1,"tags":["a"]}}`, out,
		"data is the payload as raw JSON, not a base64 string")
	require.Equal(t, out, marshal(t, &ev))

	var back webhook.Event
	require.NoError(t, json.Unmarshal([]byte(out), &back))
	require.Equal(t, ev.ID, back.ID)
	require.Equal(t, ev.Type, back.Type)
	require.Equal(t, ev.OrganizationID, back.OrganizationID)
	require.True(t, ev.Timestamp.Equal(back.Timestamp))
	require.JSONEq(t, string(ev.Data), string(back.Data))

	// Empty data is null; a zero timestamp and an empty ID are left out.
	require.Equal(t, `{"type":"a.b","organizationId":"o","data":null}`, marshal(t, webhook.Event{Type: "a.b", OrganizationID: "o"}))
}
