// Package managetest is the route suite of the management API (package
// manage), run against any Store: every route through a real HTTP server,
// answers of success and of error, another organization's records, the
// capabilities, more than fifty bad requests that must change nothing, a
// SuperOffice client's view and concurrent writers. The manage package runs
// it on memstore; the manage/apitest module runs it on pgstore too, with
// every answer validated against the OpenAPI document.
//
//	func TestRoutes(t *testing.T) {
//		managetest.Run(t, func(t *testing.T) webhook.Store { return memstore.New() }, nil)
//	}
package managetest

import (
	"net/http"
	"testing"

	"github.com/relayhook/webhook"
)

// Options adapt the suite to its caller.
type Options struct {
	// Transport, when set, wraps the transport of the client that sends
	// the suite's requests, to look at every answer (as the OpenAPI
	// validation does). Defaults to nil: the plain client.
	Transport func(http.RoundTripper) http.RoundTripper
}

// Run runs the suite. newStore must return a new, empty store each time
// it is called (once per subtest, or once for a group of subtests that
// share a dispatcher) and may register cleanups on the t it is given.
func Run(t *testing.T, newStore func(t *testing.T) webhook.Store, opts *Options) {
	s := &suite{newStore: newStore}
	if opts != nil {
		s.opts = *opts
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *suite)
	}{
		{"SubscriptionLifecycle", testSubscriptionLifecycle},
		{"DeliveryControls", testDeliveryControls},
		{"DeliveriesEventsStatsAndRetry", testDeliveriesEventsStatsAndRetry},
		{"OtherOrganizationIsNotFound", testOtherOrganizationIsNotFound},
		{"Authorization", testAuthorization},
		{"ConcurrentWriters", testConcurrentWriters},
		{"UnknownRouteAndMethod", testUnknownRouteAndMethod},
		{"ResumeReactivatesTooManyErrors", testResumeReactivatesTooManyErrors},
		{"AuditOfDeliveryActions", testAuditOfDeliveryActions},
		{"SuperOfficeRoutesAreOptIn", testSuperOfficeRoutesAreOptIn},
		{"SuperOfficeClient", testSuperOfficeClient},
		{"BadRequests", testBadRequests},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, s) })
	}
}

// suite is what every test of the suite is given.
type suite struct {
	newStore func(t *testing.T) webhook.Store
	opts     Options
}
