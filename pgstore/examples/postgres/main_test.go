package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPostgresOutbox(t *testing.T) {
	url := os.Getenv(urlEnv)
	if url == "" {
		msg := urlEnv + " is not set: start a throwaway server with scripts/postgres.sh (see the README)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// A schema of the test's own, so that it may run beside the others.
	var b [6]byte
	rand.Read(b[:])
	schema := "example_" + hex.EncodeToString(b[:])

	var out strings.Builder
	require.NoError(t, run(t.Context(), &out, url, schema))
	s := out.String()
	t.Log("\n" + s)
	require.Equal(t, 1, strings.Count(s, "receiver got"), s)
	require.Contains(t, s, "receiver got contact.created evt_")
	require.Contains(t, s, `, signature verified
    data: {"id":1,"name":"Ada Lovelace","email":"ada@example.com"}`)
	require.NotContains(t, s, "REJECTED")
	require.Contains(t, s, "contact 1 Ada Lovelace: inserted, ")
	require.Contains(t, s, "dispatched to 1 subscription(s), COMMITTED")
	require.Contains(t, s, "contact 2 Charles Babbage: inserted, ")
	require.Contains(t, s, "dispatched to 1 subscription(s), then ROLLED BACK")
	require.Contains(t, s, "contacts: 1 Ada Lovelace\n")
	require.Contains(t, s, "webhook events stored: 1\n")

	// The same event ID in the dispatch line and the webhook-id received.
	committed := s[strings.Index(s, "Ada Lovelace: inserted, ")+len("Ada Lovelace: inserted, "):]
	eventID := committed[:strings.IndexByte(committed, ' ')]
	require.Contains(t, s, "receiver got contact.created "+eventID+", ")
}
