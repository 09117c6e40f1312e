package manage

import (
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/relayhook/webhook"
)

// DefaultMaxBodyBytes is the largest request body the handler reads, by
// default: a larger one is answered 413.
const DefaultMaxBodyBytes = 1 << 20

// Config configures the management API's handler.
type Config struct {
	// Authorize is the host's check of each request: required. It is
	// called once per request, before anything is read or changed.
	Authorize AuthorizeFunc
	// Audit, when set, is told of every change made through the handler.
	// Defaults to nil: no audit.
	Audit AuditFunc
	// SuperOffice adds the routes shaped like SuperOffice's
	// /api/v1/Webhook (see the package doc). Defaults to false.
	SuperOffice bool
	// MaxBodyBytes is the largest request body read; a larger one is
	// answered 413. Defaults to DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives the errors answered 500 (with their detail, which
	// the answer leaves out) and the hints of validation errors. Defaults
	// to slog.Default().
	Logger *slog.Logger
}

// openAPI is the OpenAPI 3.1 document of every route, served at
// GET openapi.json.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of the handler's routes, as
// served at GET openapi.json. The caller owns the slice.
func OpenAPI() []byte { return slices.Clone(openAPI) }

// handler serves the management API.
type handler struct {
	d       *webhook.Dispatcher
	cfg     Config
	mux     *http.ServeMux
	log     *slog.Logger
	methods map[string][]string // path pattern → methods routed
}

// NewHandler returns the management API of the dispatcher's webhooks, to
// mount under any prefix with http.StripPrefix:
//
//	mux.Handle("/webhooks/api/", http.StripPrefix("/webhooks/api", manage.NewHandler(d, &manage.Config{Authorize: auth})))
//
// Every route calls cfg.Authorize first. NewHandler panics when d or
// cfg.Authorize is nil, as http.Handle does for a nil handler: no route
// can be reached without the host's check.
func NewHandler(d *webhook.Dispatcher, cfg *Config) http.Handler {
	if d == nil {
		panic("manage: NewHandler with a nil Dispatcher")
	}
	if cfg == nil || cfg.Authorize == nil {
		panic("manage: NewHandler without Config.Authorize")
	}
	h := &handler{d: d, cfg: *cfg, mux: http.NewServeMux(), methods: map[string][]string{}}
	if h.cfg.MaxBodyBytes <= 0 {
		h.cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	h.log = h.cfg.Logger
	if h.log == nil {
		h.log = slog.Default()
	}
	h.routes()
	if h.cfg.SuperOffice {
		h.superOfficeRoutes()
	}
	for path, methods := range h.methods {
		allow := strings.Join(methods, ", ")
		h.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			h.problem(w, r, http.StatusMethodNotAllowed, "The method is not allowed here; see the Allow header.", nil)
		})
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.problem(w, r, http.StatusNotFound, "No route matches this path.", nil)
	})
	return h
}

// ServeHTTP routes the request.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// routeFunc serves one route for an authorized caller.
type routeFunc func(w http.ResponseWriter, r *http.Request, a Access)

// handle registers fn for method and path, reached only by a caller whose
// Access has every capability of need.
func (h *handler) handle(method, path string, need Capability, fn routeFunc) {
	h.methods[path] = append(h.methods[path], method)
	if method == http.MethodGet {
		h.methods[path] = append(h.methods[path], http.MethodHead)
	}
	h.mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		a, err := h.authorize(r)
		if errors.Is(err, errCallbackPanicked) {
			h.fail(w, r, err)
			return
		}
		if err != nil || a.OrganizationID == "" {
			h.problem(w, r, http.StatusUnauthorized, "The request is not authenticated.", nil)
			return
		}
		if !a.Capabilities.Has(need) {
			h.problem(w, r, http.StatusForbidden, "The caller may not "+capabilityText(need)+".", nil)
			return
		}
		fn(w, r, a)
	})
}

func capabilityText(c Capability) string {
	switch {
	case c.Has(CanRevealSecrets):
		return "reveal secrets"
	case c.Has(CanManage):
		return "change webhooks"
	default:
		return "read webhooks"
	}
}

func (h *handler) routes() {
	h.handle("GET", "/openapi.json", 0, h.openAPI)

	h.handle("GET", "/subscriptions", CanRead, h.listSubscriptions)
	h.handle("POST", "/subscriptions", CanManage, h.createSubscription)
	h.handle("GET", "/subscriptions/{id}", CanRead, h.getSubscription)
	h.handle("PUT", "/subscriptions/{id}", CanManage, h.replaceSubscription)
	h.handle("PATCH", "/subscriptions/{id}", CanManage, h.patchSubscription)
	h.handle("DELETE", "/subscriptions/{id}", CanManage, h.deleteSubscription)
	h.handle("POST", "/subscriptions/{id}/pause", CanManage, h.pauseSubscription)
	h.handle("POST", "/subscriptions/{id}/resume", CanManage, h.resumeSubscription)
	h.handle("POST", "/subscriptions/{id}/rotate-secret", CanManage, h.rotateSecret)
	h.handle("GET", "/subscriptions/{id}/secret", CanRevealSecrets, h.revealSecret)
	h.handle("POST", "/subscriptions/{id}/test", CanManage, h.sendTest)
	h.handle("GET", "/subscriptions/{id}/stats", CanRead, h.subscriptionStats)
	h.handle("GET", "/subscriptions/{id}/deliveries", CanRead, h.listSubscriptionDeliveries)
	h.handle("POST", "/subscriptions/{id}/redeliver", CanManage, h.redeliverAll)
	h.handle("POST", "/subscriptions/{id}/replay", CanManage, h.replay)

	h.handle("GET", "/deliveries", CanRead, h.listDeliveries)
	h.handle("GET", "/deliveries/{id}", CanRead, h.getDelivery)
	h.handle("POST", "/deliveries/{id}/redeliver", CanManage, h.redeliver)

	h.handle("GET", "/events", CanRead, h.listEvents)
	h.handle("GET", "/events/{id}", CanRead, h.getEvent)

	h.handle("GET", "/event-types", CanRead, h.listEventTypes)
	h.handle("GET", "/stats", CanRead, h.organizationStats)
}

func (h *handler) openAPI(w http.ResponseWriter, r *http.Request, _ Access) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}

// audit tells the AuditFunc of a change, when one is set.
func (h *handler) audit(a Access, action Action, c Change) {
	if h.cfg.Audit == nil {
		return
	}
	c.At = h.now()
	c.OrganizationID, c.Actor, c.Action = a.OrganizationID, a.Actor, action
	c.Before, c.After = Redacted(c.Before), Redacted(c.After)
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("manage: the Audit callback panicked; the change was made", "action", action, "panic", p)
		}
	}()
	h.cfg.Audit(c)
}

// errCallbackPanicked is a host callback's panic, answered 500.
var errCallbackPanicked = errors.New("manage: the Authorize callback panicked")

// authorize calls the host's Authorize, turning a panic into an error.
func (h *handler) authorize(r *http.Request) (a Access, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errCallbackPanicked, p)
		}
	}()
	return h.cfg.Authorize(r)
}

// now is the dispatcher's time, for the audit.
func (h *handler) now() time.Time { return h.d.Now() }
