package webhook_test

import (
	"bufio"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// readRequestHead reads a request's line and headers from c.
func readRequestHead(c net.Conn) *bufio.Reader {
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil || line == "\r\n" {
			return br
		}
	}
}

// trickle writes s one byte at a time, every d, until a write fails.
func trickle(c net.Conn, s string, d time.Duration) {
	for i := 0; ; i++ {
		if _, err := io.WriteString(c, s[i%len(s):i%len(s)+1]); err != nil {
			return
		}
		time.Sleep(d)
	}
}

// quietTLSServer is an httptest TLS server that does not log handshake
// failures.
func quietTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestMisbehavingEndpoints runs a real server for each way an endpoint can
// misbehave and checks the attempt ends within its timeouts, is recorded
// with its reason, and is retried or not as the default policy says. The
// servers and the dispatcher are closed at the end of each case, and the
// package's TestMain fails if any goroutine is left behind.
func TestMisbehavingEndpoints(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	endless := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			chunk := strings.Repeat("0123456789abcdef", 2048)
			for {
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		}
	}
	// Cases that must end on their own, well before the attempt's
	// timeout, get a long one.
	longTimeout := func(c *webhook.Config) { c.Timeout = 20 * timeout }
	tests := []struct {
		name   string
		url    func(t *testing.T) string
		config func(c *webhook.Config)
		state  webhook.DeliveryState
		status int
		errHas string // in Attempt.Error; "" for a success
		body   int    // bytes of response kept, -1 to not check
		// The attempt lasts at least min and at most max (real time).
		min, max time.Duration
	}{
		{
			name: "hangs without answering",
			url: func(t *testing.T) string {
				return newRawListener(t, "127.0.0.1:0", (*rawListener).countBytes).url()
			},
			state: webhook.DeliveryPending, errHas: "deadline exceeded", body: 0, min: timeout, max: 3 * timeout,
		},
		{
			name: "trickles its headers a byte at a time",
			url: func(t *testing.T) string {
				return newRawListener(t, "127.0.0.1:0", func(_ *rawListener, c net.Conn) {
					readRequestHead(c)
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Slow: ")
					trickle(c, "abcdefgh", 10*time.Millisecond)
				}).url()
			},
			state: webhook.DeliveryPending, errHas: "deadline exceeded", body: 0, min: timeout, max: 3 * timeout,
		},
		{
			name: "trickles its body a byte at a time after a 500",
			url: func(t *testing.T) string {
				return newRawListener(t, "127.0.0.1:0", func(_ *rawListener, c net.Conn) {
					readRequestHead(c)
					_, _ = io.WriteString(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1000000\r\n\r\n")
					trickle(c, "oops", 10*time.Millisecond)
				}).url()
			},
			state: webhook.DeliveryPending, status: 500, errHas: "endpoint answered 500", body: -1, min: timeout, max: 3 * timeout,
		},
		{
			// The status is the answer: a 200 whose body trickles is a
			// success, and the attempt still ends at the timeout.
			name: "trickles its body a byte at a time after a 200",
			url: func(t *testing.T) string {
				return newRawListener(t, "127.0.0.1:0", func(_ *rawListener, c net.Conn) {
					readRequestHead(c)
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
					trickle(c, "ok", 10*time.Millisecond)
				}).url()
			},
			state: webhook.DeliveryDelivered, status: 200, body: -1, min: timeout, max: 3 * timeout,
		},
		{
			name: "sends an endless body after a 200",
			url: func(t *testing.T) string {
				srv := httptest.NewServer(endless(http.StatusOK))
				t.Cleanup(srv.Close)
				return srv.URL
			},
			state: webhook.DeliveryDelivered, status: 200, body: defaultMaxResponseBodyKept, max: 4 * timeout, config: longTimeout,
		},
		{
			name: "sends an endless body after a 503",
			url: func(t *testing.T) string {
				srv := httptest.NewServer(endless(http.StatusServiceUnavailable))
				t.Cleanup(srv.Close)
				return srv.URL
			},
			state: webhook.DeliveryPending, status: 503, errHas: "endpoint answered 503", body: defaultMaxResponseBodyKept, max: 4 * timeout, config: longTimeout,
		},
		{
			name: "resets the connection",
			url: func(t *testing.T) string {
				return newRawListener(t, "127.0.0.1:0", func(_ *rawListener, c net.Conn) {
					readRequestHead(c)
					_ = c.(*net.TCPConn).SetLinger(0)
				}).url()
			},
			state: webhook.DeliveryPending, errHas: "Post ", body: 0, max: 4 * timeout, config: longTimeout,
		},
		{
			name: "closes the connection without answering",
			url: func(t *testing.T) string {
				return newRawListener(t, "127.0.0.1:0", func(_ *rawListener, c net.Conn) { readRequestHead(c) }).url()
			},
			state: webhook.DeliveryPending, errHas: "EOF", body: 0, max: 4 * timeout, config: longTimeout,
		},
		{
			name: "speaks broken HTTP",
			url: func(t *testing.T) string {
				return newRawListener(t, "127.0.0.1:0", func(_ *rawListener, c net.Conn) {
					readRequestHead(c)
					_, _ = io.WriteString(c, "220 smtp.example ESMTP ready\r\n\r\n")
				}).url()
			},
			state: webhook.DeliveryPending, errHas: "malformed HTTP", body: 0, max: 4 * timeout, config: longTimeout,
		},
		{
			name: "sends a header bomb",
			url: func(t *testing.T) string {
				return newRawListener(t, "127.0.0.1:0", func(_ *rawListener, c net.Conn) {
					readRequestHead(c)
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("a", 2*defaultMaxResponseHeaderBytes)+"\r\n\r\n")
				}).url()
			},
			state: webhook.DeliveryPending, errHas: "headers exceeded", body: 0, max: 4 * timeout, config: longTimeout,
		},
		{
			name: "answers 302 to somewhere else",
			url: func(t *testing.T) string {
				target := listenAndDrop(t, "127.0.0.1:0")
				srv := httptest.NewServer(http.RedirectHandler("http://"+target.Addr().String()+"/", http.StatusFound))
				t.Cleanup(func() {
					srv.Close()
					require.Zero(t, target.accepted.Load(), "the redirect was followed")
				})
				return srv.URL
			},
			state: webhook.DeliveryPending, status: 302, errHas: "endpoint answered 302 Found", body: -1, max: 4 * timeout, config: longTimeout,
		},
		{
			name: "answers 308",
			url: func(t *testing.T) string {
				srv := httptest.NewServer(http.RedirectHandler("https://elsewhere.example/", http.StatusPermanentRedirect))
				t.Cleanup(srv.Close)
				return srv.URL
			},
			state: webhook.DeliveryPending, status: 308, errHas: "endpoint answered 308", body: -1, max: 4 * timeout, config: longTimeout,
		},
		{
			name: "presents a certificate nobody trusts",
			url: func(t *testing.T) string {
				return quietTLSServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).URL
			},
			state: webhook.DeliveryPending, errHas: "certificate", body: 0, max: 4 * timeout, config: longTimeout,
		},
		{
			name: "stalls the TLS handshake",
			url: func(t *testing.T) string {
				return "https://" + newRawListener(t, "127.0.0.1:0", (*rawListener).countBytes).Addr().String() + "/"
			},
			config: func(c *webhook.Config) {
				c.Timeout = 10 * timeout
				c.TLSHandshakeTimeout = timeout / 5
			},
			state: webhook.DeliveryPending, errHas: "TLS handshake timeout", body: 0, min: timeout / 5, max: 2 * timeout,
		},
		{
			name: "is slower than the response header timeout",
			url: func(t *testing.T) string {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client leave
					select {
					case <-time.After(10 * timeout):
					case <-r.Context().Done():
					}
				}))
				t.Cleanup(srv.Close)
				return srv.URL
			},
			config: func(c *webhook.Config) {
				c.Timeout = 10 * timeout
				c.ResponseHeaderTimeout = timeout / 5
			},
			state: webhook.DeliveryPending, errHas: "timeout awaiting response headers", body: 0, min: timeout / 5, max: 2 * timeout,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *webhook.Config) {
				c.Timeout = timeout
				if tt.config != nil {
					tt.config(c)
				}
			})
			s := b.subscribe("o", tt.url(t), "*")
			b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
			dl := b.waitAttempts(s, 1)
			require.Equal(t, tt.state, dl.State, dl.LastError)
			require.Equal(t, tt.status, dl.LastStatusCode)
			attempts, err := b.store.ListAttempts(context.Background(), dl.OrganizationID, dl.ID)
			require.NoError(t, err)
			require.Len(t, attempts, 1)
			a := attempts[0]
			if tt.errHas == "" {
				require.Empty(t, a.Error)
			} else {
				require.Contains(t, a.Error, tt.errHas)
			}
			if tt.state == webhook.DeliveryPending {
				require.True(t, dl.NextAttemptAt.After(t0), "retried later per the policy")
			}
			if tt.body >= 0 {
				require.Len(t, a.ResponseBody, tt.body)
			}
			require.GreaterOrEqual(t, a.Duration, tt.min, "the attempt ended before its timeout")
			require.LessOrEqual(t, a.Duration, tt.max, "the attempt outlived its timeouts")
		})
	}
}

// TestConnectTimeout: resolving and connecting is bounded by DialTimeout,
// here against a DNS server that never answers.
func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	dns := newFakeDNS(t, map[string][]string{"fast.test": {"127.0.0.1"}}, "silent.test")
	rcv := newReceiver(t)
	port := rcv.Listener.Addr().(*net.TCPAddr).Port
	const dial = 150 * time.Millisecond
	b := setup(t, func(c *webhook.Config) {
		c.Timeout = 5 * time.Second
		c.DialTimeout = dial
		c.Resolver = dns.resolver()
	})
	// Within the limit: the name resolves at once.
	fast := b.subscribe("o1", "http://fast.test:"+itoa(port)+"/", "*")
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o1"})
	require.Equal(t, webhook.DeliveryDelivered, b.waitAttempts(fast, 1).State)
	// Past it: the dial gives up after DialTimeout, not Timeout.
	slow := b.subscribe("o2", "http://silent.test:"+itoa(port)+"/", "*")
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o2"})
	dl := b.waitAttempts(slow, 1)
	require.Equal(t, webhook.DeliveryPending, dl.State)
	require.Contains(t, dl.LastError, "timeout")
	attempts, err := b.store.ListAttempts(context.Background(), dl.OrganizationID, dl.ID)
	require.NoError(t, err)
	require.GreaterOrEqual(t, attempts[0].Duration, dial)
	require.Less(t, attempts[0].Duration, 2*time.Second)
}
