package manage

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/relayhook/webhook"
)

// subscriptionInput is the body of create, replace and (merged) partial
// update: the fields a client writes. The organization, ID, timestamps,
// authors and failure count are the server's.
type subscriptionInput struct {
	Name             string            `json:"name,omitempty"`
	URL              string            `json:"url"`
	Events           []string          `json:"events"`
	ContentType      string            `json:"contentType,omitempty"`
	Format           string            `json:"format,omitempty"`
	Secret           string            `json:"secret,omitempty"`
	BasicAuth        *basicAuthInput   `json:"basicAuth,omitempty"`
	Headers          map[string]string `json:"headers,omitempty"`
	CustomParameters map[string]string `json:"customParameters,omitempty"`
	Properties       map[string]string `json:"properties,omitempty"`
	State            webhook.State     `json:"state,omitempty"`
	Type             string            `json:"type,omitempty"`
	ErrorsEmail      string            `json:"errorsEmail,omitempty"`
	// The delivery controls: a filter is any JSON (the core checks it,
	// naming the bad part as filter["data.amount"]["$gte"]).
	Filter         json.RawMessage    `json:"filter,omitempty"`
	MaxConcurrency int                `json:"maxConcurrency,omitempty"`
	RateLimit      *webhook.RateLimit `json:"rateLimit,omitempty"`
	Ordered        bool               `json:"ordered,omitempty"`
}

type basicAuthInput struct {
	Username string `json:"username"`
	Password string `json:"password,omitempty"`
}

// inputOf returns the writable fields of s, its password included (for a
// merge patch, server-side only), its secret and state left out: a patch
// that does not name the state keeps it, TooManyErrors included.
func inputOf(s *webhook.Subscription) subscriptionInput {
	in := subscriptionInput{
		Name: s.Name, URL: s.URL, Events: s.Events, ContentType: s.ContentType, Format: s.Format,
		Headers: s.Headers, CustomParameters: s.CustomParameters, Properties: s.Properties,
		Type: s.Type, ErrorsEmail: s.ErrorsEmail,
		Filter: s.Filter, MaxConcurrency: s.MaxConcurrency, Ordered: s.Ordered,
	}
	if s.RateLimit != nil {
		rl := *s.RateLimit
		in.RateLimit = &rl
	}
	if s.BasicAuth != nil {
		in.BasicAuth = &basicAuthInput{Username: s.BasicAuth.Username, Password: s.BasicAuth.Password}
	}
	return in
}

// apply sets the writable fields of s from the input.
func (in *subscriptionInput) apply(s *webhook.Subscription) {
	s.Name, s.URL, s.Events, s.ContentType, s.Format = in.Name, in.URL, in.Events, in.ContentType, in.Format
	s.Secret, s.Headers, s.CustomParameters, s.Properties = in.Secret, in.Headers, in.CustomParameters, in.Properties
	s.State, s.Type, s.ErrorsEmail = in.State, in.Type, in.ErrorsEmail
	s.Filter, s.MaxConcurrency, s.RateLimit, s.Ordered = in.Filter, in.MaxConcurrency, in.RateLimit, in.Ordered
	s.BasicAuth = nil
	if in.BasicAuth != nil {
		s.BasicAuth = &webhook.BasicAuth{Username: in.BasicAuth.Username, Password: in.BasicAuth.Password}
	}
}

// checkState refuses a state a client may not set.
func (in *subscriptionInput) checkState() error {
	switch in.State {
	case "", webhook.StateActive, webhook.StateStopped:
		return nil
	}
	return &bodyError{status: http.StatusUnprocessableEntity, field: "state", detail: `must be "Active" or "Stopped"`}
}

// withSecret is a subscription with its secret, for the answers that show
// it: create, rotate. The secret is the last key.
func withSecret(s *webhook.Subscription) (json.RawMessage, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	secret, err := json.Marshal(s.Secret)
	if err != nil {
		return nil, err
	}
	b = append(b[:len(b)-1], `,"secret":`...)
	return append(append(b, secret...), '}'), nil
}

func (h *handler) listSubscriptions(w http.ResponseWriter, r *http.Request, a Access) {
	p, err := page(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	subs, next, err := h.d.ListSubscriptions(r.Context(), a.OrganizationID, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, newList(subs, next))
}

func (h *handler) createSubscription(w http.ResponseWriter, r *http.Request, a Access) {
	var in subscriptionInput
	if err := h.decode(w, r, &in, true); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := in.checkState(); err != nil {
		h.fail(w, r, err)
		return
	}
	s := &webhook.Subscription{OrganizationID: a.OrganizationID, CreatedBy: a.Actor, UpdatedBy: a.Actor}
	in.apply(s)
	if err := h.d.CreateSubscription(r.Context(), s); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(a, ActionCreate, Change{SubscriptionID: s.ID, After: s})
	body, err := withSecret(s)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "subscriptions/"+s.ID)
	h.writeJSON(w, r, http.StatusCreated, body)
}

// decode reads the body into v strictly; required says an empty body is
// an error rather than {}.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any, required bool) error {
	b, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	if b == nil {
		if required {
			return &bodyError{status: http.StatusBadRequest, detail: "The body is empty; a JSON object is required."}
		}
		return nil
	}
	return decodeStrict(b, v)
}

func (h *handler) getSubscription(w http.ResponseWriter, r *http.Request, a Access) {
	s, err := h.d.GetSubscription(r.Context(), a.OrganizationID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, s)
}

func (h *handler) replaceSubscription(w http.ResponseWriter, r *http.Request, a Access) {
	var in subscriptionInput
	if err := h.decode(w, r, &in, true); err != nil {
		h.fail(w, r, err)
		return
	}
	h.update(w, r, a, &in)
}

// update replaces the subscription of the path with the input.
func (h *handler) update(w http.ResponseWriter, r *http.Request, a Access, in *subscriptionInput) {
	h.modify(w, r, a, func(*webhook.Subscription) (*subscriptionInput, error) { return in, nil })
}

// modify changes the subscription of the path to the input that next
// makes of its current state, in one write that no other write of the
// dispatcher comes between (so a merge patch applies to what is stored).
func (h *handler) modify(w http.ResponseWriter, r *http.Request, a Access, next func(cur *webhook.Subscription) (*subscriptionInput, error)) {
	before, after, err := h.d.ModifySubscription(r.Context(), a.OrganizationID, r.PathValue("id"), func(s *webhook.Subscription) error {
		in, err := next(s)
		if err != nil {
			return err
		}
		if in.Secret != "" {
			return &bodyError{status: http.StatusUnprocessableEntity, field: "secret",
				detail: "cannot be changed here: rotate the secret instead"}
		}
		if err := in.checkState(); err != nil {
			return err
		}
		state := s.State
		in.apply(s)
		if in.State == "" {
			s.State = state
		}
		s.UpdatedBy = a.Actor
		return nil
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(a, ActionUpdate, Change{SubscriptionID: after.ID, Before: before, After: after})
	h.writeJSON(w, r, http.StatusOK, after)
}

func (h *handler) patchSubscription(w http.ResponseWriter, r *http.Request, a Access) {
	b, err := h.readBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if b == nil {
		h.fail(w, r, &bodyError{status: http.StatusBadRequest, detail: "The body is empty; a JSON merge patch is required."})
		return
	}
	var patch any
	if err := decodeStrict(b, &patch); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, ok := patch.(map[string]any); !ok {
		h.fail(w, r, &bodyError{status: http.StatusUnprocessableEntity, field: "$", detail: "A merge patch must be a JSON object."})
		return
	}
	h.modify(w, r, a, func(cur *webhook.Subscription) (*subscriptionInput, error) {
		doc, err := json.Marshal(inputOf(cur))
		if err != nil {
			return nil, err
		}
		var target any
		if err := json.Unmarshal(doc, &target); err != nil {
			return nil, err
		}
		merged, err := json.Marshal(mergePatch(target, patch))
		if err != nil {
			return nil, err
		}
		var in subscriptionInput
		if err := decodeStrict(merged, &in); err != nil {
			return nil, err
		}
		return &in, nil
	})
}

// mergePatch applies an RFC 7396 JSON merge patch to target.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = mergePatch(t[k], v)
		}
	}
	return t
}

func (h *handler) deleteSubscription(w http.ResponseWriter, r *http.Request, a Access) {
	before, err := h.d.GetSubscription(r.Context(), a.OrganizationID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.deleteFound(w, r, a, before)
}

// deleteFound deletes the subscription found for the request, audits it
// and answers 204: both APIs' DELETE.
func (h *handler) deleteFound(w http.ResponseWriter, r *http.Request, a Access, before *webhook.Subscription) {
	if err := h.d.DeleteSubscription(r.Context(), a.OrganizationID, before.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(a, ActionDelete, Change{SubscriptionID: before.ID, Before: before})
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) pauseSubscription(w http.ResponseWriter, r *http.Request, a Access) {
	h.setState(w, r, a, webhook.StateStopped, ActionPause)
}

func (h *handler) resumeSubscription(w http.ResponseWriter, r *http.Request, a Access) {
	h.setState(w, r, a, webhook.StateActive, ActionResume)
}

// setState pauses or resumes the subscription of the path; resuming also
// re-activates one stopped for too many errors.
func (h *handler) setState(w http.ResponseWriter, r *http.Request, a Access, state webhook.State, action Action) {
	before, err := h.d.GetSubscription(r.Context(), a.OrganizationID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.d.SetSubscriptionState(r.Context(), a.OrganizationID, before.ID, state); err != nil {
		h.fail(w, r, err)
		return
	}
	after, err := h.d.GetSubscription(r.Context(), a.OrganizationID, before.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(a, action, Change{SubscriptionID: before.ID, Before: before, After: after})
	h.writeJSON(w, r, http.StatusOK, after)
}

// rotateInput is the body of rotate-secret: an optional secret of the
// client's own.
type rotateInput struct {
	Secret string `json:"secret,omitempty"`
}

func (h *handler) rotateSecret(w http.ResponseWriter, r *http.Request, a Access) {
	var in rotateInput
	if err := h.decode(w, r, &in, false); err != nil {
		h.fail(w, r, err)
		return
	}
	before, err := h.d.GetSubscription(r.Context(), a.OrganizationID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	after, err := h.d.RotateSecret(r.Context(), a.OrganizationID, before.ID, in.Secret)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(a, ActionRotateSecret, Change{SubscriptionID: before.ID, Before: before, After: after})
	body, err := withSecret(after)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, body)
}

// secretBody is the answer of reveal.
type secretBody struct {
	Secret string `json:"secret"`
}

func (h *handler) revealSecret(w http.ResponseWriter, r *http.Request, a Access) {
	s, err := h.d.GetSubscription(r.Context(), a.OrganizationID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(a, ActionRevealSecret, Change{SubscriptionID: s.ID, Before: s, After: s})
	h.writeJSON(w, r, http.StatusOK, secretBody{s.Secret})
}

// testInput is the body of test.
type testInput struct {
	EventType string `json:"eventType"`
}

func (h *handler) sendTest(w http.ResponseWriter, r *http.Request, a Access) {
	var in testInput
	if err := h.decode(w, r, &in, true); err != nil {
		h.fail(w, r, err)
		return
	}
	dl, err := h.d.SendTest(r.Context(), a.OrganizationID, r.PathValue("id"), in.EventType)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(a, ActionSendTest, Change{SubscriptionID: dl.SubscriptionID, DeliveryID: dl.ID, Count: 1})
	h.writeJSON(w, r, http.StatusAccepted, dl)
}

// window reads the window query parameter of the statistics: a duration
// such as "24h" (the default), at least one hour.
func window(r *http.Request) (time.Duration, error) {
	s := r.URL.Query().Get("window")
	if s == "" {
		return 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Hour || d > 90*24*time.Hour {
		return 0, &queryError{"window", `must be a duration from "1h" to "2160h", such as "24h"`}
	}
	return d, nil
}

func (h *handler) subscriptionStats(w http.ResponseWriter, r *http.Request, a Access) {
	h.stats(w, r, a, r.PathValue("id"))
}

func (h *handler) organizationStats(w http.ResponseWriter, r *http.Request, a Access) {
	h.stats(w, r, a, "")
}

// statsBody is the answer of the statistics: the counts and the success
// rate of the window's attempts.
type statsBody struct {
	*webhook.Stats
	// SuccessRate is the share of the window's attempts that delivered,
	// 0 to 1; absent when there was none.
	SuccessRate *float64 `json:"successRate,omitempty"`
}

func (h *handler) stats(w http.ResponseWriter, r *http.Request, a Access, subID string) {
	win, err := window(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if subID != "" {
		// Stats checks the subscription too; this answers a missing one
		// the same way as every other route.
		if _, err := h.d.GetSubscription(r.Context(), a.OrganizationID, subID); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	st, err := h.d.Stats(r.Context(), a.OrganizationID, subID, win)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	body := statsBody{Stats: st}
	if st.Attempts > 0 {
		rate := float64(st.Attempts-st.Failures) / float64(st.Attempts)
		body.SuccessRate = &rate
	}
	h.writeJSON(w, r, http.StatusOK, body)
}

// redeliverInput is the body of the bulk retry.
type redeliverInput struct {
	State       webhook.DeliveryState `json:"state,omitempty"`
	EventType   string                `json:"eventType,omitempty"`
	CreatedFrom string                `json:"createdFrom,omitempty"`
	CreatedTo   string                `json:"createdTo,omitempty"`
	DryRun      bool                  `json:"dryRun,omitempty"`
}

// countBody is the answer of the bulk retry and of replay.
type countBody struct {
	Count  int  `json:"count"`
	DryRun bool `json:"dryRun"`
}

// bodyTime parses an RFC 3339 time of a body; zero when empty.
func bodyTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &bodyError{status: http.StatusUnprocessableEntity, field: field,
			detail: "must be a time in RFC 3339 form, such as 2026-01-02T15:04:05Z"}
	}
	return t, nil
}

// bodyRange parses a time range of a body.
func bodyRange(fromField, from, toField, to string) (f, t time.Time, err error) {
	if f, err = bodyTime(fromField, from); err != nil {
		return
	}
	if t, err = bodyTime(toField, to); err != nil {
		return
	}
	if !f.IsZero() && !t.IsZero() && !f.Before(t) {
		err = &bodyError{status: http.StatusUnprocessableEntity, field: toField, detail: "must be after " + fromField}
	}
	return
}

func (h *handler) redeliverAll(w http.ResponseWriter, r *http.Request, a Access) {
	var in redeliverInput
	if err := h.decode(w, r, &in, false); err != nil {
		h.fail(w, r, err)
		return
	}
	from, to, err := bodyRange("createdFrom", in.CreatedFrom, "createdTo", in.CreatedTo)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch in.State {
	case "", webhook.DeliveryDead, webhook.DeliveryDelivered:
	default:
		h.fail(w, r, &bodyError{status: http.StatusUnprocessableEntity, field: "state", detail: `must be "dead" or "delivered"`})
		return
	}
	if in.EventType != "" && !webhook.ValidEventType(in.EventType) {
		h.fail(w, r, &bodyError{status: http.StatusUnprocessableEntity, field: "eventType", detail: "is not a valid event type"})
		return
	}
	n, err := h.d.RedeliverAll(r.Context(), webhook.RedeliverFilter{
		OrganizationID: a.OrganizationID, SubscriptionID: r.PathValue("id"), State: in.State,
		EventType: in.EventType, CreatedFrom: from, CreatedTo: to, DryRun: in.DryRun,
	})
	if err != nil {
		if n > 0 {
			h.audit(a, ActionRedeliverAll, Change{SubscriptionID: r.PathValue("id"), Count: n})
		}
		h.fail(w, r, &partialError{n: n, err: err})
		return
	}
	if !in.DryRun {
		h.audit(a, ActionRedeliverAll, Change{SubscriptionID: r.PathValue("id"), Count: n})
	}
	h.writeJSON(w, r, http.StatusOK, countBody{Count: n, DryRun: in.DryRun})
}

// replayInput is the body of replay.
type replayInput struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

func (h *handler) replay(w http.ResponseWriter, r *http.Request, a Access) {
	var in replayInput
	if err := h.decode(w, r, &in, false); err != nil {
		h.fail(w, r, err)
		return
	}
	from, to, err := bodyRange("from", in.From, "to", in.To)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	n, err := h.d.Replay(r.Context(), a.OrganizationID, r.PathValue("id"), from, to)
	if n > 0 {
		h.audit(a, ActionReplay, Change{SubscriptionID: r.PathValue("id"), Count: n})
	}
	if err != nil {
		h.fail(w, r, &partialError{n: n, err: err})
		return
	}
	h.writeJSON(w, r, http.StatusOK, countBody{Count: n})
}
