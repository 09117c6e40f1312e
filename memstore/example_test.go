package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// A store bounded to 64 KiB, with nothing delivering: once its pending
// deliveries fill it, Dispatch is refused with webhook.ErrStoreFull, and
// every delivery accepted before is still pending.
func ExampleNewWithConfig() {
	ctx := context.Background()
	store := memstore.NewWithConfig(&memstore.Config{MaxBytes: 64 << 10})
	d, err := webhook.NewDispatcher(store, nil)
	if err != nil {
		panic(err)
	}
	sub := &webhook.Subscription{OrganizationID: "org_1", URL: "https://hooks.example.com/in", Events: []string{"contact.created"}}
	if err := d.CreateSubscription(ctx, sub); err != nil {
		panic(err)
	}
	data := []byte(`{"note":"` + strings.Repeat("x", 1000) + `"}`)
	accepted := 0
	for {
		_, err := d.Dispatch(ctx, webhook.Event{OrganizationID: "org_1", Type: "contact.created", Data: data})
		if errors.Is(err, webhook.ErrStoreFull) {
			break
		}
		if err != nil {
			panic(err)
		}
		accepted++
	}
	u := store.Usage()
	fmt.Println("refused once full:", u.Bytes <= u.MaxBytes)
	fmt.Println("every accepted delivery pending:", u.Pending == int64(accepted))
	// Output:
	// refused once full: true
	// every accepted delivery pending: true
}
