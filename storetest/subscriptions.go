package storetest

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

var subscriptionTests = []test{
	{"CreateThenGetRoundTripsEveryField", testCreateGetRoundTrip},
	{"CreateWithTakenIDFailsWithErrAlreadyExists", testCreateTakenID},
	{"GetMissingFailsWithErrNotFound", testGetMissingSubscription},
	{"StoredAndReturnedSubscriptionsAreCopies", testSubscriptionCopies},
	{"UpdateReplacesFieldsButKeepsConsecutiveFailures", testUpdateSubscription},
	{"UpdateMissingFailsWithErrNotFound", testUpdateMissingSubscription},
	{"DeleteRemovesSubscription", testDeleteSubscription},
	{"ListPaginatesInIDOrder", testListSubscriptionsPages},
	{"ListUsesDefaultLimitForZero", testListSubscriptionsDefaultLimit},
	{"ListIsScopedToOrganization", testListSubscriptionsOrg},
	{"ListRejectsLimitOutOfRange", testListSubscriptionsBadLimit},
	{"SetStateStopsAndReactivates", testSetSubscriptionState},
	{"SetStateOfMissingFailsWithErrNotFound", testSetStateMissing},
}

// fullSubscription returns a subscription with every field set.
func (e *env) fullSubscription() *webhook.Subscription {
	return &webhook.Subscription{
		ID:             newID("sub_"),
		OrganizationID: e.org,
		Name:           "CRM sync",
		URL:            "https://hooks.example.com/crm?tenant=acme",
		Events:         []string{"contact.created", "sale.*"},
		ContentType:    webhook.ContentTypeForm,
		Format:         webhook.FormatEnvelope,
		Secret:         webhook.NewSecret(),
		PreviousSecrets: []webhook.PreviousSecret{
			{Secret: webhook.NewSecret(), ExpiresAt: e.at(24 * time.Hour)},
			{Secret: webhook.NewSecret(), ExpiresAt: e.at(48 * time.Hour)},
		},
		BasicAuth:        &webhook.BasicAuth{Username: "neon", Password: "s3cret:pass"},
		Headers:          map[string]string{"X-Api-Key": "key-1", "X-Tenant": "acme"},
		CustomParameters: map[string]string{"source": "crm", "region": "eu"},
		Properties:       map[string]string{"tenant": "acme"},
		State:            webhook.StateActive,
		Type:             webhook.TypeWebhook,
		ErrorsEmail:      "ops@example.com",
		CreatedAt:        e.at(-time.Hour),
		UpdatedAt:        e.now,
		CreatedBy:        "alice",
		UpdatedBy:        "bob",
	}
}

// requireSameSubscription requires got to hold want's fields, times as the
// same instants and nil maps as empty ones.
func requireSameSubscription(t *testing.T, want, got *webhook.Subscription) {
	t.Helper()
	require.NotNil(t, got)
	require.Equal(t, want.ID, got.ID, "ID")
	require.Equal(t, want.Number, got.Number, "Number")
	require.Equal(t, want.OrganizationID, got.OrganizationID, "OrganizationID")
	require.Equal(t, want.Name, got.Name, "Name")
	require.Equal(t, want.URL, got.URL, "URL")
	require.Equal(t, want.Events, got.Events, "Events")
	require.Equal(t, want.ContentType, got.ContentType, "ContentType")
	require.Equal(t, want.Format, got.Format, "Format")
	require.Equal(t, want.Secret, got.Secret, "Secret")
	require.Len(t, got.PreviousSecrets, len(want.PreviousSecrets), "PreviousSecrets")
	for i, ps := range want.PreviousSecrets {
		require.Equal(t, ps.Secret, got.PreviousSecrets[i].Secret, "PreviousSecrets[%d].Secret", i)
		requireEqualTime(t, ps.ExpiresAt, got.PreviousSecrets[i].ExpiresAt, "PreviousSecrets.ExpiresAt")
	}
	if want.BasicAuth == nil {
		require.Nil(t, got.BasicAuth, "BasicAuth")
	} else {
		require.NotNil(t, got.BasicAuth, "BasicAuth")
		require.Equal(t, *want.BasicAuth, *got.BasicAuth, "BasicAuth")
	}
	requireSameMap(t, want.Headers, got.Headers, "Headers")
	requireSameMap(t, want.CustomParameters, got.CustomParameters, "CustomParameters")
	requireSameMap(t, want.Properties, got.Properties, "Properties")
	require.Equal(t, want.State, got.State, "State")
	require.Equal(t, want.Type, got.Type, "Type")
	require.Equal(t, want.ErrorsEmail, got.ErrorsEmail, "ErrorsEmail")
	require.Equal(t, want.ConsecutiveFailures, got.ConsecutiveFailures, "ConsecutiveFailures")
	requireEqualTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
	requireEqualTime(t, want.UpdatedAt, got.UpdatedAt, "UpdatedAt")
	require.Equal(t, want.CreatedBy, got.CreatedBy, "CreatedBy")
	require.Equal(t, want.UpdatedBy, got.UpdatedBy, "UpdatedBy")
}

func requireSameMap(t *testing.T, want, got map[string]string, field string) {
	t.Helper()
	if len(want) == 0 {
		require.Empty(t, got, field)
		return
	}
	require.Equal(t, want, got, field)
}

func testCreateGetRoundTrip(t *testing.T, e *env) {
	ctx := t.Context()
	want := e.fullSubscription()
	require.NoError(t, e.store.CreateSubscription(ctx, want))
	requireSameSubscription(t, want, e.getSubscription(t, want.ID))

	// A subscription with only the required fields round-trips too.
	bare := &webhook.Subscription{
		ID: newID("sub_"), OrganizationID: e.org, URL: "http://example.com/",
		Events: []string{"*"}, State: webhook.StateStopped,
		CreatedAt: e.now, UpdatedAt: e.now,
	}
	require.NoError(t, e.store.CreateSubscription(ctx, bare))
	requireSameSubscription(t, bare, e.getSubscription(t, bare.ID))
}

func testCreateTakenID(t *testing.T, e *env) {
	first := e.createSubscription(t)
	dup := e.newSubscription("sale.changed")
	dup.ID = first.ID
	dup.Name = "impostor"
	err := e.store.CreateSubscription(t.Context(), dup)
	require.ErrorIs(t, err, webhook.ErrAlreadyExists)
	requireSameSubscription(t, first, e.getSubscription(t, first.ID))
}

func testGetMissingSubscription(t *testing.T, e *env) {
	_, err := e.store.GetSubscription(t.Context(), e.org, newID("sub_"))
	requireNotFound(t, err, "GetSubscription of a missing ID")
}

func testSubscriptionCopies(t *testing.T, e *env) {
	in := e.fullSubscription()
	require.NoError(t, e.store.CreateSubscription(t.Context(), in))
	want := in.Clone()

	// Changing the caller's record after the call changes nothing stored.
	in.Name = "changed"
	in.Events[0] = "changed.type"
	in.Headers["X-Api-Key"] = "changed"
	in.CustomParameters["new"] = "x"
	in.BasicAuth.Password = "changed"
	in.PreviousSecrets[0].Secret = "changed"
	got := e.getSubscription(t, in.ID)
	requireSameSubscription(t, want, got)

	// Nor does changing a returned record.
	got.Events[0] = "changed.type"
	got.Headers["X-Api-Key"] = "changed"
	got.Properties["new"] = "x"
	got.BasicAuth.Username = "changed"
	requireSameSubscription(t, want, e.getSubscription(t, in.ID))
}

func testUpdateSubscription(t *testing.T, e *env) {
	ctx := t.Context()
	s := e.fullSubscription()
	require.NoError(t, e.store.CreateSubscription(ctx, s))
	for range 2 {
		_, err := e.store.RecordHealth(ctx, s.ID, false, 0, e.now)
		require.NoError(t, err)
	}

	u := e.fullSubscription()
	u.ID = s.ID
	u.Name = "renamed"
	u.URL = "https://other.example.com/hook"
	u.Events = []string{"deal.updated"}
	u.Headers = map[string]string{"X-Other": "v"}
	u.CustomParameters = nil
	u.BasicAuth = nil
	u.PreviousSecrets = nil
	u.CreatedAt = s.CreatedAt
	u.UpdatedAt = e.at(time.Minute)
	u.UpdatedBy = "carol"
	u.ConsecutiveFailures = 99 // ignored: kept from the store
	require.NoError(t, e.store.UpdateSubscription(ctx, u))

	want := *u
	want.ConsecutiveFailures = 2
	want.Number = s.Number // kept from the store too
	requireSameSubscription(t, &want, e.getSubscription(t, s.ID))

	// The match index follows the new Events.
	got, _, err := e.store.MatchSubscriptions(ctx, e.org, "contact.created")
	require.NoError(t, err)
	require.Empty(t, got, "matches for an event type the subscription no longer wants")
	got, _, err = e.store.MatchSubscriptions(ctx, e.org, "deal.updated")
	require.NoError(t, err)
	require.Equal(t, []string{s.ID}, got)
}

func testUpdateMissingSubscription(t *testing.T, e *env) {
	err := e.store.UpdateSubscription(t.Context(), e.newSubscription())
	requireNotFound(t, err, "UpdateSubscription of a missing ID")
}

func testDeleteSubscription(t *testing.T, e *env) {
	ctx := t.Context()
	s := e.createSubscription(t)
	keep := e.createSubscription(t)
	require.NoError(t, e.store.DeleteSubscription(ctx, e.org, s.ID))

	_, err := e.store.GetSubscription(ctx, e.org, s.ID)
	requireNotFound(t, err, "GetSubscription after DeleteSubscription")
	requireNotFound(t, e.store.DeleteSubscription(ctx, e.org, s.ID), "a second DeleteSubscription")

	list, _, err := e.store.ListSubscriptions(ctx, e.org, webhook.Page{})
	require.NoError(t, err)
	require.Equal(t, []string{keep.ID}, subscriptionIDs(list))
	matched, _, err := e.store.MatchSubscriptions(ctx, e.org, "contact.created")
	require.NoError(t, err)
	require.Equal(t, []string{keep.ID}, matched)

	// The ID can be used again.
	again := e.newSubscription("sale.changed")
	again.ID = s.ID
	require.NoError(t, e.store.CreateSubscription(ctx, again))
	requireSameSubscription(t, again, e.getSubscription(t, s.ID))
}

// listAllSubscriptions pages through the organization's subscriptions
// with the limit and returns the IDs of each page.
func (e *env) listSubscriptionPages(t *testing.T, org string, limit int) [][]string {
	t.Helper()
	var pages [][]string
	cursor := ""
	for {
		subs, next, err := e.store.ListSubscriptions(t.Context(), org, webhook.Page{Limit: limit, Cursor: cursor})
		require.NoError(t, err)
		require.LessOrEqual(t, len(subs), limit)
		pages = append(pages, subscriptionIDs(subs))
		if next == "" {
			return pages
		}
		require.Len(t, subs, limit, "a page before the last one is full")
		require.Less(t, len(pages), 100, "pagination does not end")
		cursor = next
	}
}

func testListSubscriptionsPages(t *testing.T, e *env) {
	// Created in an order that is not the ID order.
	var subs []*webhook.Subscription
	for range 5 {
		subs = append(subs, e.newSubscription())
	}
	for _, i := range []int{3, 0, 4, 1, 2} {
		require.NoError(t, e.store.CreateSubscription(t.Context(), subs[i]))
	}
	ids := subscriptionIDs(subs)

	require.Equal(t, [][]string{ids[0:2], ids[2:4], ids[4:5]}, e.listSubscriptionPages(t, e.org, 2))
	// A page that ends exactly at the last subscription has no next cursor.
	require.Equal(t, [][]string{ids}, e.listSubscriptionPages(t, e.org, 5))
	require.Equal(t, [][]string{ids[0:1], ids[1:2], ids[2:3], ids[3:4], ids[4:5]}, e.listSubscriptionPages(t, e.org, 1))
	require.Equal(t, [][]string{ids}, e.listSubscriptionPages(t, e.org, webhook.MaxPageLimit))

	// Full-record round trip through a listing.
	got, _, err := e.store.ListSubscriptions(t.Context(), e.org, webhook.Page{Limit: 1})
	require.NoError(t, err)
	requireSameSubscription(t, subs[0], got[0])
}

func testListSubscriptionsDefaultLimit(t *testing.T, e *env) {
	for range webhook.DefaultPageLimit + 1 {
		e.createSubscription(t)
	}
	subs, next, err := e.store.ListSubscriptions(t.Context(), e.org, webhook.Page{})
	require.NoError(t, err)
	require.Len(t, subs, webhook.DefaultPageLimit)
	require.NotEmpty(t, next)
	subs, next, err = e.store.ListSubscriptions(t.Context(), e.org, webhook.Page{Cursor: next})
	require.NoError(t, err)
	require.Len(t, subs, 1)
	require.Empty(t, next)
}

func testListSubscriptionsOrg(t *testing.T, e *env) {
	mine := e.createSubscription(t)
	other := e.otherOrg()
	theirs := other.createSubscription(t)

	require.Equal(t, [][]string{{mine.ID}}, e.listSubscriptionPages(t, e.org, 10))
	require.Equal(t, [][]string{{theirs.ID}}, e.listSubscriptionPages(t, other.org, 10))
	require.Equal(t, [][]string{{}}, e.listSubscriptionPages(t, newID("org_"), 10), "an organization without subscriptions")
}

func testListSubscriptionsBadLimit(t *testing.T, e *env) {
	e.createSubscription(t)
	for _, limit := range []int{-1, webhook.MaxPageLimit + 1} {
		_, _, err := e.store.ListSubscriptions(t.Context(), e.org, webhook.Page{Limit: limit})
		requireInvalidArgument(t, err, "ListSubscriptions with Limit "+strconv.Itoa(limit))
	}
}

func testSetSubscriptionState(t *testing.T, e *env) {
	ctx := t.Context()
	s := e.createSubscription(t)
	for range 2 {
		_, err := e.store.RecordHealth(ctx, s.ID, false, 0, e.now)
		require.NoError(t, err)
	}

	require.NoError(t, e.store.SetSubscriptionState(ctx, e.org, s.ID, webhook.StateStopped, e.at(time.Minute)))
	got := e.getSubscription(t, s.ID)
	require.Equal(t, webhook.StateStopped, got.State)
	requireEqualTime(t, e.at(time.Minute), got.UpdatedAt, "UpdatedAt")
	require.Equal(t, 2, got.ConsecutiveFailures, "ConsecutiveFailures after stopping")
	matched, _, err := e.store.MatchSubscriptions(ctx, e.org, "contact.created")
	require.NoError(t, err)
	require.Empty(t, matched, "a Stopped subscription matches nothing")

	require.NoError(t, e.store.SetSubscriptionState(ctx, e.org, s.ID, webhook.StateActive, e.at(2*time.Minute)))
	got = e.getSubscription(t, s.ID)
	require.Equal(t, webhook.StateActive, got.State)
	requireEqualTime(t, e.at(2*time.Minute), got.UpdatedAt, "UpdatedAt")
	require.Equal(t, 0, got.ConsecutiveFailures, "ConsecutiveFailures after re-activation")

	// The other fields are untouched.
	got.State, got.UpdatedAt = s.State, s.UpdatedAt
	requireSameSubscription(t, s, got)
}

func testSetStateMissing(t *testing.T, e *env) {
	err := e.store.SetSubscriptionState(t.Context(), e.org, newID("sub_"), webhook.StateStopped, e.now)
	requireNotFound(t, err, "SetSubscriptionState of a missing ID")
}

var matchTests = []test{
	{"ExactType", testMatchExact},
	{"PrefixPatternMatchesEverySegmentBelow", testMatchPrefix},
	{"WildcardMatchesEverything", testMatchWildcard},
	{"OtherOrganizationsAreExcluded", testMatchOtherOrg},
	{"InactiveSubscriptionsAreExcluded", testMatchInactive},
	{"ResultIsInIDOrderWithoutDuplicates", testMatchOrder},
}

// match returns the IDs of the subscriptions of e.org matching eventType,
// after checking that each is an Active subscription of e.org that
// matches.
func (e *env) match(t *testing.T, eventType string) []string {
	t.Helper()
	ids, _, err := e.store.MatchSubscriptions(t.Context(), e.org, eventType)
	require.NoError(t, err)
	for _, id := range ids {
		s := e.getSubscription(t, id)
		require.Equal(t, webhook.StateActive, s.State)
		require.True(t, s.Matches(eventType), "subscription %s with %v does not match %q", s.ID, s.Events, eventType)
	}
	return ids
}

func testMatchExact(t *testing.T, e *env) {
	created := e.createSubscription(t, "contact.created")
	both := e.createSubscription(t, "contact.created", "contact.deleted")
	e.createSubscription(t, "contact.updated")
	e.createSubscription(t, "contact")

	require.Equal(t, []string{created.ID, both.ID}, e.match(t, "contact.created"))
	require.Equal(t, []string{both.ID}, e.match(t, "contact.deleted"))
	require.Empty(t, e.match(t, "contact.created.extra"))
	require.Empty(t, e.match(t, "sale.created"))
}

func testMatchPrefix(t *testing.T, e *env) {
	contact := e.createSubscription(t, "contact.*")
	address := e.createSubscription(t, "contact.address.*")
	sale := e.createSubscription(t, "sale.*")

	require.Equal(t, []string{contact.ID}, e.match(t, "contact.created"))
	require.Equal(t, []string{contact.ID, address.ID}, e.match(t, "contact.address.changed"))
	require.Equal(t, []string{contact.ID, address.ID}, e.match(t, "contact.address.line.changed"))
	require.Equal(t, []string{contact.ID}, e.match(t, "contact.address"))
	require.Equal(t, []string{sale.ID}, e.match(t, "sale.changed"))
	require.Empty(t, e.match(t, "contact"), `"contact.*" does not match "contact"`)
	require.Empty(t, e.match(t, "contacts.created"))
	require.Empty(t, e.match(t, "x.contact.created"))
}

func testMatchWildcard(t *testing.T, e *env) {
	all := e.createSubscription(t, "*")
	exact := e.createSubscription(t, "contact.created")

	require.Equal(t, []string{all.ID, exact.ID}, e.match(t, "contact.created"))
	require.Equal(t, []string{all.ID}, e.match(t, "sale.changed"))
	require.Equal(t, []string{all.ID}, e.match(t, "ping"))
}

func testMatchOtherOrg(t *testing.T, e *env) {
	mine := e.createSubscription(t, "contact.created")
	other := e.otherOrg()
	other.createSubscription(t, "contact.created")
	other.createSubscription(t, "*")
	other.createSubscription(t, "contact.*")

	require.Equal(t, []string{mine.ID}, e.match(t, "contact.created"))
	require.Empty(t, e.otherOrg().match(t, "contact.created"), "an organization without subscriptions")
}

func testMatchInactive(t *testing.T, e *env) {
	ctx := t.Context()
	active := e.createSubscription(t, "contact.*")
	stopped := e.createSubscription(t, "contact.created")
	tooMany := e.createSubscription(t, "*")
	createdStopped := e.newSubscription("contact.created")
	createdStopped.State = webhook.StateStopped
	require.NoError(t, e.store.CreateSubscription(ctx, createdStopped))
	require.NoError(t, e.store.SetSubscriptionState(ctx, e.org, stopped.ID, webhook.StateStopped, e.now))
	tripped, err := e.store.RecordHealth(ctx, tooMany.ID, false, 1, e.now)
	require.NoError(t, err)
	require.True(t, tripped)

	require.Equal(t, []string{active.ID}, e.match(t, "contact.created"))

	require.NoError(t, e.store.SetSubscriptionState(ctx, e.org, stopped.ID, webhook.StateActive, e.now))
	require.Equal(t, []string{active.ID, stopped.ID}, e.match(t, "contact.created"))
}

func testMatchOrder(t *testing.T, e *env) {
	// IDs made in order, created in another order, some matching through
	// several patterns.
	subs := []*webhook.Subscription{
		e.newSubscription("contact.created", "contact.*", "*"),
		e.newSubscription("sale.changed"),
		e.newSubscription("*"),
		e.newSubscription("contact.*", "sale.*"),
		e.newSubscription("contact.created", "contact.created"),
	}
	for _, i := range []int{4, 2, 0, 3, 1} {
		require.NoError(t, e.store.CreateSubscription(t.Context(), subs[i]))
	}
	require.Equal(t, []string{subs[0].ID, subs[2].ID, subs[3].ID, subs[4].ID}, e.match(t, "contact.created"))
	require.Equal(t, []string{subs[0].ID, subs[2].ID, subs[3].ID}, e.match(t, "contact.deleted"))
	require.Equal(t, []string{subs[0].ID, subs[1].ID, subs[2].ID, subs[3].ID}, e.match(t, "sale.changed"))
}

var healthTests = []test{
	{"SuccessResetsConsecutiveFailures", testHealthSuccess},
	{"FailureTripsOnceAtThreshold", testHealthTrips},
	{"ZeroThresholdNeverTrips", testHealthZeroThreshold},
	{"InactiveSubscriptionDoesNotTrip", testHealthInactive},
	{"ConcurrentFailuresTripExactlyOnce", testHealthConcurrent},
	{"MissingSubscriptionFailsWithErrNotFound", testHealthMissing},
}

// recordHealth records one outcome and returns whether it tripped.
func (e *env) recordHealth(t *testing.T, id string, ok bool, threshold int) bool {
	t.Helper()
	tripped, err := e.store.RecordHealth(t.Context(), id, ok, threshold, e.now)
	require.NoError(t, err)
	return tripped
}

func testHealthSuccess(t *testing.T, e *env) {
	s := e.createSubscription(t)
	for range 3 {
		require.False(t, e.recordHealth(t, s.ID, false, 10))
	}
	require.Equal(t, 3, e.getSubscription(t, s.ID).ConsecutiveFailures)
	require.False(t, e.recordHealth(t, s.ID, true, 10))
	got := e.getSubscription(t, s.ID)
	require.Equal(t, 0, got.ConsecutiveFailures)
	require.Equal(t, webhook.StateActive, got.State)
	require.False(t, e.recordHealth(t, s.ID, true, 10))
	require.Equal(t, 0, e.getSubscription(t, s.ID).ConsecutiveFailures)
}

func testHealthTrips(t *testing.T, e *env) {
	s := e.createSubscription(t)
	require.False(t, e.recordHealth(t, s.ID, false, 3), "failure 1 of 3")
	require.False(t, e.recordHealth(t, s.ID, false, 3), "failure 2 of 3")
	require.Equal(t, webhook.StateActive, e.getSubscription(t, s.ID).State)
	require.True(t, e.recordHealth(t, s.ID, false, 3), "failure 3 of 3")
	got := e.getSubscription(t, s.ID)
	require.Equal(t, webhook.StateTooManyErrors, got.State)
	require.Equal(t, 3, got.ConsecutiveFailures)
	require.False(t, e.recordHealth(t, s.ID, false, 3), "failure 4 trips no more")
	got = e.getSubscription(t, s.ID)
	require.Equal(t, webhook.StateTooManyErrors, got.State)
	require.Equal(t, 4, got.ConsecutiveFailures)

	// Re-activated, it counts from zero and trips again.
	require.NoError(t, e.store.SetSubscriptionState(t.Context(), e.org, s.ID, webhook.StateActive, e.now))
	require.False(t, e.recordHealth(t, s.ID, false, 2))
	require.True(t, e.recordHealth(t, s.ID, false, 2))
}

func testHealthZeroThreshold(t *testing.T, e *env) {
	s := e.createSubscription(t)
	for range 5 {
		require.False(t, e.recordHealth(t, s.ID, false, 0))
	}
	got := e.getSubscription(t, s.ID)
	require.Equal(t, webhook.StateActive, got.State)
	require.Equal(t, 5, got.ConsecutiveFailures)
}

func testHealthInactive(t *testing.T, e *env) {
	s := e.createSubscription(t)
	require.NoError(t, e.store.SetSubscriptionState(t.Context(), e.org, s.ID, webhook.StateStopped, e.now))
	require.False(t, e.recordHealth(t, s.ID, false, 1))
	got := e.getSubscription(t, s.ID)
	require.Equal(t, webhook.StateStopped, got.State)
	require.Equal(t, 1, got.ConsecutiveFailures)
}

func testHealthConcurrent(t *testing.T, e *env) {
	const workers, threshold = 16, 4
	s := e.createSubscription(t)
	var wg sync.WaitGroup
	results := make(chan bool, workers)
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tripped, err := e.store.RecordHealth(t.Context(), s.ID, false, threshold, e.now)
			results <- tripped
			errs <- err
		}()
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	trips := 0
	for tripped := range results {
		if tripped {
			trips++
		}
	}
	require.Equal(t, 1, trips, "callers that saw tripped")
	got := e.getSubscription(t, s.ID)
	require.Equal(t, webhook.StateTooManyErrors, got.State)
	require.Equal(t, workers, got.ConsecutiveFailures)
}

func testHealthMissing(t *testing.T, e *env) {
	_, err := e.store.RecordHealth(t.Context(), newID("sub_"), false, 1, e.now)
	requireNotFound(t, err, "RecordHealth of a missing ID")
}
