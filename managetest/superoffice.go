package managetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// soSample is SuperOffice's sample request of POST /api/v1/Webhook, in its
// shape: every field, an unregistered Type, associates as objects, a
// property holding an object.
const soSample = `{
  "WebhookId": 190,
  "Name": "Bode LLC",
  "Events": ["quia", "et"],
  "TargetUrl": "http://www.example.com/",
  "Secret": "rerum",
  "State": "Active",
  "Type": "ratione",
  "Headers": {"Headers1": "voluptatem", "Headers2": "minima"},
  "Properties": {"fieldName": {}},
  "Registered": "2010-05-14T11:10:10.8012497+02:00",
  "RegisteredAssociate": {"AssociateId": 52, "Name": "Kuhlman Group", "PersonId": 12, "Rank": 123, "Tooltip": "sed", "Type": "AnonymousAssociate", "GroupIdx": 4, "FullName": "Mr. Ruben Gutmann", "FormalName": "Hermann-Lueilwitz", "Deleted": false, "EjUserId": 12, "UserName": "Rowe, Kshlerin and Harber"},
  "Updated": "2019-12-05T11:10:10.8012497+01:00",
  "UpdatedAssociate": {"AssociateId": 81, "Name": "Mosciski LLC", "Deleted": true},
  "ErrorsEmail": "karina@example.com"
}`

// soEntity is the Webhook entity as a SuperOffice client parses it, with
// WebhookId an int32.
type soEntity struct {
	WebhookId           int32
	Name                *string
	Events              []string
	TargetUrl           *string
	Secret              *string
	State               *string
	Type                *string
	Headers             map[string]string
	Properties          map[string]any
	Registered          *time.Time
	RegisteredAssociate map[string]any
	Updated             *time.Time
	UpdatedAssociate    map[string]any
	ErrorsEmail         *string
	Links               map[string]string `json:"_Links"`
}

func testSuperOfficeClient(t *testing.T, ts *suite) {
	e := ts.setup(t)

	// The sample as it is: its Type is not registered, and it says so.
	before := e.snapshot()
	r := e.do("admin-a", "POST", "/api/v1/Webhook", soSample)
	requireProblem(t, r, http.StatusUnprocessableEntity, "Type")
	require.Contains(t, string(r.body), "ratione")
	require.Equal(t, before, e.snapshot())

	// With a registered type, catalogued events, a secret of 24 bytes or
	// more and our receiver, the same shape is accepted.
	body := strings.NewReplacer(`"ratione"`, `"webhook"`, `["quia", "et"]`, `["contact.created", "sale.changed"]`,
		`"rerum"`, `"a-secret-of-twenty-four-bytes"`, `"http://www.example.com/"`, fmt.Sprintf("%q", e.rcvURL)).Replace(soSample)
	r = e.do("admin-a", "POST", "/api/v1/Webhook", body)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var created soEntity
	require.NoError(t, json.Unmarshal(r.body, &created))
	require.Positive(t, created.WebhookId)
	require.Equal(t, "Bode LLC", *created.Name)
	require.Equal(t, []string{"contact.created", "sale.changed"}, created.Events)
	require.Equal(t, "Active", *created.State)
	require.Equal(t, "webhook", *created.Type)
	require.Equal(t, map[string]string{"Headers1": "voluptatem", "Headers2": "minima"}, created.Headers)
	require.Equal(t, map[string]any{"fieldName": "{}"}, created.Properties)
	require.Equal(t, "karina@example.com", *created.ErrorsEmail)
	require.Equal(t, "alice", created.RegisteredAssociate["Name"], "the actor registered it, not the body")
	require.WithinDuration(t, time.Now(), *created.Registered, time.Minute)
	require.True(t, strings.HasPrefix(*created.Secret, "whsec_"), "the secret is shown on create")
	self := fmt.Sprintf("/webhooks/api/api/v1/Webhook/%d", created.WebhookId)
	require.Equal(t, self, created.Links["Self"])
	var fields map[string]any
	require.NoError(t, json.Unmarshal(r.body, &fields))
	require.Len(t, fields, 15, "every field of the entity and _Links")

	// GET by WebhookId; the secret is not shown again.
	r = e.do("reader-a", "GET", fmt.Sprintf("/api/v1/Webhook/%d", created.WebhookId), "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var got soEntity
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Nil(t, got.Secret)
	require.Equal(t, created.Events, got.Events)

	// $select, case-insensitive: the other fields are null.
	r = e.do("reader-a", "GET", fmt.Sprintf("/api/v1/Webhook/%d?$select=name,EVENTS", created.WebhookId), "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.NoError(t, json.Unmarshal(r.body, &fields))
	require.Len(t, fields, 15)
	for k, v := range fields {
		switch k {
		case "Name", "Events", "_Links":
			require.NotNil(t, v, k)
		default:
			require.Nil(t, v, k)
		}
	}

	// PUT the entity back, changed.
	var edit map[string]any
	require.NoError(t, json.Unmarshal(e.do("reader-a", "GET", fmt.Sprintf("/api/v1/Webhook/%d", created.WebhookId), "").body, &edit))
	edit["Name"] = "Renamed"
	edit["State"] = "Stopped"
	b, _ := json.Marshal(edit)
	r = e.do("manager-a", "PUT", fmt.Sprintf("/api/v1/Webhook/%d", created.WebhookId), string(b))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Equal(t, "Renamed", *got.Name)
	require.Equal(t, "Stopped", *got.State)
	require.Equal(t, "mona", got.UpdatedAssociate["Name"])
	require.Equal(t, "alice", got.RegisteredAssociate["Name"])

	// The list, and the native view of the same subscription.
	r = e.do("reader-a", "GET", "/api/v1/Webhook?$select=Name", "")
	require.Equal(t, http.StatusOK, r.status)
	var all []map[string]any
	require.NoError(t, json.Unmarshal(r.body, &all))
	require.Len(t, all, 1)
	require.Equal(t, "Renamed", all[0]["Name"])
	require.Nil(t, all[0]["TargetUrl"])
	native := e.do("reader-a", "GET", "/subscriptions", "").json(t)["data"].([]any)[0].(map[string]any)
	require.EqualValues(t, created.WebhookId, native["number"])

	// A WebhookId that is not a number, or not ours, is not found.
	requireProblem(t, e.do("reader-a", "GET", "/api/v1/Webhook/abc", ""), http.StatusNotFound, "")
	requireProblem(t, e.do("reader-a", "GET", "/api/v1/Webhook/99999", ""), http.StatusNotFound, "")

	r = e.do("manager-a", "DELETE", fmt.Sprintf("/api/v1/Webhook/%d", created.WebhookId), "")
	require.Equal(t, http.StatusNoContent, r.status)
	requireProblem(t, e.do("reader-a", "GET", fmt.Sprintf("/api/v1/Webhook/%d", created.WebhookId), ""), http.StatusNotFound, "")
}
