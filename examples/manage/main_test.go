package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is an io.Writer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCurlCommands does what the printed commands do, then stops the host
// as Ctrl-C would.
func TestCurlCommands(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", &out, func(base string) { ready <- base }) }()
	base := <-ready
	api := base + "/webhooks/api"
	require.Contains(t, out.String(), "curl -s -H 'Authorization: Bearer acme-viewer' "+api+"/event-types")

	call := func(key, method, url, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		return res.StatusCode, m
	}
	status, sub := call("acme-admin", "POST", api+"/subscriptions", `{"name":"CRM sync","url":"`+base+`/receiver/fail","events":["contact.*"]}`)
	require.Equal(t, 201, status)
	id := sub["id"].(string)
	status, _ = call("acme-admin", "POST", base+"/contacts", "")
	require.Equal(t, 200, status)
	require.Eventually(t, func() bool {
		_, l := call("acme-viewer", "GET", api+"/subscriptions/"+id+"/deliveries?state=dead", "")
		return len(l["data"].([]any)) == 1
	}, 30*time.Second, 50*time.Millisecond, "the failing endpoint's delivery dies after its three attempts")
	status, sub = call("acme-admin", "PATCH", api+"/subscriptions/"+id, `{"url":"`+base+`/receiver/ok"}`)
	require.Equal(t, 200, status)
	status, n := call("acme-admin", "POST", api+"/subscriptions/"+id+"/redeliver", `{"state":"dead","dryRun":true}`)
	require.Equal(t, 200, status)
	require.EqualValues(t, 1, n["count"])
	call("acme-admin", "POST", api+"/subscriptions/"+id+"/redeliver", `{"state":"dead"}`)
	require.Eventually(t, func() bool {
		_, l := call("acme-viewer", "GET", api+"/subscriptions/"+id+"/deliveries?state=delivered", "")
		return len(l["data"].([]any)) == 1
	}, 10*time.Second, 50*time.Millisecond)
	status, _ = call("acme-viewer", "DELETE", api+"/subscriptions/"+id, "")
	require.Equal(t, 403, status)

	cancel()
	require.NoError(t, <-done)
	require.Contains(t, out.String(), "audit: ada@acme.example subscription.created "+id)
	require.Contains(t, out.String(), " fail\n")
	require.Contains(t, out.String(), " ok\n")
	require.True(t, strings.HasSuffix(out.String(), "shutting down\n"))
}
