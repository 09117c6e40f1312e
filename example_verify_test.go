package webhook_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/relayhook/webhook"
)

// Sign gives the webhook-signature header of a message: its ID, its
// webhook-timestamp and its body.
func ExampleSigner_Sign() {
	s, err := webhook.NewSigner(exampleSecret)
	if err != nil {
		panic(err)
	}
	ts := time.Unix(1769247779, 0)
	fmt.Println(s.Sign("evt_1", ts, []byte(`{"eventTrigger":"contact.created"}`)))

	// While a secret rotates, both sign.
	s, _ = webhook.NewSigner(exampleSecret, "whsec_"+strings.Repeat("A", 43)+"=")
	fmt.Println(strings.Count(s.Sign("evt_1", ts, nil), "v1,"), "signatures")
	// Output:
	// v1,/WrzJu8mPKEdAC6sfyDvWLq5Zl/uftVWgx1X02zRIgY=
	// 2 signatures
}

// The receiving side checks the three headers against the raw body. Any
// change to the body, the ID or the timestamp breaks the signature, and a
// timestamp outside the tolerance is refused, so a captured request cannot
// be replayed later.
func ExampleVerifier_Verify() {
	body := []byte(`{"eventTrigger":"contact.created","data":{"id":42}}`)
	signer, _ := webhook.NewSigner(exampleSecret)
	sent := time.Unix(1769247779, 0)
	h := http.Header{}
	h.Set(webhook.HeaderID, "evt_1")
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(sent.Unix(), 10))
	h.Set(webhook.HeaderSignature, signer.Sign("evt_1", sent, body))

	v, err := webhook.NewVerifier(exampleSecret)
	if err != nil {
		panic(err)
	}
	v.Now = func() time.Time { return sent.Add(30 * time.Second) } // the receiver's clock

	fmt.Println("as sent:", v.Verify(h, body))
	tampered := []byte(strings.Replace(string(body), "42", "43", 1))
	err = v.Verify(h, tampered)
	fmt.Println("tampered:", err, errors.Is(err, webhook.ErrSignatureMismatch))
	v.Now = func() time.Time { return sent.Add(time.Hour) }
	err = v.Verify(h, body)
	fmt.Println("an hour later:", err, errors.Is(err, webhook.ErrVerification))
	// Output:
	// as sent: <nil>
	// tampered: webhook: verification failed: no matching signature true
	// an hour later: webhook: verification failed: timestamp too old true
}

// Verify is the one-call form, on the system clock with the default
// tolerance.
func ExampleVerify() {
	body := []byte(`{"eventTrigger":"sale.changed"}`)
	signer, _ := webhook.NewSigner(exampleSecret)
	now := time.Now()
	h := http.Header{}
	h.Set(webhook.HeaderID, "evt_2")
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(webhook.HeaderSignature, signer.Sign("evt_2", now, body))

	fmt.Println(webhook.Verify(exampleSecret, h, body))
	h.Del(webhook.HeaderSignature)
	fmt.Println(webhook.Verify(exampleSecret, h, body))
	// Output:
	// <nil>
	// webhook: verification failed: missing header webhook-signature
}

// Middleware verifies each request before the handler sees it; the handler
// reads the body as usual.
func ExampleVerifier_Middleware() {
	v, err := webhook.NewVerifier(exampleSecret)
	if err != nil {
		panic(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("handler got %s: %s\n", r.Header.Get(webhook.HeaderID), body)
	})
	srv := httptest.NewServer(v.Middleware(handler))
	defer srv.Close()

	send := func(id, body string, sign bool) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header.Set(webhook.HeaderID, id)
		now := time.Now()
		req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		if sign {
			signer, _ := webhook.NewSigner(exampleSecret)
			req.Header.Set(webhook.HeaderSignature, signer.Sign(id, now, []byte(body)))
		} else {
			req.Header.Set(webhook.HeaderSignature, "v1,Zm9yZ2Vk")
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(id, "answered", resp.StatusCode)
	}
	send("evt_1", `{"eventTrigger":"contact.created"}`, true)
	send("evt_2", `{"eventTrigger":"contact.deleted"}`, false)
	// Output:
	// handler got evt_1: {"eventTrigger":"contact.created"}
	// evt_1 answered 200
	// evt_2 answered 401
}
