package portal

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
)

// pageSize is how many endpoints or deliveries a page lists.
const pageSize = 25

// endpointRow is one line of the endpoints list.
type endpointRow struct {
	Sub         *webhook.Subscription
	SuccessRate string
	Attempts    int64
	LastAttempt time.Time
	LastStatus  int
}

func (h *handler) listEndpoints(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	subs, next, err := h.d.ListSubscriptions(r.Context(), acc.OrganizationID, webhook.Page{Limit: pageSize, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	rows := make([]endpointRow, 0, len(subs))
	for _, s := range subs {
		st, err := h.d.Stats(r.Context(), acc.OrganizationID, s.ID, h.cfg.StatsWindow)
		if err != nil {
			return err
		}
		rows = append(rows, endpointRow{Sub: s, SuccessRate: successRate(st), Attempts: st.Attempts,
			LastAttempt: st.LastAttemptAt, LastStatus: st.LastStatusCode})
	}
	p := h.newPage(&acc, "Endpoints", "endpoints")
	p.Notice = notice(r)
	data := struct {
		Rows   []endpointRow
		Next   string
		Window string
	}{Rows: rows, Window: windowText(h.cfg.StatsWindow)}
	if next != "" {
		data.Next = h.link() + "?" + url.Values{"cursor": {next}}.Encode()
	}
	p.Data = data
	h.render(w, http.StatusOK, "endpoints", p)
	return nil
}

func successRate(st *webhook.Stats) string {
	if st.Attempts == 0 {
		return "—"
	}
	return strconv.FormatFloat(100*float64(st.Attempts-st.Failures)/float64(st.Attempts), 'f', 0, 64) + "%"
}

// windowText names the stats window: "24 h", "7 days".
func windowText(d time.Duration) string {
	if d >= 72*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	return strconv.Itoa(int(d/time.Hour)) + " h"
}

func (h *handler) eventTypes(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	p := h.newPage(&acc, "Event types", "event-types")
	p.Data = h.d.EventTypes()
	h.render(w, http.StatusOK, "event-types", p)
	return nil
}

// detail is what the endpoint page shows.
type detail struct {
	Sub        *webhook.Subscription
	Stats      *webhook.Stats
	Rate       string
	Window     string
	Deliveries []*webhook.Delivery
	Next       string
	Filter     deliveryQuery
	FilterErr  string
	Catalog    []webhook.EventType
}

// deliveryQuery is the filter of the deliveries, as the form gives it.
type deliveryQuery struct {
	State, Event, From, To string
}

// dateInput is the layout of an <input type="datetime-local">, read as
// UTC.
const dateInput = "2006-01-02T15:04"

func parseDate(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{dateInput, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &webhook.ValidationError{Kind: webhook.ErrInvalidArgument, Field: field,
		Reason: "is not a date and time such as 2026-01-24T09:30"}
}

// filter reads the delivery filter of a query into a DeliveryFilter.
func (q deliveryQuery) filter(orgID, subID string) (webhook.DeliveryFilter, error) {
	f := webhook.DeliveryFilter{OrganizationID: orgID, SubscriptionID: subID, EventType: q.Event,
		State: webhook.DeliveryState(q.State), Order: webhook.NewestFirst}
	var err1, err2 error
	f.CreatedFrom, err1 = parseDate("from", q.From)
	f.CreatedTo, err2 = parseDate("to", q.To)
	return f, errors.Join(err1, err2)
}

func readQuery(v url.Values) deliveryQuery {
	return deliveryQuery{State: v.Get("state"), Event: v.Get("event"), From: v.Get("from"), To: v.Get("to")}
}

func (q deliveryQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"state": q.State, "event": q.Event, "from": q.From, "to": q.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

func (h *handler) showEndpoint(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	ctx := r.Context()
	sub, err := h.d.GetSubscription(ctx, acc.OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	st, err := h.d.Stats(ctx, acc.OrganizationID, sub.ID, h.cfg.StatsWindow)
	if err != nil {
		return err
	}
	q := readQuery(r.URL.Query())
	dt := detail{Sub: sub, Stats: st, Rate: successRate(st), Window: windowText(h.cfg.StatsWindow), Filter: q, Catalog: h.d.EventTypes()}
	status := http.StatusOK
	f, err := q.filter(acc.OrganizationID, sub.ID)
	if err == nil {
		f.Page = webhook.Page{Limit: pageSize, Cursor: r.URL.Query().Get("cursor")}
		var next string
		dt.Deliveries, next, err = h.d.ListDeliveries(ctx, f)
		if next != "" {
			v := q.values()
			v.Set("cursor", next)
			dt.Next = h.link("endpoints", sub.ID) + "?" + v.Encode()
		}
	}
	if err != nil {
		var ve *webhook.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		status, dt.FilterErr = http.StatusBadRequest, reasonOf(ve)
	}
	p := h.newPage(&acc, displayName(sub), "endpoints")
	p.Notice = notice(r)
	p.Data = dt
	h.render(w, status, "endpoint", p)
	return nil
}

// reasonOf names a field and says what is wrong with it, for customers.
func reasonOf(ve *webhook.ValidationError) string {
	name := map[string]string{"from": "From", "to": "To", "state": "State", "cursor": "Page", "limit": "Page size"}[ve.Field]
	if name == "" {
		name = ve.Field
	}
	return name + " " + ve.Reason
}

func displayName(s *webhook.Subscription) string {
	if s.Name != "" {
		return s.Name
	}
	return s.URL
}

func (h *handler) pauseEndpoint(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	return h.setState(w, r, acc, webhook.StateStopped, manage.ActionPause, "paused")
}

func (h *handler) resumeEndpoint(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	return h.setState(w, r, acc, webhook.StateActive, manage.ActionResume, "resumed")
}

func (h *handler) setState(w http.ResponseWriter, r *http.Request, acc manage.Access, state webhook.State, action manage.Action, done string) error {
	ctx := r.Context()
	id := r.PathValue("id")
	before, err := h.d.GetSubscription(ctx, acc.OrganizationID, id)
	if err != nil {
		return err
	}
	if err := h.d.SetSubscriptionState(ctx, acc.OrganizationID, id, state); err != nil {
		return err
	}
	after, err := h.d.GetSubscription(ctx, acc.OrganizationID, id)
	if err != nil {
		return err
	}
	h.audit(acc, manage.Change{Action: action, SubscriptionID: id, Before: before, After: after})
	h.redirect(w, r, h.link("endpoints", id), done)
	return nil
}

// secretPage is what the secret template shows: right after create or
// rotate, or on reveal.
type secretPage struct {
	Sub     *webhook.Subscription
	Secret  string
	Reason  string // created, rotated or revealed
	Grace   time.Time
	Created bool
}

func (h *handler) rotateSecret(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	ctx := r.Context()
	id := r.PathValue("id")
	before, err := h.d.GetSubscription(ctx, acc.OrganizationID, id)
	if err != nil {
		return err
	}
	after, err := h.d.RotateSecret(ctx, acc.OrganizationID, id, "")
	if err != nil {
		return err
	}
	h.audit(acc, manage.Change{Action: manage.ActionRotateSecret, SubscriptionID: id, Before: before, After: after})
	sp := secretPage{Sub: after, Secret: after.Secret, Reason: "rotated"}
	if len(after.PreviousSecrets) > 0 {
		sp.Grace = after.PreviousSecrets[0].ExpiresAt
	}
	p := h.newPage(&acc, "New signing secret", "endpoints")
	p.Data = sp
	h.render(w, http.StatusOK, "secret", p)
	return nil
}

func (h *handler) revealSecret(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	sub, err := h.d.GetSubscription(r.Context(), acc.OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	h.audit(acc, manage.Change{Action: manage.ActionRevealSecret, SubscriptionID: sub.ID})
	p := h.newPage(&acc, "Signing secret", "endpoints")
	p.Data = secretPage{Sub: sub, Secret: sub.Secret, Reason: "revealed"}
	h.render(w, http.StatusOK, "secret", p)
	return nil
}

func (h *handler) sendTest(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := h.d.SendTest(r.Context(), acc.OrganizationID, id, r.PostForm.Get("event_type")); err != nil {
		return err
	}
	h.audit(acc, manage.Change{Action: manage.ActionSendTest, SubscriptionID: id})
	h.redirect(w, r, h.link("endpoints", id), "test-sent")
	return nil
}

func (h *handler) confirmDelete(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	sub, err := h.d.GetSubscription(r.Context(), acc.OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	p := h.newPage(&acc, "Delete "+displayName(sub), "endpoints")
	p.Data = sub
	h.render(w, http.StatusOK, "delete", p)
	return nil
}

func (h *handler) deleteEndpoint(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	ctx := r.Context()
	id := r.PathValue("id")
	before, err := h.d.GetSubscription(ctx, acc.OrganizationID, id)
	if err != nil {
		return err
	}
	if err := h.d.DeleteSubscription(ctx, acc.OrganizationID, id); err != nil {
		return err
	}
	h.audit(acc, manage.Change{Action: manage.ActionDelete, SubscriptionID: id, Before: before})
	h.redirect(w, r, h.link(), "deleted")
	return nil
}

// retryPage is the confirmation of a bulk retry.
type retryPage struct {
	Sub    *webhook.Subscription
	Count  int
	Filter deliveryQuery
}

// redeliverFilter reads a bulk retry's filter: the dead deliveries, of
// an event type and in a time range when given.
func redeliverFilter(v url.Values, orgID, subID string) (webhook.RedeliverFilter, deliveryQuery, error) {
	q := readQuery(v)
	q.State = string(webhook.DeliveryDead)
	f := webhook.RedeliverFilter{OrganizationID: orgID, SubscriptionID: subID, State: webhook.DeliveryDead, EventType: q.Event}
	var err1, err2 error
	f.CreatedFrom, err1 = parseDate("from", q.From)
	f.CreatedTo, err2 = parseDate("to", q.To)
	return f, q, errors.Join(err1, err2)
}

func (h *handler) previewRetry(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	ctx := r.Context()
	sub, err := h.d.GetSubscription(ctx, acc.OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	f, q, err := redeliverFilter(r.URL.Query(), acc.OrganizationID, sub.ID)
	if err != nil {
		return err
	}
	f.DryRun = true
	n, err := h.d.RedeliverAll(ctx, f)
	if err != nil {
		return err
	}
	p := h.newPage(&acc, "Retry failed deliveries", "endpoints")
	p.Data = retryPage{Sub: sub, Count: n, Filter: q}
	h.render(w, http.StatusOK, "retry", p)
	return nil
}

func (h *handler) retryAll(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	id := r.PathValue("id")
	f, _, err := redeliverFilter(r.PostForm, acc.OrganizationID, id)
	if err != nil {
		return err
	}
	n, err := h.d.RedeliverAll(r.Context(), f)
	if n > 0 {
		h.audit(acc, manage.Change{Action: manage.ActionRedeliverAll, SubscriptionID: id, Count: n})
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, h.link("endpoints", id)+"?done=retried&n="+strconv.Itoa(n), http.StatusSeeOther)
	return nil
}

// deliveryPage is what the delivery template shows.
type deliveryPage struct {
	Delivery *webhook.Delivery
	Attempts []*webhook.Attempt
	Sub      *webhook.Subscription
	Event    *webhook.Event
	// Body is the request body as the Envelope renders it, or the event's
	// data for a subscription of another format (BodyIsData).
	Body       string
	BodyIsData bool
}

func (h *handler) showDelivery(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	ctx := r.Context()
	dl, attempts, err := h.d.GetDelivery(ctx, acc.OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	dp := deliveryPage{Delivery: dl, Attempts: attempts}
	// The subscription may have been deleted since; the delivery stays.
	if sub, err := h.d.GetSubscription(ctx, acc.OrganizationID, dl.SubscriptionID); err == nil {
		dp.Sub = sub
	} else if !errors.Is(err, webhook.ErrNotFound) {
		return err
	}
	ev, _, err := h.d.GetEvent(ctx, acc.OrganizationID, dl.EventID)
	switch {
	case err == nil:
		dp.Event = ev
		dp.Body, dp.BodyIsData = requestBody(ev, dp.Sub)
	case !errors.Is(err, webhook.ErrNotFound):
		return err
	}
	title := "Delivery"
	if dl.EventType != "" {
		title = "Delivery of " + dl.EventType
	}
	p := h.newPage(&acc, title, "endpoints")
	p.Notice = notice(r)
	p.Data = dp
	h.render(w, http.StatusOK, "delivery", p)
	return nil
}

// requestBody renders the body an envelope subscription receives (its
// custom parameters and properties included), or the event's data for
// any other format, which the portal cannot render.
func requestBody(ev *webhook.Event, sub *webhook.Subscription) (string, bool) {
	if sub != nil && (sub.Format == "" || sub.Format == webhook.FormatEnvelope) {
		s := *sub
		s.ContentType = webhook.ContentTypeJSON // shown as JSON, readable
		if body, _, err := webhook.AppendBody(nil, webhook.Envelope, ev, &s); err == nil {
			return prettyJSON(body), false
		}
	}
	return prettyJSON(ev.Data), true
}

func (h *handler) redeliver(w http.ResponseWriter, r *http.Request, acc manage.Access) error {
	ctx := r.Context()
	id := r.PathValue("id")
	dl, _, err := h.d.GetDelivery(ctx, acc.OrganizationID, id)
	if err != nil {
		return err
	}
	if err := h.d.Redeliver(ctx, acc.OrganizationID, id); err != nil {
		return err
	}
	h.audit(acc, manage.Change{Action: manage.ActionRedeliver, SubscriptionID: dl.SubscriptionID, DeliveryID: id})
	h.redirect(w, r, h.link("deliveries", id), "redelivered")
	return nil
}

// maxFormBytes bounds a posted form.
const maxFormBytes = 64 << 10

// parseForm reads a posted form of at most maxFormBytes.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return errBadForm
	}
	return nil
}

// splitList splits a comma- or space-separated list, dropping empties.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}
