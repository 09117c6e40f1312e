package managetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBadRequests sends requests that must be refused: each gets its
// status and a problem body naming the field, and changes nothing.
func testBadRequests(t *testing.T, ts *suite) {
	e := ts.setup(t)
	id := e.createTo("admin-a", e.rcvURL)
	ok := e.rcvURL
	sub := "/subscriptions/" + id
	huge := `{"name":"` + strings.Repeat("x", 70<<10) + `","url":"https://example.com","events":["contact.created"]}`
	cases := []struct {
		name, method, path, body, ctype string
		status                          int
		field                           string
	}{
		{"malformed JSON", "POST", "/subscriptions", `{"url":`, "", 400, ""},
		{"not JSON at all", "POST", "/subscriptions", `url=x`, "", 400, ""},
		{"two JSON values", "POST", "/subscriptions", `{} {}`, "", 400, ""},
		{"empty body", "POST", "/subscriptions", ``, "", 400, ""},
		{"array body", "POST", "/subscriptions", `[]`, "", 422, "$"},
		{"url a number", "POST", "/subscriptions", `{"url":5,"events":["contact.created"]}`, "", 422, "url"},
		{"events a string", "POST", "/subscriptions", `{"url":"https://example.com","events":"contact.created"}`, "", 422, "events"},
		{"events of numbers", "POST", "/subscriptions", `{"url":"https://example.com","events":[1]}`, "", 422, "events"},
		{"headers an array", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"headers":[]}`, "", 422, "headers"},
		{"header value a number", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"headers":{"X":1}}`, "", 422, "headers"},
		{"basicAuth a string", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"basicAuth":"u:p"}`, "", 422, "basicAuth"},
		{"unknown field", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"colour":"red"}`, "", 422, "colour"},
		{"organization in body", "POST", "/subscriptions", `{"organizationId":"org_b","url":"https://example.com","events":["contact.created"]}`, "", 422, "organizationId"},
		{"id in body", "POST", "/subscriptions", `{"id":"sub_x","url":"https://example.com","events":["contact.created"]}`, "", 422, "id"},
		{"missing url", "POST", "/subscriptions", `{"events":["contact.created"]}`, "", 422, "url"},
		{"missing events", "POST", "/subscriptions", `{"url":"https://example.com"}`, "", 422, "events"},
		{"empty events", "POST", "/subscriptions", `{"url":"https://example.com","events":[]}`, "", 422, "events"},
		{"uncatalogued event", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created","contakt.created"]}`, "", 422, "events[1]"},
		{"bad pattern", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact..x"]}`, "", 422, "events[0]"},
		{"ftp url", "POST", "/subscriptions", `{"url":"ftp://example.com/x","events":["contact.created"]}`, "", 422, "url"},
		{"url with credentials", "POST", "/subscriptions", `{"url":"https://u:p@example.com/","events":["contact.created"]}`, "", 422, "url"},
		{"SSRF metadata address", "POST", "/subscriptions", `{"url":"http://169.254.169.254/latest/meta-data","events":["contact.created"]}`, "", 422, "url"},
		{"SSRF Azure WireServer", "POST", "/subscriptions", `{"url":"http://168.63.129.16/","events":["contact.created"]}`, "", 422, "url"},
		{"SSRF unspecified", "POST", "/subscriptions", `{"url":"http://0.0.0.0:8080/","events":["contact.created"]}`, "", 422, "url"},
		{"reserved header", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"headers":{"Content-Type":"text/plain"}}`, "", 422, `headers["Content-Type"]`},
		{"bad secret", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"secret":"hunter2"}`, "", 422, "secret"},
		{"bad state", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"state":"TooManyErrors"}`, "", 422, "state"},
		{"unknown format", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"format":"xml"}`, "", 422, "format"},
		{"unknown type", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"type":"carrier-pigeon"}`, "", 422, "type"},
		{"bad content type value", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"contentType":"text/xml"}`, "", 422, "contentType"},
		{"bad errors email", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"errorsEmail":"not an address"}`, "", 422, "errorsEmail"},
		{"filter a string", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"filter":"amount>5"}`, "", 422, "filter"},
		{"filter bad operand", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"filter":{"data.amount":{"$gte":true}}}`, "", 422, `filter["data.amount"]["$gte"]`},
		{"filter unknown operator", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"filter":{"data.name":{"$regex":"^a"}}}`, "", 422, `filter["data.name"]["$regex"]`},
		{"filter bad path", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"filter":{"amount":5}}`, "", 422, `filter["amount"]`},
		{"rateLimit zero requests", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"rateLimit":{"requests":0,"per":"second"}}`, "", 422, "rateLimit.requests"},
		{"rateLimit per hour", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"rateLimit":{"requests":5,"per":"hour"}}`, "", 422, "rateLimit.per"},
		{"rateLimit a string", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"rateLimit":"10/s"}`, "", 422, "rateLimit"},
		{"rateLimit requests a string", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"rateLimit":{"requests":"10","per":"second"}}`, "", 422, "rateLimit.requests"},
		{"maxConcurrency negative", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"maxConcurrency":-1}`, "", 422, "maxConcurrency"},
		{"maxConcurrency too big", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"maxConcurrency":1001}`, "", 422, "maxConcurrency"},
		{"ordered with concurrency", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"ordered":true,"maxConcurrency":4}`, "", 422, "maxConcurrency"},
		{"ordered a string", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"],"ordered":"yes"}`, "", 422, "ordered"},
		{"PUT bad filter", "PUT", sub, fmt.Sprintf(`{"url":%q,"events":["contact.created"],"filter":{"$or":[]}}`, ok), "", 422, `filter["$or"]`},
		{"PATCH rateLimit without per", "PATCH", sub, `{"rateLimit":{"requests":5}}`, "", 422, "rateLimit.per"},
		{"PATCH bad filter", "PATCH", sub, `{"filter":{"data.x":{"$in":"a"}}}`, "", 422, `filter["data.x"]["$in"]`},
		{"huge body", "POST", "/subscriptions", huge, "", 413, ""},
		{"text/plain body", "POST", "/subscriptions", `{"url":"https://example.com","events":["contact.created"]}`, "text/plain", 415, ""},
		{"form body", "POST", "/subscriptions", `url=https://example.com`, "application/x-www-form-urlencoded", 415, ""},
		{"PUT secret", "PUT", sub, fmt.Sprintf(`{"url":%q,"events":["contact.created"],"secret":"whsec_AAAA"}`, ok), "", 422, "secret"},
		{"PUT empty url", "PUT", sub, `{"url":"","events":["contact.created"]}`, "", 422, "url"},
		{"PATCH not an object", "PATCH", sub, `["name"]`, "", 422, "$"},
		{"PATCH unknown field", "PATCH", sub, `{"nmae":"x"}`, "", 422, "nmae"},
		{"PATCH wrong type", "PATCH", sub, `{"name":7}`, "", 422, "name"},
		{"PATCH removes url", "PATCH", sub, `{"url":null}`, "", 422, "url"},
		{"PATCH SSRF", "PATCH", sub, `{"url":"http://[::1]:9/"}`, "", 422, "url"},
		{"rotate bad secret", "POST", sub + "/rotate-secret", `{"secret":"whsec_short"}`, "", 422, "secret"},
		{"rotate unknown field", "POST", sub + "/rotate-secret", `{"grace":"1h"}`, "", 422, "grace"},
		{"test without type", "POST", sub + "/test", `{}`, "", 422, "eventType"},
		{"test of a number", "POST", sub + "/test", `{"eventType":1}`, "", 422, "eventType"},
		{"bulk retry bad state", "POST", sub + "/redeliver", `{"state":"pending"}`, "", 422, "state"},
		{"bulk retry bad time", "POST", sub + "/redeliver", `{"createdFrom":"yesterday"}`, "", 422, "createdFrom"},
		{"bulk retry reversed range", "POST", sub + "/redeliver", `{"createdFrom":"2026-02-01T00:00:00Z","createdTo":"2026-01-01T00:00:00Z"}`, "", 422, "createdTo"},
		{"bulk retry bad event type", "POST", sub + "/redeliver", `{"eventType":"a b"}`, "", 422, "eventType"},
		{"bulk retry dryRun a string", "POST", sub + "/redeliver", `{"dryRun":"yes"}`, "", 422, "dryRun"},
		{"replay bad time", "POST", sub + "/replay", `{"from":"2026-13-01T00:00:00Z"}`, "", 422, "from"},
		{"replay reversed range", "POST", sub + "/replay", `{"from":"2026-02-01T00:00:00Z","to":"2026-01-01T00:00:00Z"}`, "", 422, "to"},
		{"garbage cursor", "GET", "/subscriptions?cursor=garbage", "", "", 400, "cursor"},
		{"cursor of another listing", "GET", "/deliveries?cursor=" + e.cursorOf("/subscriptions?limit=1"), "", "", 400, "cursor"},
		{"limit zero", "GET", "/subscriptions?limit=0", "", "", 400, "limit"},
		{"limit too big", "GET", "/deliveries?limit=100000", "", "", 400, "limit"},
		{"limit not a number", "GET", "/events?limit=ten", "", "", 400, "limit"},
		{"bad order", "GET", "/deliveries?order=sideways", "", "", 400, "order"},
		{"bad delivery state", "GET", "/deliveries?state=lost", "", "", 400, "state"},
		{"bad createdFrom", "GET", "/deliveries?createdFrom=monday", "", "", 400, "createdFrom"},
		{"reversed created range", "GET", sub + "/deliveries?createdFrom=2026-02-01T00:00:00Z&createdTo=2026-01-01T00:00:00Z", "", "", 400, "createdTo"},
		{"bad event type filter", "GET", "/events?type=a%20b", "", "", 400, "type"},
		{"bad events time", "GET", "/events?from=1", "", "", 400, "from"},
		{"bad stats window", "GET", sub + "/stats?window=forever", "", "", 400, "window"},
		{"stats window too small", "GET", "/stats?window=1m", "", "", 400, "window"},
		{"SuperOffice bad $select", "GET", "/api/v1/Webhook?$select=Name,Colour", "", "", 400, "$select"},
		{"SuperOffice unknown field", "POST", "/api/v1/Webhook", `{"Name":"x","Colour":"red"}`, "", 422, "Colour"},
		{"SuperOffice bad TargetUrl", "POST", "/api/v1/Webhook", `{"Events":["contact.created"],"TargetUrl":"http://10.1.2.3/"}`, "", 422, "TargetUrl"},
		{"SuperOffice short Secret", "POST", "/api/v1/Webhook", `{"Events":["contact.created"],"TargetUrl":"https://example.com/","Secret":"x"}`, "", 422, "Secret"},
		{"SuperOffice bad event", "POST", "/api/v1/Webhook", `{"Events":["nope.nope"],"TargetUrl":"https://example.com/"}`, "", 422, "Events[0]"},
		{"SuperOffice bad State", "POST", "/api/v1/Webhook", `{"Events":["contact.created"],"TargetUrl":"https://example.com/","State":"Sleeping"}`, "", 422, "State"},
		{"SuperOffice malformed", "POST", "/api/v1/Webhook", `{"Events":`, "", 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			r := e.doType("admin-a", tc.method, tc.path, tc.body, orJSON(tc.ctype))
			requireProblem(t, r, tc.status, tc.field)
			require.Equal(t, before, e.snapshot(), "nothing changed")
		})
	}
	require.GreaterOrEqual(t, len(cases), 50)
}

func orJSON(ct string) string {
	if ct == "" {
		return "application/json"
	}
	return ct
}

// cursorOf returns the nextCursor of a listing.
func (e *env) cursorOf(path string) string {
	e.t.Helper()
	e.createTo("admin-a", e.rcvURL)
	c, _ := e.do("admin-a", "GET", path, "").json(e.t)["nextCursor"].(string)
	if c == "" {
		e.t.Fatal("no cursor")
	}
	return c
}
