package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

func TestReceiver(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(&out))
	s := out.String()
	for _, want := range []string{
		"evt_1 contact.created                   -> 200 accepted\n",
		"evt_1 the same event again (a retry)    -> 200 duplicate of a handled event, ignored\n",
		"evt_2 a body changed after signing      -> 401 webhook: verification failed: no matching signature\n",
		"evt_3 a request signed 10 minutes ago   -> 401 webhook: verification failed: timestamp too old\n",
		"evt_4 signed with another secret        -> 401 webhook: verification failed: no matching signature\n",
		"evt_5 sale.changed                      -> 200 accepted\n",
		"handled 2 event(s):\n  evt_1 contact.created {\"id\":42}\n  evt_5 sale.changed {\"id\":9}\n",
	} {
		require.Contains(t, s, want)
	}
}

// post sends a correctly signed envelope to h and returns the status.
func post(t *testing.T, h http.Handler, id string) int {
	t.Helper()
	body := `{"eventTrigger":"contact.created","data":{"id":1}}`
	now := time.Now()
	sig, err := sign(secret, id, now, body)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/webhooks", strings.NewReader(body))
	req.Header.Set(webhook.HeaderID, id)
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(webhook.HeaderSignature, sig)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestFailedHandlingIsRetried(t *testing.T) {
	t.Parallel()
	calls := 0
	rc := &Receiver{seen: NewSeenIDs(time.Hour, time.Now), Handle: func(string, Envelope) error {
		calls++
		if calls == 1 {
			return errors.New("database down")
		}
		return nil
	}}
	h, err := NewHandler(secret, rc)
	require.NoError(t, err)
	require.Equal(t, http.StatusInternalServerError, post(t, h, "evt_1"))
	require.Equal(t, http.StatusOK, post(t, h, "evt_1"), "the retry is handled")
	require.Equal(t, http.StatusOK, post(t, h, "evt_1"), "then it is a duplicate")
	require.Equal(t, 2, calls)
}

func TestDuplicateWhileInProgressIsRetriedLater(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	rc := &Receiver{seen: NewSeenIDs(time.Hour, time.Now), Handle: func(string, Envelope) error {
		close(started)
		<-release
		return nil
	}}
	h, err := NewHandler(secret, rc)
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	var first int
	go func() {
		defer wg.Done()
		first = post(t, h, "evt_1")
	}()
	<-started
	require.Equal(t, http.StatusConflict, post(t, h, "evt_1"))
	close(release)
	wg.Wait()
	require.Equal(t, http.StatusOK, first)
}

func TestSeenIDsForgetAfterRetention(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 24, 9, 0, 0, 0, time.UTC)
	s := NewSeenIDs(time.Hour, func() time.Time { return now })
	require.Equal(t, New, s.Begin("a"))
	s.Finish("a", true)
	require.Equal(t, Duplicate, s.Begin("a"))
	now = now.Add(2 * time.Hour)
	require.Equal(t, New, s.Begin("b"), "sweeps")
	require.NotContains(t, s.handled, "a")
	require.Equal(t, New, s.Begin("a"))
}
