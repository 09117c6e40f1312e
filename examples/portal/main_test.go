package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDemo starts the demo as a newcomer would, signs in to each
// organization, reads the portal, and stops it.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, pw, "127.0.0.1:0")
		pw.CloseWithError(err)
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	var out strings.Builder
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
		if lines.Text() == "Press Ctrl-C to stop." {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	text := out.String()
	base := regexp.MustCompile(`portal at (http://127\.0\.0\.1:\d+)/`).FindStringSubmatch(text)
	require.NotNil(t, base, text)
	require.Contains(t, text, base[1]+"/login?org=acme")
	require.Contains(t, text, base[1]+"/login?org=globex")

	acme := login(t, base[1], "acme")
	list := get(t, acme, base[1]+"/settings/webhooks/", http.StatusOK)
	for _, want := range []string{"Order sync", "Legacy ERP", "Newsletter", ">Stopped<"} {
		require.Contains(t, list, want)
	}
	require.NotContains(t, list, "Slack bridge")
	legacy := regexp.MustCompile(`href="/settings/webhooks/endpoints/(sub_\w+)">Legacy ERP`).FindStringSubmatch(list)
	require.NotNil(t, legacy, list)

	// The failing endpoint's deliveries fail for good within seconds.
	deadline := time.Now().Add(20 * time.Second)
	for {
		page := get(t, acme, base[1]+"/settings/webhooks/endpoints/"+legacy[1]+"?state=dead", http.StatusOK)
		if strings.Contains(page, "HTTP 500") && strings.Count(page, `badge bad">failed`) == 2 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the failing endpoint's deliveries did not fail: %s", page)
		time.Sleep(200 * time.Millisecond)
	}
	require.Contains(t, get(t, acme, base[1]+"/settings/webhooks/event-types", http.StatusOK), "sale.changed")

	globex := login(t, base[1], "globex")
	require.Contains(t, get(t, globex, base[1]+"/settings/webhooks/", http.StatusOK), "Slack bridge")
	get(t, globex, base[1]+"/settings/webhooks/endpoints/"+legacy[1], http.StatusNotFound)

	cancel()
	require.NoError(t, <-done)
}

func login(t *testing.T, base, org string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	require.Contains(t, get(t, c, base+"/login?org="+org, http.StatusOK), "Webhook settings")
	return c
}

func get(t *testing.T, c *http.Client, url string, status int) string {
	t.Helper()
	res, err := c.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, status, res.StatusCode, url)
	return string(body)
}
