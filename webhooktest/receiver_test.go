package webhooktest_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/webhooktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// secret is a fixed test secret: "whsec_" and the base64 of 32 bytes.
var secret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// post sends body to url signed with secret (unless it is empty) at the
// current time, and returns the status and the Retry-After header.
func post(t *testing.T, client *http.Client, url, contentType, secret, body string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if secret != "" {
		s, err := webhook.NewSigner(secret)
		require.NoError(t, err)
		now := time.Now()
		req.Header.Set(webhook.HeaderID, "evt_1")
		req.Header.Set(webhook.HeaderTimestamp, fmt.Sprint(now.Unix()))
		req.Header.Set(webhook.HeaderSignature, s.Sign("evt_1", now, []byte(body)))
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

const envelope = `{"eventTrigger":"contact.created","eventTimestamp":"2017-01-24T03:42:59.000-06:00","organizationId":"org_1","data":{"id":42},"customParameters":{"source":"crm"},"tenant":"acme"}`

func TestReceiverRecordsAndVerifies(t *testing.T) {
	t.Parallel()
	rcv := webhooktest.NewReceiver(t, nil)
	rcv.SetSecret(secret)
	status, _, err := post(t, http.DefaultClient, rcv.URL+"/hooks", webhook.ContentTypeJSON, secret, envelope)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	got := rcv.WaitFor(t, 1, time.Second)
	require.Len(t, got, 1)
	r := got[0]
	require.Equal(t, 1, r.Seq)
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "/hooks", r.Path)
	require.Equal(t, "evt_1", r.ID())
	require.True(t, r.Verified)
	require.NoError(t, r.VerifyErr)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, envelope, string(r.Body))
	require.Equal(t, envelope, string(r.JSON))
	require.Equal(t, "contact.created", r.Envelope.EventTrigger)
	require.Equal(t, "2017-01-24T03:42:59.000-06:00", r.Envelope.EventTimestamp)
	require.Equal(t, "org_1", r.Envelope.OrganizationID)
	require.JSONEq(t, `{"id":42}`, string(r.Envelope.Data))
	require.Equal(t, map[string]string{"source": "crm"}, r.Envelope.CustomParameters)
	require.Equal(t, "acme", r.Decoded["tenant"], "properties are in Decoded")
	var v struct{ Data struct{ ID int } }
	require.NoError(t, r.Decode(&v))
	require.Equal(t, 42, v.Data.ID)
	require.Contains(t, r.String(), `#1 POST /hooks webhook-id="evt_1" verified, answered 200`)

	// A wrong signature is recorded, not verified.
	other := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	_, _, err = post(t, http.DefaultClient, rcv.URL, webhook.ContentTypeJSON, other, envelope)
	require.NoError(t, err)
	r = rcv.WaitFor(t, 2, time.Second)[1]
	require.False(t, r.Verified)
	require.ErrorIs(t, r.VerifyErr, webhook.ErrSignatureMismatch)
	require.Contains(t, r.String(), "NOT verified")
}

func TestReceiverDecodesFormPayload(t *testing.T) {
	t.Parallel()
	rcv := webhooktest.NewReceiver(t, nil)
	rcv.SetSecret(secret)
	body := "payload=" + url.QueryEscape(envelope)
	_, _, err := post(t, http.DefaultClient, rcv.URL, webhook.ContentTypeForm, secret, body)
	require.NoError(t, err)
	r := rcv.WaitFor(t, 1, time.Second)[0]
	require.True(t, r.Verified, "the raw form body is what is signed")
	require.Equal(t, body, string(r.Body))
	require.Equal(t, envelope, string(r.JSON))
	require.Equal(t, "contact.created", r.Envelope.EventTrigger)

	// Bodies that are not JSON are recorded raw.
	_, _, err = post(t, http.DefaultClient, rcv.URL, "text/plain", secret, "hello")
	require.NoError(t, err)
	r = rcv.WaitFor(t, 2, time.Second)[1]
	require.Nil(t, r.JSON)
	require.Nil(t, r.Decoded)
	require.Error(t, r.Decode(&struct{}{}))
	require.Equal(t, "hello", string(r.Body))

	// A JSON body of another format has no Envelope.
	_, _, err = post(t, http.DefaultClient, rcv.URL, webhook.ContentTypeJSON, secret, `{"eventName":"Contact is Created","eventData":{}}`)
	require.NoError(t, err)
	r = rcv.WaitFor(t, 3, time.Second)[2]
	require.Zero(t, r.Envelope)
	require.Equal(t, "Contact is Created", r.Decoded["eventName"])
}

func TestReceiverWithoutSecret(t *testing.T) {
	t.Parallel()
	rcv := webhooktest.NewReceiver(t, nil)
	_, _, err := post(t, http.DefaultClient, rcv.URL, webhook.ContentTypeJSON, secret, envelope)
	require.NoError(t, err)
	r := rcv.WaitFor(t, 1, time.Second)[0]
	require.False(t, r.Verified)
	require.ErrorIs(t, r.VerifyErr, webhooktest.ErrNoSecret)

	// A secret set later applies to the next requests.
	rcv.SetSecret(secret)
	_, _, err = post(t, http.DefaultClient, rcv.URL, webhook.ContentTypeJSON, secret, envelope)
	require.NoError(t, err)
	require.True(t, rcv.WaitFor(t, 2, time.Second)[1].Verified)

	// So does one from a subscription, previous secrets included.
	rcv.SetSecret(webhook.NewSecret(), secret)
	_, _, err = post(t, http.DefaultClient, rcv.URL, webhook.ContentTypeJSON, secret, envelope)
	require.NoError(t, err)
	require.True(t, rcv.WaitFor(t, 3, time.Second)[2].Verified)

	// A malformed secret is reported on each request.
	rcv.SetSecret("not a secret")
	_, _, err = post(t, http.DefaultClient, rcv.URL, webhook.ContentTypeJSON, secret, envelope)
	require.NoError(t, err)
	r = rcv.WaitFor(t, 4, time.Second)[3]
	require.ErrorIs(t, r.VerifyErr, webhook.ErrInvalidSecret)
}

func TestReceiverScript(t *testing.T) {
	t.Parallel()
	rcv := webhooktest.NewReceiver(t, &webhooktest.ReceiverConfig{RejectUnverified: true})
	rcv.SetSecret(secret)
	rcv.Script(
		webhooktest.Reply{Status: 500},
		webhooktest.Reply{Status: 429, RetryAfter: "120"},
		webhooktest.Reply{Status: 202, Body: "queued"},
	)
	var statuses []int
	var retryAfter []string
	for range 4 {
		s, ra, err := post(t, http.DefaultClient, rcv.URL, webhook.ContentTypeJSON, secret, envelope)
		require.NoError(t, err)
		statuses, retryAfter = append(statuses, s), append(retryAfter, ra)
	}
	require.Equal(t, []int{500, 429, 202, 202}, statuses, "the last reply repeats")
	require.Equal(t, []string{"", "120", "", ""}, retryAfter)

	// An unverified request is answered 401 and does not use up a reply.
	s, _, err := post(t, http.DefaultClient, rcv.URL, webhook.ContentTypeJSON, "", envelope)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, s)
	rcv.Script(webhooktest.Statuses(503, 200)...)
	for _, want := range []int{503, 200, 200} {
		s, _, err := post(t, http.DefaultClient, rcv.URL, webhook.ContentTypeJSON, secret, envelope)
		require.NoError(t, err)
		require.Equal(t, want, s)
	}
	got := rcv.Requests()
	require.Len(t, got, 8)
	require.Equal(t, 8, rcv.Len())
	require.Equal(t, http.StatusUnauthorized, got[4].Status)
	require.ErrorIs(t, got[4].VerifyErr, webhook.ErrMissingHeader)
}

func TestReceiverDelayAndHang(t *testing.T) {
	t.Parallel()
	rcv := webhooktest.NewReceiver(t, nil)
	rcv.Script(
		webhooktest.Reply{Delay: 100 * time.Millisecond},
		webhooktest.Reply{Hang: true},
	)
	start := time.Now()
	s, _, err := post(t, http.DefaultClient, rcv.URL, webhook.ContentTypeJSON, "", envelope)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, s)
	require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)

	// A hanging request is held until the client gives up.
	client := &http.Client{Timeout: 100 * time.Millisecond}
	_, _, err = post(t, client, rcv.URL, webhook.ContentTypeJSON, "", envelope)
	require.Error(t, err)
	r := rcv.WaitFor(t, 2, time.Second)[1]
	require.Zero(t, r.Status)
	require.Contains(t, r.String(), "left hanging")
}

func TestReceiverCloseCutsOffHangingRequests(t *testing.T) {
	t.Parallel()
	errc := make(chan error, 1)
	t.Run("inner", func(t *testing.T) {
		rcv := webhooktest.NewReceiver(t, nil)
		rcv.Script(webhooktest.Reply{Hang: true})
		go func() {
			resp, err := http.Post(rcv.URL, webhook.ContentTypeJSON, strings.NewReader("{}"))
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		rcv.WaitFor(t, 1, time.Second)
	})
	select {
	case err := <-errc:
		require.Error(t, err, "the request gets no answer")
	case <-time.After(5 * time.Second):
		t.Fatal("the hanging request was not cut off by the cleanup")
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestWaitForFailsWithASummary(t *testing.T) {
	t.Parallel()
	rcv := webhooktest.NewReceiver(t, nil)
	rcv.SetSecret(secret)
	rcv.Script(webhooktest.Statuses(503)...)
	_, _, err := post(t, http.DefaultClient, rcv.URL+"/a", webhook.ContentTypeJSON, secret, envelope)
	require.NoError(t, err)
	msg := failure(t, func(tb testing.TB) { rcv.WaitFor(tb, 2, 50*time.Millisecond) })
	require.Contains(t, msg, "waited 50ms for 2 request(s) to "+rcv.URL+", 1 arrived:")
	require.Contains(t, msg, `#1 POST /a webhook-id="evt_1" verified, answered 503`)
	require.Contains(t, msg, `{"eventTrigger":"contact.created"`)
	http.DefaultClient.CloseIdleConnections()
}

// failure runs f with a TB whose Fatalf ends f, and returns the message
// (empty if f did not fail).
func failure(t *testing.T, f func(tb testing.TB)) string {
	t.Helper()
	ft := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(ft)
	}()
	<-done
	return ft.msg
}

type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestWaitForEvents(t *testing.T) {
	t.Parallel()
	rcv := webhooktest.NewReceiver(t, nil)
	rcv.SetSecret(secret)
	generic := `{"event_time":"2026-01-24T09:42:59.000Z","event_type":"deal.won","current_context":{"organization_id":"o"},"data":null}`
	for _, body := range []string{envelope, generic, envelope} {
		_, _, err := post(t, http.DefaultClient, rcv.URL, webhook.ContentTypeJSON, secret, body)
		require.NoError(t, err)
	}
	got := rcv.WaitForEvents(t, time.Second, "deal.won", "contact.created", "contact.created")
	require.Len(t, got, 3)
	require.Equal(t, "deal.won", got[1].EventType())

	msg := failure(t, func(tb testing.TB) {
		rcv.WaitForEvents(tb, 50*time.Millisecond, "contact.created", "contact.deleted", "deal.won", "deal.won")
	})
	require.Contains(t, msg, "waited 50ms for events at "+rcv.URL+"\n"+
		"  want:    contact.created, contact.deleted, deal.won, deal.won\n"+
		"  got:     contact.created, deal.won, contact.created\n"+
		"  missing: contact.deleted, deal.won\n"+
		"requests:\n  #1 POST / webhook-id=\"evt_1\" verified, answered 200")
	http.DefaultClient.CloseIdleConnections()
}

// TestReceiverConfigClock: a Receiver checks webhook-timestamp against
// ReceiverConfig.Clock and records arrivals on it.
func TestReceiverConfigClock(t *testing.T) {
	t.Parallel()
	clk := webhooktest.NewClock(time.Now().Add(time.Hour))
	rcv := webhooktest.NewReceiver(t, &webhooktest.ReceiverConfig{Clock: clk})
	rcv.SetSecret(secret)
	_, _, err := post(t, http.DefaultClient, rcv.URL, webhook.ContentTypeJSON, secret, envelope)
	require.NoError(t, err)
	r := rcv.WaitFor(t, 1, time.Second)[0]
	require.False(t, r.Verified)
	require.ErrorIs(t, r.VerifyErr, webhook.ErrTimestampTooOld)
	require.Equal(t, clk.Now(), r.Received)
}
