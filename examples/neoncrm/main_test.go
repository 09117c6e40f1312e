package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNeonCRM(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(&out))
	s := out.String()
	require.Equal(t, 7, strings.Count(s, "basic auth ok, signature ok"), s)
	require.NotContains(t, s, "FAILED")

	// Every body, byte for byte: the Envelope with NeonCRM's timestamp
	// form and the subscription's custom parameters.
	for _, want := range []string{
		`neon_1 POST /accounts (application/json) basic auth ok, signature ok` + "\n" +
			`    body: {"eventTrigger":"createAccount","eventTimestamp":"2017-01-24T03:42:59.000-06:00","organizationId":"neon_org_1","data":{"accountId":"1001","firstName":"Ada","lastName":"Lovelace","email":"ada@example.org"},"customParameters":{"apiVersion":"2.6","list":"newsletter"}}` + "\n",
		`neon_3 POST /memberships (application/json) basic auth ok, signature ok` + "\n" +
			`    body: {"eventTrigger":"createMembership","eventTimestamp":"2017-01-24T03:44:59.000-06:00","organizationId":"neon_org_1","data":{"membershipId":"7001","accountId":"1001","level":"Gold","term":"Annual"},"customParameters":{"portal":"members.example.org"}}` + "\n",
		`neon_4 POST /accounts (application/json) basic auth ok, signature ok` + "\n" +
			`    body: {"eventTrigger":"updateAccount","eventTimestamp":"2017-01-24T03:45:59.000-06:00","organizationId":"neon_org_1","data":{"accountId":"1001","email":"ada@lovelace.example"},"customParameters":{"apiVersion":"2.6","list":"newsletter"}}` + "\n",
		`neon_6 POST /memberships (application/json) basic auth ok, signature ok` + "\n" +
			`    body: {"eventTrigger":"deleteMembership","eventTimestamp":"2017-01-24T03:47:59.000-06:00","organizationId":"neon_org_1","data":{"membershipId":"7001"},"customParameters":{"portal":"members.example.org"}}` + "\n",
		`neon_7 POST /accounts (application/json) basic auth ok, signature ok` + "\n" +
			`    body: {"eventTrigger":"deleteAccount","eventTimestamp":"2017-01-24T03:48:59.000-06:00","organizationId":"neon_org_1","data":{"accountId":"1002"},"customParameters":{"apiVersion":"2.6","list":"newsletter"}}` + "\n",
	} {
		require.Contains(t, s, want)
	}

	// Form bodies: the same Envelope in the field "payload".
	for _, c := range []struct{ id, payload string }{
		{"neon_2", `{"eventTrigger":"createDonation","eventTimestamp":"2017-01-24T03:43:59.000-06:00","organizationId":"neon_org_1","data":{"donationId":"5001","accountId":"1001","amount":250.00,"fund":"General & Operating"},"customParameters":{"fund":"general"}}`},
		{"neon_5", `{"eventTrigger":"updateDonation","eventTimestamp":"2017-01-24T03:46:59.000-06:00","organizationId":"neon_org_1","data":{"donationId":"5001","amount":300.00},"customParameters":{"fund":"general"}}`},
	} {
		require.Contains(t, s, c.id+" POST /donations (application/x-www-form-urlencoded) basic auth ok, signature ok\n"+
			"    body:    payload="+url.QueryEscape(c.payload)+"\n"+
			"    payload: "+c.payload+"\n")
	}

	// What was sent, per data type.
	for _, line := range []string{
		"createAccount    neon_1 -> 1 delivery",
		"createDonation   neon_2 -> 1 delivery",
		"deleteAccount    neon_7 -> 1 delivery",
		`"Donations to accounting"        application/x-www-form-urlencoded  basic auth neon-webhooks  createDonation, updateDonation, deleteDonation`,
	} {
		require.Contains(t, s, line)
	}
}
