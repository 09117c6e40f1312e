package portal

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
)

// endpointForm is the add / edit form, as posted or as filled from a
// subscription. It never holds a password or secret that was stored.
type endpointForm struct {
	ID          string // empty when adding
	Name        string
	URL         string
	Events      map[string]bool // catalogued types ticked
	Patterns    string          // other patterns, such as "contact.*"
	ContentType string
	Headers     string // one "Name: value" a line
	BasicUser   string
	HasPassword bool // editing, and a password is stored
	// The delivery controls, as typed: MaxConcurrency and RateRequests
	// are numbers (empty: none), RatePer "second" or "minute", Filter a
	// JSON object (empty: none).
	MaxConcurrency string
	RateRequests   string
	RatePer        string
	Ordered        bool
	Filter         string
	// Errors maps a form control's name to what is wrong with it;
	// General holds what belongs to none.
	Errors  map[string]string
	General string
}

// formPage is what the form template gets.
type formPage struct {
	Form    *endpointForm
	Catalog []webhook.EventType
}

// fromSubscription fills a form to edit s.
func (h *handler) fromSubscription(s *webhook.Subscription) *endpointForm {
	f := &endpointForm{ID: s.ID, Name: s.Name, URL: s.URL, Events: map[string]bool{}, ContentType: s.ContentType}
	var other []string
	for _, e := range s.Events {
		if _, ok := h.d.EventType(e); ok {
			f.Events[e] = true
		} else {
			other = append(other, e)
		}
	}
	f.Patterns = strings.Join(other, ", ")
	for _, k := range slices.Sorted(maps.Keys(s.Headers)) {
		f.Headers += k + ": " + s.Headers[k] + "\n"
	}
	if s.BasicAuth != nil {
		f.BasicUser = s.BasicAuth.Username
		f.HasPassword = s.BasicAuth.Password != ""
	}
	if s.MaxConcurrency > 0 {
		f.MaxConcurrency = strconv.Itoa(s.MaxConcurrency)
	}
	f.RatePer = string(webhook.PerSecond)
	if s.RateLimit != nil {
		f.RateRequests, f.RatePer = strconv.Itoa(s.RateLimit.Requests), string(s.RateLimit.Per)
	}
	f.Ordered = s.Ordered
	if len(s.Filter) > 0 {
		var b bytes.Buffer
		if json.Indent(&b, s.Filter, "", "  ") == nil {
			f.Filter = b.String()
		} else {
			f.Filter = string(s.Filter)
		}
	}
	return f
}

// readForm reads a posted form, and the password typed (empty for none).
func readForm(r *http.Request) (*endpointForm, string) {
	v := r.PostForm
	f := &endpointForm{Name: strings.TrimSpace(v.Get("name")), URL: strings.TrimSpace(v.Get("url")),
		Events: map[string]bool{}, Patterns: v.Get("patterns"), ContentType: v.Get("content_type"),
		Headers: v.Get("headers"), BasicUser: strings.TrimSpace(v.Get("basic_user")), Errors: map[string]string{},
		MaxConcurrency: strings.TrimSpace(v.Get("max_concurrency")), RateRequests: strings.TrimSpace(v.Get("rate_requests")),
		RatePer: v.Get("rate_per"), Ordered: v.Get("ordered") != "", Filter: strings.TrimSpace(v.Get("filter"))}
	for _, e := range v["events"] {
		f.Events[e] = true
	}
	return f, v.Get("basic_password")
}

// apply writes the form onto s; a header line that does not parse is
// reported in f.Errors.
func (f *endpointForm) apply(s *webhook.Subscription, password string) {
	s.Name, s.URL = f.Name, f.URL
	s.Events = slices.Sorted(maps.Keys(f.Events))
	s.Events = append(s.Events, splitList(f.Patterns)...)
	switch f.ContentType {
	case webhook.ContentTypeForm:
		s.ContentType = webhook.ContentTypeForm
	default:
		s.ContentType = webhook.ContentTypeJSON
	}
	s.Headers = nil
	for i, line := range strings.Split(f.Headers, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, val, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) == "" {
			f.Errors["headers"] = "Line " + strconv.Itoa(i+1) + " is not “Name: value”."
			continue
		}
		if s.Headers == nil {
			s.Headers = map[string]string{}
		}
		s.Headers[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	switch {
	case f.BasicUser == "":
		s.BasicAuth = nil
	case password != "":
		s.BasicAuth = &webhook.BasicAuth{Username: f.BasicUser, Password: password}
	case s.BasicAuth != nil: // editing: keep the stored password
		s.BasicAuth = &webhook.BasicAuth{Username: f.BasicUser, Password: s.BasicAuth.Password}
	default:
		s.BasicAuth = &webhook.BasicAuth{Username: f.BasicUser}
	}
	if len(s.Events) == 0 {
		f.Errors["events"] = "Choose at least one event type."
	}
	f.applyControls(s)
}

// applyControls writes the delivery controls of the form onto s; a
// number that does not parse is reported in f.Errors.
func (f *endpointForm) applyControls(s *webhook.Subscription) {
	s.MaxConcurrency = 0
	if f.MaxConcurrency != "" {
		n, err := strconv.Atoi(f.MaxConcurrency)
		if err != nil {
			f.Errors["max_concurrency"] = "Enter a whole number from 0 to " + strconv.Itoa(webhook.MaxConcurrencyLimit) + ", or leave it empty."
		}
		s.MaxConcurrency = n
	}
	s.RateLimit = nil
	if f.RateRequests != "" {
		n, err := strconv.Atoi(f.RateRequests)
		if err != nil {
			f.Errors["rate_requests"] = "Enter a whole number from 1 to " + strconv.Itoa(webhook.MaxRateLimitRequests) + ", or leave it empty for no limit."
		}
		s.RateLimit = &webhook.RateLimit{Requests: n, Per: webhook.RatePeriod(f.RatePer)}
	}
	s.Ordered = f.Ordered
	s.Filter = nil
	if f.Filter != "" {
		s.Filter = json.RawMessage(f.Filter)
	}
}

// showErrors puts a validation error by the control it is about.
func (f *endpointForm) showErrors(err error) bool {
	var ve *webhook.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	control := ""
	switch p := ve.Field; {
	case p == "url", p == "name":
		control = p
	case strings.HasPrefix(p, "events"):
		control = "events"
	case p == "contentType":
		control = "content_type"
	case strings.HasPrefix(p, "headers"):
		control = "headers"
	case strings.HasPrefix(p, "basicAuth"):
		control = "basic_user"
	case p == "maxConcurrency":
		control = "max_concurrency"
	case p == "rateLimit.requests":
		control = "rate_requests"
	case p == "rateLimit.per":
		control = "rate_per"
	case strings.HasPrefix(p, "filter"):
		control = "filter"
	}
	msg := upperFirst(ve.Reason) + "."
	if at, ok := strings.CutPrefix(ve.Field, "filter"); ok && at != "" {
		msg = "At " + at + ": " + ve.Reason + "."
	}
	if control == "" {
		f.General = ve.Field + ": " + ve.Reason + "."
	} else {
		f.Errors[control] = msg
	}
	return true
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (h *handler) renderForm(w http.ResponseWriter, status int, acc manage.Access, f *endpointForm) {
	heading := "Add endpoint"
	if f.ID != "" {
		heading = "Edit endpoint"
	}
	p := h.newPage(&acc, heading, "endpoints")
	p.Data = formPage{Form: f, Catalog: h.d.EventTypes()}
	h.render(w, status, "form", p)
}

func (h *handler) newEndpoint(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	h.renderForm(w, http.StatusOK, acc, &endpointForm{Events: map[string]bool{}, ContentType: webhook.ContentTypeJSON, RatePer: string(webhook.PerSecond)})
	return nil
}

func (h *handler) createEndpoint(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	f, password := readForm(r)
	s := &webhook.Subscription{OrganizationID: acc.OrganizationID, CreatedBy: acc.Actor, UpdatedBy: acc.Actor}
	f.apply(s, password)
	if len(f.Errors) > 0 {
		h.renderForm(w, http.StatusUnprocessableEntity, acc, f)
		return nil
	}
	if err := h.d.CreateSubscription(r.Context(), s); err != nil {
		if !f.showErrors(err) {
			return err
		}
		h.renderForm(w, http.StatusUnprocessableEntity, acc, f)
		return nil
	}
	h.audit(acc, manage.Change{Action: manage.ActionCreate, SubscriptionID: s.ID, After: s})
	p := h.newPage(&acc, "Endpoint added", "endpoints")
	p.Data = secretPage{Sub: s, Secret: s.Secret, Reason: "created", Created: true}
	h.render(w, http.StatusCreated, "secret", p)
	return nil
}

func (h *handler) editEndpoint(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	sub, err := h.d.GetSubscription(r.Context(), acc.OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	h.renderForm(w, http.StatusOK, acc, h.fromSubscription(sub))
	return nil
}

func (h *handler) updateEndpoint(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	ctx := r.Context()
	before, err := h.d.GetSubscription(ctx, acc.OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	f, password := readForm(r)
	f.ID = before.ID
	f.HasPassword = before.BasicAuth != nil && before.BasicAuth.Password != ""
	s := before.Clone()
	s.Secret = "" // keeps the stored one
	s.UpdatedBy = acc.Actor
	f.apply(s, password)
	if len(f.Errors) > 0 {
		h.renderForm(w, http.StatusUnprocessableEntity, acc, f)
		return nil
	}
	if err := h.d.UpdateSubscription(ctx, s); err != nil {
		if !f.showErrors(err) {
			return err
		}
		h.renderForm(w, http.StatusUnprocessableEntity, acc, f)
		return nil
	}
	h.audit(acc, manage.Change{Action: manage.ActionUpdate, SubscriptionID: s.ID, Before: before, After: s})
	h.redirect(w, r, h.link("endpoints", s.ID), "updated")
	return nil
}
