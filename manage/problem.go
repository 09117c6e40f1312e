package manage

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/relayhook/webhook"
)

// Problem is the body of every error answer: an RFC 9457 problem detail,
// served as application/problem+json.
type Problem struct {
	// Type is a URI naming the kind of problem; "about:blank" with the
	// status's own meaning, for every problem of this API.
	Type string `json:"type"`
	// Title is the status's text ("Unprocessable Entity").
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail says what went wrong, for people.
	Detail string `json:"detail,omitempty"`
	// Errors lists the bad fields of the request, for 400 and 422.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names one bad field of a request: a JSON path in the body
// ("events[0]", "basicAuth.username", SuperOffice's "Type") or a query
// parameter ("cursor"), and what is wrong with it.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// problem writes a problem answer.
func (h *handler) problem(w http.ResponseWriter, r *http.Request, status int, detail string, errs []FieldError) {
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Errors: errs}
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
}

// queryError is a bad query parameter, answered 400.
type queryError struct{ field, reason string }

func (e *queryError) Error() string { return e.field + ": " + e.reason }

// bodyError is a request body that cannot be read as the route's JSON.
type bodyError struct {
	status int
	detail string
	field  string // for 422
}

func (e *bodyError) Error() string { return e.detail }

// fieldRenames maps the dispatcher's and stores' names of arguments to the
// API's names of the same inputs.
var fieldRenames = map[string]string{
	"Page.Cursor": "cursor",
	"Page.Limit":  "limit",
	"newSecret":   "secret",
}

// StoreFullRetryAfter is the Retry-After, in seconds, of the 503 answer
// to a route that would queue deliveries while the store is full
// (webhook.ErrStoreFull).
const StoreFullRetryAfter = 30

// partialError is the error of a route that queues deliveries one by one
// (replay, bulk redeliver) after it queued n of them.
type partialError struct {
	n   int
	err error
}

func (e *partialError) Error() string { return fmt.Sprintf("after %d queued: %v", e.n, e.err) }
func (e *partialError) Unwrap() error { return e.err }

// fail answers an error of a route: the one place where an error is mapped
// to a status. A *webhook.ValidationError is 422 (400 when the route reads
// only its query, for GET), ErrNotFound 404, ErrInvalidState and
// ErrAlreadyExists 409, ErrDispatcherClosed 503, ErrStoreFull 503 with
// Retry-After, anything else 500 without its text.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ve *webhook.ValidationError
		qe *queryError
		be *bodyError
	)
	switch {
	case errors.As(err, &qe):
		h.problem(w, r, http.StatusBadRequest, "A query parameter is not valid.", []FieldError{{qe.field, qe.reason}})
	case errors.As(err, &be):
		var errs []FieldError
		if be.field != "" {
			errs = []FieldError{{be.field, be.detail}}
		}
		h.problem(w, r, be.status, be.detail, errs)
	case errors.As(err, &ve):
		if ve.Hint != "" {
			h.log.Debug("manage: validation", "field", ve.Field, "hint", ve.Hint)
		}
		field := ve.Field
		if f, ok := fieldRenames[field]; ok {
			field = f
		}
		status, detail := http.StatusUnprocessableEntity, "The request is not valid."
		if r.Method == http.MethodGet || strings.HasPrefix(ve.Field, "Page.") {
			status, detail = http.StatusBadRequest, "A query parameter is not valid."
		}
		h.problem(w, r, status, detail, []FieldError{{field, ve.Reason}})
	case errors.Is(err, webhook.ErrNotFound):
		h.problem(w, r, http.StatusNotFound, "No such record.", nil)
	case errors.Is(err, webhook.ErrInvalidState):
		h.problem(w, r, http.StatusConflict, conflictDetail(err), nil)
	case errors.Is(err, webhook.ErrAlreadyExists):
		h.problem(w, r, http.StatusConflict, "A record with this ID exists already.", nil)
	case errors.Is(err, webhook.ErrDispatcherClosed):
		h.problem(w, r, http.StatusServiceUnavailable, "The service is shutting down.", nil)
	case errors.Is(err, webhook.ErrStoreFull):
		h.log.Warn("manage: store full", "method", r.Method, "path", r.URL.Path, "err", err)
		detail := "The queue is full: nothing more can be queued until deliveries finish. Try again later."
		var p *partialError
		if errors.As(err, &p) && p.n > 0 {
			detail += fmt.Sprintf(" %d %s queued before it filled.", p.n, plural(p.n, "delivery was", "deliveries were"))
		}
		w.Header().Set("Retry-After", strconv.Itoa(StoreFullRetryAfter))
		h.problem(w, r, http.StatusServiceUnavailable, detail, nil)
	default:
		h.log.Error("manage: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		h.problem(w, r, http.StatusInternalServerError, "The request could not be completed.", nil)
	}
}

// conflictDetail is the customer's text of an ErrInvalidState.
func conflictDetail(err error) string {
	var c *conflict
	if errors.As(err, &c) {
		return c.detail
	}
	return "The record's state does not allow this."
}

// conflict is an ErrInvalidState with a text of the handler's.
type conflict struct{ detail string }

func (c *conflict) Error() string { return c.detail }
func (c *conflict) Unwrap() error { return webhook.ErrInvalidState }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
