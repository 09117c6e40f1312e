package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relayhook/webhook"
)

// subscriptions is how many endpoints every event goes to.
const subscriptions = 10

// receiver is the loopback endpoint of both contenders: /hook/0 to
// /hook/9, answering 200 at once. It counts what it receives and, when
// told the endpoints' secrets, verifies each request's signature.
type receiver struct {
	srv      *httptest.Server
	count    atomic.Int64
	rejected atomic.Int64

	mu      sync.Mutex
	secrets []string // by endpoint; nil: no verification
}

func newReceiver() *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	secrets := r.secrets
	r.mu.Unlock()
	if secrets != nil {
		i, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/hook/"))
		if err != nil || i < 0 || i >= len(secrets) || webhook.Verify(secrets[i], req.Header, body) != nil {
			r.rejected.Add(1)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
	}
	r.count.Add(1)
}

// url returns the URL of endpoint i.
func (r *receiver) url(i int) string { return fmt.Sprintf("%s/hook/%d", r.srv.URL, i) }

// verifyWith makes the receiver verify signatures with the endpoints'
// secrets (nil: no verification, the default: it costs both contenders
// the same and is not what is measured).
func (r *receiver) verifyWith(secrets []string) {
	r.mu.Lock()
	r.secrets = secrets
	r.mu.Unlock()
}

// waitFor waits until n requests in all have been received.
func (r *receiver) waitFor(n int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for r.count.Load() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d requests arrived in %v (%d refused for their signature)",
				r.count.Load(), n, timeout, r.rejected.Load())
		}
		time.Sleep(200 * time.Microsecond)
	}
	return nil
}

// waitUntil polls done every few milliseconds until it reports true.
func waitUntil(timeout time.Duration, what string, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not done after %v", what, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
