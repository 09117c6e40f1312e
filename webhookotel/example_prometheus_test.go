package webhookotel_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	webhook "github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/webhookotel"
)

// Serve the dispatcher's metrics on a Prometheus endpoint through
// OpenTelemetry's Prometheus exporter.
func Example_prometheus() {
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		panic(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())

	tel, err := webhookotel.New(&webhookotel.Config{
		MeterProvider: mp,
		Organizations: func(context.Context) ([]string, error) { return []string{"org_1"}, nil },
	})
	if err != nil {
		panic(err)
	}
	cfg := &webhook.Config{}
	tel.Instrument(cfg)
	d, err := webhook.NewDispatcher(memstore.New(), cfg)
	if err != nil {
		panic(err)
	}
	defer d.Close(context.Background())
	reg, err := tel.ObserveQueue(d)
	if err != nil {
		panic(err)
	}
	defer reg.Unregister()

	// The host mounts the handler on its own mux, say at /metrics.
	srv := httptest.NewServer(promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	defer srv.Close()

	// Not started: the deliveries wait in the queue.
	ctx := context.Background()
	sub := &webhook.Subscription{OrganizationID: "org_1", URL: "https://crm.example.com/hooks", Events: []string{"contact.*"}}
	if err := d.CreateSubscription(ctx, sub); err != nil {
		panic(err)
	}
	for range 3 {
		if _, err := d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org_1", Timestamp: time.Now()}); err != nil {
			panic(err)
		}
	}

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "webhook_deliveries_enqueued_total") || strings.HasPrefix(line, "webhook_queue_depth") {
			fmt.Println(line)
		}
	}
	// Output:
	// webhook_deliveries_enqueued_total{webhook_event_type="contact.created"} 3
	// webhook_queue_depth{webhook_organization_id="org_1"} 3
}
