package webhook_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// TestGenericCustomParametersNeverReplaceStandardKeys: a custom parameter
// named organization_id in any case would replace current_context's
// organization_id in a receiver that decodes keys case-insensitively, as
// encoding/json does: Validate refuses it, and the format leaves it out.
func TestGenericCustomParametersNeverReplaceStandardKeys(t *testing.T) {
	t.Parallel()
	ev := &webhook.Event{Type: "contact.created", OrganizationID: "org_1", Timestamp: time.Date(2017, 1, 24, 3, 42, 59, 0, neonZone), Data: json.RawMessage(`{"id":1}`)}
	for _, k := range []string{"organization_id", "ORGANIZATION_ID", "Organization_Id", "organization_ID"} {
		sub := validSubscription()
		sub.Format = webhook.FormatGeneric
		sub.CustomParameters = map[string]string{k: "org_spoofed", "extra": "kept"}
		err := sub.Validate()
		require.ErrorIs(t, err, webhook.ErrInvalidSubscription, k)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve, k)
		require.Equal(t, `customParameters["`+k+`"]`, ve.Field)

		// The format never trusts that Validate ran: the key is left out.
		body, err := webhook.Generic.AppendJSON(nil, ev, sub)
		require.NoError(t, err)
		require.NotContains(t, string(body), "org_spoofed", k)
		var got struct {
			CurrentContext struct {
				OrganizationID string `json:"organization_id"`
				Extra          string `json:"extra"`
			} `json:"current_context"`
		}
		require.NoError(t, json.Unmarshal(body, &got))
		require.Equal(t, "org_1", got.CurrentContext.OrganizationID, k)
		require.Equal(t, "kept", got.CurrentContext.Extra, k)
	}
	// Keys that merely resemble it are fine, and so is the key in a
	// format that puts custom parameters in an object of their own.
	sub := validSubscription()
	sub.Format = webhook.FormatGeneric
	sub.CustomParameters = map[string]string{"organization": "1", "organization_idx": "2", "org_id": "3"}
	require.NoError(t, sub.Validate())
	for _, f := range []string{"", webhook.FormatEnvelope, webhook.FormatAgileCRM} {
		sub := validSubscription()
		sub.Format = f
		sub.CustomParameters = map[string]string{"ORGANIZATION_ID": "x"}
		require.NoError(t, sub.Validate(), f)
	}
}

// TestAgileCRMSendsNoSubscriptionKeys: the Agile CRM body has no place for
// the subscription's keys, so none can replace eventName or eventData.
func TestAgileCRMSendsNoSubscriptionKeys(t *testing.T) {
	t.Parallel()
	ev := &webhook.Event{Type: "contact.created", OrganizationID: "org_1", Data: json.RawMessage(`{"id":1}`)}
	sub := validSubscription()
	sub.Format = webhook.FormatAgileCRM
	sub.CustomParameters = map[string]string{"EventName": "spoofed", "eventData": "spoofed"}
	sub.Properties = map[string]string{"EVENTNAME": "spoofed"}
	body, err := webhook.AgileCRM.AppendJSON(nil, ev, sub)
	require.NoError(t, err)
	require.Equal(t, []string{"eventName", "eventData"}, topLevelKeys(t, body))
	require.NotContains(t, string(body), "spoofed")
}

// TestReservedKeysRefusedAtSave: the dispatcher refuses a subscription
// whose keys collide, in any case, with a standard key of its built-in
// format's body, and stores nothing.
func TestReservedKeysRefusedAtSave(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	tests := []struct {
		name  string
		sub   func(s *webhook.Subscription)
		field string
	}{
		{"envelope property", func(s *webhook.Subscription) { s.Properties = map[string]string{"DATA": "x"} }, `properties["DATA"]`},
		{"generic custom parameter", func(s *webhook.Subscription) {
			s.Format = webhook.FormatGeneric
			s.CustomParameters = map[string]string{"ORGANIZATION_ID": "org_other"}
		}, `customParameters["ORGANIZATION_ID"]`},
		{"generic custom parameter exact", func(s *webhook.Subscription) {
			s.Format = webhook.FormatGeneric
			s.CustomParameters = map[string]string{"organization_id": "org_other"}
		}, `customParameters["organization_id"]`},
	}
	for _, tt := range tests {
		s := &webhook.Subscription{OrganizationID: "o_" + tt.name, URL: "https://hooks.example.com/in", Events: []string{"*"}}
		tt.sub(s)
		err := b.d.CreateSubscription(ctx, s)
		require.ErrorIs(t, err, webhook.ErrInvalidSubscription, tt.name)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve, tt.name)
		require.Equal(t, tt.field, ve.Field, tt.name)
		subs, _, err := b.d.ListSubscriptions(ctx, s.OrganizationID, webhook.Page{})
		require.NoError(t, err)
		require.Empty(t, subs, tt.name)
	}

	// Switching an envelope subscription with such a parameter to the
	// generic format is refused too, and the stored one is unchanged.
	s := &webhook.Subscription{
		OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"},
		CustomParameters: map[string]string{"Organization_ID": "org_other"},
	}
	require.NoError(t, b.d.CreateSubscription(ctx, s))
	u := s.Clone()
	u.Format = webhook.FormatGeneric
	err := b.d.UpdateSubscription(ctx, u)
	var ve *webhook.ValidationError
	require.ErrorAs(t, err, &ve)
	require.ErrorIs(t, err, webhook.ErrInvalidSubscription)
	require.Equal(t, `customParameters["Organization_ID"]`, ve.Field)
	got, err := b.d.GetSubscription(ctx, s.OrganizationID, s.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.FormatEnvelope, got.Format)
}
