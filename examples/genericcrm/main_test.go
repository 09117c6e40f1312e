package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGenericCRM(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(&out))
	s := out.String()

	// The right API key: accepted, each body byte for byte.
	for _, want := range []string{
		`gen_1 /notify 200 accepted: API key ok, signature ok, contact.created at 2026-01-24T09:42:59Z for acme` + "\n" +
			`    {"event_time":"2026-01-24T09:42:59.000Z","event_type":"contact.created","current_context":{"organization_id":"acme","locale":"en-US","user_id":"u_17"},"data":{"id":"c_42","name":"Ada Lovelace","email":"ada@example.com"}}` + "\n",
		`gen_2 /notify 200 accepted: API key ok, signature ok, deal.won at 2026-01-24T10:15:00+01:00 for acme` + "\n" +
			`    {"event_time":"2026-01-24T10:15:00.250+01:00","event_type":"deal.won","current_context":{"organization_id":"acme","locale":"en-US","user_id":"u_17"},"data":{"id":"d_7","amount":1200,"currency":"EUR"}}` + "\n",
	} {
		require.Contains(t, s, want)
	}

	// A revoked key: refused, and not retried.
	for _, want := range []string{
		`gen_1 /old    401 rejected: wrong API key` + "\n" +
			`    {"event_time":"2026-01-24T09:42:59.000Z","event_type":"contact.created","current_context":{"organization_id":"acme"},"data":{"id":"c_42","name":"Ada Lovelace","email":"ada@example.com"}}` + "\n",
		`"Data warehouse"   gen_1 delivered after 1 attempt(s)`,
		`"Data warehouse"   gen_2 delivered after 1 attempt(s)`,
		`"Old integration"  gen_1 dead after 1 attempt(s)`,
		`"Old integration"  gen_2 dead after 1 attempt(s)`,
	} {
		require.Contains(t, s, want)
	}
	require.Equal(t, 2, strings.Count(s, "rejected: wrong API key"), s)
	require.NotContains(t, s, "bad signature")
}
