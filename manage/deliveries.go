package manage

import (
	"net/http"

	"github.com/relayhook/webhook"
)

// deliveryFilter reads the query of a delivery listing: state, eventType,
// createdFrom, createdTo, order, limit and cursor, and, when byQuery,
// subscriptionId and eventId.
func deliveryFilter(r *http.Request, a Access, byQuery bool) (webhook.DeliveryFilter, error) {
	f := webhook.DeliveryFilter{OrganizationID: a.OrganizationID}
	var err error
	if f.Page, err = page(r); err != nil {
		return f, err
	}
	if f.Order, err = order(r); err != nil {
		return f, err
	}
	if f.State, err = deliveryState(r); err != nil {
		return f, err
	}
	if f.EventType, err = eventTypeParam(r, "eventType"); err != nil {
		return f, err
	}
	if f.CreatedFrom, f.CreatedTo, err = timeRange(r, "createdFrom", "createdTo"); err != nil {
		return f, err
	}
	if byQuery {
		q := r.URL.Query()
		f.SubscriptionID, f.EventID = q.Get("subscriptionId"), q.Get("eventId")
	}
	return f, nil
}

func (h *handler) listDeliveries(w http.ResponseWriter, r *http.Request, a Access) {
	f, err := deliveryFilter(r, a, true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeDeliveries(w, r, f)
}

func (h *handler) listSubscriptionDeliveries(w http.ResponseWriter, r *http.Request, a Access) {
	f, err := deliveryFilter(r, a, false)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s, err := h.d.GetSubscription(r.Context(), a.OrganizationID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f.SubscriptionID = s.ID
	h.writeDeliveries(w, r, f)
}

func (h *handler) writeDeliveries(w http.ResponseWriter, r *http.Request, f webhook.DeliveryFilter) {
	dls, next, err := h.d.ListDeliveries(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, newList(dls, next))
}

// deliveryBody is a delivery with its attempts, oldest first.
type deliveryBody struct {
	Delivery *webhook.Delivery  `json:"delivery"`
	Attempts []*webhook.Attempt `json:"attempts"`
}

func (h *handler) getDelivery(w http.ResponseWriter, r *http.Request, a Access) {
	dl, attempts, err := h.d.GetDelivery(r.Context(), a.OrganizationID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if attempts == nil {
		attempts = []*webhook.Attempt{}
	}
	h.writeJSON(w, r, http.StatusOK, deliveryBody{dl, attempts})
}

func (h *handler) redeliver(w http.ResponseWriter, r *http.Request, a Access) {
	dl, _, err := h.d.GetDelivery(r.Context(), a.OrganizationID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if dl.State == webhook.DeliveryPending {
		h.fail(w, r, &conflict{"The delivery is pending: it will be attempted without a redelivery."})
		return
	}
	if err := h.d.Redeliver(r.Context(), a.OrganizationID, dl.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(a, ActionRedeliver, Change{SubscriptionID: dl.SubscriptionID, DeliveryID: dl.ID, Count: 1})
	after, _, err := h.d.GetDelivery(r.Context(), a.OrganizationID, dl.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusAccepted, after)
}

func (h *handler) listEvents(w http.ResponseWriter, r *http.Request, a Access) {
	f := webhook.EventFilter{OrganizationID: a.OrganizationID}
	var err error
	if f.Page, err = page(r); err == nil {
		if f.Order, err = order(r); err == nil {
			if f.Type, err = eventTypeParam(r, "type"); err == nil {
				f.From, f.To, err = timeRange(r, "from", "to")
			}
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	events, next, err := h.d.ListEvents(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, newList(events, next))
}

// eventBody is an event with its deliveries.
type eventBody struct {
	Event      *webhook.Event      `json:"event"`
	Deliveries []*webhook.Delivery `json:"deliveries"`
}

func (h *handler) getEvent(w http.ResponseWriter, r *http.Request, a Access) {
	ev, dls, err := h.d.GetEvent(r.Context(), a.OrganizationID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if dls == nil {
		dls = []*webhook.Delivery{}
	}
	h.writeJSON(w, r, http.StatusOK, eventBody{ev, dls})
}

func (h *handler) listEventTypes(w http.ResponseWriter, r *http.Request, a Access) {
	h.writeJSON(w, r, http.StatusOK, newList(h.d.EventTypes(), ""))
}
