package webhook_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

var testCatalog = []webhook.EventType{
	{Name: "contact.created", Description: "A contact was added.", Example: json.RawMessage(`{"contactId":1}`)},
	{Name: "contact.address.changed", Description: "A contact moved."},
	{Name: "sale.changed", Description: "Old.", Deprecated: true},
}

func TestCatalogRefusesPatternsThatMatchNoType(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *webhook.Config) { c.EventTypes = testCatalog })
	ctx := context.Background()

	names := []string{}
	for _, et := range b.d.EventTypes() {
		names = append(names, et.Name)
	}
	require.Equal(t, []string{"contact.address.changed", "contact.created", "sale.changed"}, names, "sorted by name")

	for _, ok := range [][]string{{"contact.created"}, {"contact.*"}, {"*"}, {"sale.changed"}} {
		s := &webhook.Subscription{OrganizationID: "org1", URL: "https://example.com/hook", Events: ok}
		require.NoError(t, b.d.CreateSubscription(ctx, s), "%v", ok)
	}
	s := &webhook.Subscription{OrganizationID: "org1", URL: "https://example.com/hook", Events: []string{"contact.created", "contakt.created"}}
	err := b.d.CreateSubscription(ctx, s)
	var ve *webhook.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "events[1]", ve.Field)
	require.ErrorIs(t, err, webhook.ErrUnknownEventType)
	require.Empty(t, s.ID, "nothing stored")
	subs, _, err := b.d.ListSubscriptions(ctx, "org1", webhook.Page{})
	require.NoError(t, err)
	require.Len(t, subs, 4)
}

func TestCatalogIsChecked(t *testing.T) {
	t.Parallel()
	for name, types := range map[string][]webhook.EventType{
		"bad name":    {{Name: "no spaces"}},
		"twice":       {{Name: "a.b"}, {Name: "a.b"}},
		"bad example": {{Name: "a.b", Example: json.RawMessage(`{`)}},
	} {
		_, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{EventTypes: types})
		require.ErrorIs(t, err, webhook.ErrInvalidConfig, name)
	}
}

func TestSendTestReachesOneSubscriptionOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *webhook.Config) { c.EventTypes = testCatalog })
	ctx := context.Background()
	target, other := newReceiver(t), newReceiver(t)
	s := b.subscribe("org1", target.URL, "sale.changed")
	b.subscribe("org1", other.URL, "*")

	dl, err := b.d.SendTest(ctx, "org1", s.ID, "contact.created")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return target.count() == 1 }, 5*time.Second, time.Millisecond)
	require.Contains(t, string(target.requests[0].body), `"contactId":1`, "the example payload")
	require.Equal(t, 0, other.count())

	got, attempts, err := b.d.GetDelivery(ctx, "org1", dl.ID)
	require.NoError(t, err)
	require.Equal(t, "contact.created", got.EventType)
	require.Eventually(t, func() bool {
		_, attempts, _ = b.d.GetDelivery(ctx, "org1", dl.ID)
		return len(attempts) == 1
	}, 5*time.Second, time.Millisecond)

	// Replay to the other subscription does not send the test event.
	subs, _, err := b.d.ListSubscriptions(ctx, "org1", webhook.Page{})
	require.NoError(t, err)
	n, err := b.d.Replay(ctx, "org1", subs[1].ID, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Zero(t, n)

	_, err = b.d.SendTest(ctx, "org1", s.ID, "nope.nope")
	require.ErrorIs(t, err, webhook.ErrUnknownEventType)
	_, err = b.d.SendTest(ctx, "org2", s.ID, "contact.created")
	require.ErrorIs(t, err, webhook.ErrNotFound)
	require.NoError(t, b.d.SetSubscriptionState(ctx, "org1", s.ID, webhook.StateStopped))
	_, err = b.d.SendTest(ctx, "org1", s.ID, "contact.created")
	require.ErrorIs(t, err, webhook.ErrInvalidState)
}
