package portal

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
)

var (
	errUnauthorized = errors.New("portal: not signed in")
	errForbidden    = errors.New("portal: missing capability")
	errNoPage       = errors.New("portal: no such page")
	errBadForm      = errors.New("portal: form does not parse")
)

// errorPage is what the error template shows.
type errorPage struct {
	Status  int
	Message string
	Field   string
}

// fail answers an error with the page of its status; the one place that
// maps errors to statuses. Validation errors show their field and
// reason, which are written for customers; a 500 shows nothing of the
// error, which goes to the logger.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, acc *manage.Access, err error) {
	ep := errorPage{Status: http.StatusInternalServerError, Message: "Something went wrong on our side. Please try again."}
	var ve *webhook.ValidationError
	switch {
	case errors.Is(err, errUnauthorized):
		ep.Status, ep.Message = http.StatusUnauthorized, "Please sign in to manage your webhooks."
	case errors.Is(err, errForbidden):
		ep.Status, ep.Message = http.StatusForbidden, "Your account may not do this."
	case errors.Is(err, errCrossOrigin):
		ep.Status, ep.Message = http.StatusForbidden, "This request came from another site and was refused. Nothing was changed."
	case errors.Is(err, errNoPage), errors.Is(err, webhook.ErrNotFound):
		ep.Status, ep.Message = http.StatusNotFound, "There is no such page, or it was deleted."
	case errors.Is(err, errBadForm):
		ep.Status, ep.Message = http.StatusBadRequest, "The form could not be read. Please try again."
	case errors.As(err, &ve):
		ep.Status, ep.Field, ep.Message = http.StatusUnprocessableEntity, ve.Field, ve.Reason
		if r.Method == http.MethodGet {
			ep.Status = http.StatusBadRequest
		}
	case errors.Is(err, webhook.ErrInvalidState):
		ep.Status, ep.Message = http.StatusConflict, "This cannot be done in the current state: an endpoint must be active to receive a test event, and a delivery still pending cannot be redelivered."
	case errors.Is(err, webhook.ErrDispatcherClosed):
		ep.Status, ep.Message = http.StatusServiceUnavailable, "The service is shutting down. Please try again in a moment."
	case errors.Is(err, webhook.ErrStoreFull):
		ep.Status, ep.Message = http.StatusServiceUnavailable, "Too many deliveries are waiting to be sent: nothing more can be queued until they have gone out. Please try again in a few minutes."
		w.Header().Set("Retry-After", strconv.Itoa(manage.StoreFullRetryAfter))
		h.logger.WarnContext(r.Context(), "portal: store full", "method", r.Method, "path", r.URL.Path, "err", err)
	default:
		h.logger.ErrorContext(r.Context(), "portal: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	p := h.newPage(acc, http.StatusText(ep.Status), "")
	p.Data = ep
	h.render(w, ep.Status, "error", p)
}
