package manage

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/relayhook/webhook"
)

// The SuperOffice routes (Config.SuperOffice) serve a subscription as
// SuperOffice's Webhook entity, in its PascalCase fields, with WebhookId
// the subscription's Number.
func (h *handler) superOfficeRoutes() {
	h.handle("GET", "/api/v1/Webhook", CanRead, h.soList)
	h.handle("POST", "/api/v1/Webhook", CanManage, h.soCreate)
	h.handle("GET", "/api/v1/Webhook/{id}", CanRead, h.soGet)
	h.handle("PUT", "/api/v1/Webhook/{id}", CanManage, h.soReplace)
	h.handle("DELETE", "/api/v1/Webhook/{id}", CanManage, h.soDelete)
}

// soFields are the Webhook entity's fields, in SuperOffice's order.
var soFields = []string{"WebhookId", "Name", "Events", "TargetUrl", "Secret", "State", "Type", "Headers",
	"Properties", "Registered", "RegisteredAssociate", "Updated", "UpdatedAssociate", "ErrorsEmail"}

// soInput is the body of POST and PUT. The read-only fields (WebhookId,
// Registered, RegisteredAssociate, Updated, UpdatedAssociate, _Links) are
// accepted, so that an entity read can be sent back, and ignored.
type soInput struct {
	WebhookId           json.RawMessage            `json:"WebhookId"`
	Name                string                     `json:"Name"`
	Events              []string                   `json:"Events"`
	TargetUrl           string                     `json:"TargetUrl"`
	Secret              string                     `json:"Secret"`
	State               webhook.State              `json:"State"`
	Type                string                     `json:"Type"`
	Headers             map[string]string          `json:"Headers"`
	Properties          map[string]json.RawMessage `json:"Properties"`
	Registered          json.RawMessage            `json:"Registered"`
	RegisteredAssociate json.RawMessage            `json:"RegisteredAssociate"`
	Updated             json.RawMessage            `json:"Updated"`
	UpdatedAssociate    json.RawMessage            `json:"UpdatedAssociate"`
	ErrorsEmail         string                     `json:"ErrorsEmail"`
	Links               json.RawMessage            `json:"_Links"`
}

// soAssociate is the associate who registered or updated a webhook: the
// Access's Actor.
type soAssociate struct {
	Name string `json:"Name"`
}

// soField is a field error named as the Webhook entity names it.
func soField(field string) string {
	names := map[string]string{
		"name": "Name", "url": "TargetUrl", "events": "Events", "secret": "Secret", "state": "State",
		"type": "Type", "headers": "Headers", "properties": "Properties", "errorsEmail": "ErrorsEmail",
	}
	head, rest := field, ""
	if i := strings.IndexAny(field, ".["); i >= 0 {
		head, rest = field[:i], field[i:]
	}
	if n, ok := names[head]; ok {
		return n + rest
	}
	return field
}

// soFail answers err with the fields named as SuperOffice names them.
func (h *handler) soFail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ve *webhook.ValidationError
		be *bodyError
	)
	switch {
	case errors.As(err, &ve):
		c := *ve
		c.Field = soField(c.Field)
		err = &c
	case errors.As(err, &be) && be.field != "":
		c := *be
		c.field = soField(c.field)
		err = &c
	}
	h.fail(w, r, err)
}

func invalidSO(field, reason string) error {
	return &bodyError{status: http.StatusUnprocessableEntity, field: field, detail: reason}
}

// soSecret turns a Secret as SuperOffice clients send it into one of ours:
// a "whsec_" secret as it is, any other of 24 to 64 bytes as the key of
// one.
func soSecret(s string) (string, error) {
	if s == "" || strings.HasPrefix(s, webhook.SecretPrefix) {
		return s, nil
	}
	if len(s) < webhook.MinSecretBytes || len(s) > webhook.MaxSecretBytes {
		return "", invalidSO("Secret", fmt.Sprintf("must be %d to %d bytes, or %q followed by base64", webhook.MinSecretBytes, webhook.MaxSecretBytes, webhook.SecretPrefix))
	}
	return webhook.SecretPrefix + base64.StdEncoding.EncodeToString([]byte(s)), nil
}

// soApply checks the input and sets the subscription's fields from it.
// Type is checked first, so that an entity of an unregistered type is told
// so whatever else it holds.
func (h *handler) soApply(in *soInput, s *webhook.Subscription, creating bool) error {
	typ := orDefault(in.Type, webhook.TypeWebhook)
	if types := h.d.Types(); !slices.Contains(types, typ) {
		return invalidSO("Type", fmt.Sprintf("%q is not a registered webhook type; use one of %s", truncate(typ, 64), strings.Join(types, ", ")))
	}
	switch in.State {
	case "", webhook.StateActive, webhook.StateStopped:
	case webhook.StateTooManyErrors:
		if creating || s.State != webhook.StateTooManyErrors {
			return invalidSO("State", `must be "Active" or "Stopped"`)
		}
	default:
		return invalidSO("State", `must be "Active", "Stopped" or "TooManyErrors"`)
	}
	secret, err := soSecret(in.Secret)
	if err != nil {
		return err
	}
	var props map[string]string
	if in.Properties != nil {
		props = make(map[string]string, len(in.Properties))
		for k, v := range in.Properties {
			var str string
			if json.Unmarshal(v, &str) == nil {
				props[k] = str
				continue
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				return invalidSO("Properties", "is not valid JSON")
			}
			props[k] = buf.String()
		}
	}
	s.Name, s.Events, s.URL, s.Type = in.Name, in.Events, in.TargetUrl, typ
	s.Headers, s.Properties, s.ErrorsEmail = in.Headers, props, in.ErrorsEmail
	if in.State != "" {
		s.State = in.State
	}
	if !creating && secret != "" && secret != s.Secret {
		return invalidSO("Secret", "cannot be changed here: rotate the secret instead")
	}
	if creating {
		s.Secret = secret
	}
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// soEntity is a subscription as SuperOffice's Webhook entity, with the
// fields of sel only (nil: all) and the others null. The secret is shown
// when showSecret.
func soEntity(r *http.Request, s *webhook.Subscription, sel map[string]bool, showSecret bool) map[string]any {
	props := map[string]any{}
	for k, v := range s.Properties {
		props[k] = v
	}
	headers := s.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	var secret any
	if showSecret {
		secret = s.Secret
	}
	all := map[string]any{
		"WebhookId": s.Number, "Name": s.Name, "Events": s.Events, "TargetUrl": s.URL, "Secret": secret,
		"State": s.State, "Type": s.Type, "Headers": headers, "Properties": props,
		"Registered": s.CreatedAt.Format(time.RFC3339Nano), "RegisteredAssociate": soAssociate{s.CreatedBy},
		"Updated": s.UpdatedAt.Format(time.RFC3339Nano), "UpdatedAssociate": soAssociate{s.UpdatedBy},
		"ErrorsEmail": s.ErrorsEmail,
	}
	out := make(map[string]any, len(all)+1)
	for _, f := range soFields {
		if sel == nil || sel[strings.ToLower(f)] {
			out[f] = all[f]
		} else {
			out[f] = nil
		}
	}
	out["_Links"] = map[string]string{"Self": soBase(r) + "/api/v1/Webhook/" + strconv.FormatInt(s.Number, 10)}
	return out
}

// soBase is the prefix the handler is mounted under, from the request's
// own URI and the path the handler sees.
func soBase(r *http.Request) string {
	full := r.RequestURI
	if i := strings.IndexByte(full, '?'); i >= 0 {
		full = full[:i]
	}
	if base, ok := strings.CutSuffix(full, r.URL.EscapedPath()); ok {
		return base
	}
	return ""
}

// soSelect reads $select: a comma-separated, case-insensitive list of
// fields; nil for all.
func soSelect(r *http.Request) (map[string]bool, error) {
	raw, ok := r.URL.Query()["$select"]
	if !ok {
		return nil, nil
	}
	sel := map[string]bool{}
	for _, part := range strings.Split(strings.Join(raw, ","), ",") {
		f := strings.ToLower(strings.TrimSpace(part))
		if f == "" {
			continue
		}
		if !slices.ContainsFunc(soFields, func(n string) bool { return strings.ToLower(n) == f }) {
			return nil, &queryError{"$select", fmt.Sprintf("%q is not a field of Webhook", truncate(part, 64))}
		}
		sel[f] = true
	}
	return sel, nil
}

// soSubscription finds the subscription of the path's WebhookId.
func (h *handler) soSubscription(r *http.Request, a Access) (*webhook.Subscription, error) {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || n <= 0 {
		return nil, webhook.ErrNotFound
	}
	return h.d.GetSubscriptionByNumber(r.Context(), a.OrganizationID, n)
}

func (h *handler) soList(w http.ResponseWriter, r *http.Request, a Access) {
	sel, err := soSelect(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []map[string]any{}
	p := webhook.Page{Limit: webhook.MaxPageLimit}
	for {
		subs, next, err := h.d.ListSubscriptions(r.Context(), a.OrganizationID, p)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, s := range subs {
			out = append(out, soEntity(r, s, sel, false))
		}
		if next == "" {
			break
		}
		p.Cursor = next
	}
	h.writeJSON(w, r, http.StatusOK, out)
}

func (h *handler) soGet(w http.ResponseWriter, r *http.Request, a Access) {
	sel, err := soSelect(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s, err := h.soSubscription(r, a)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, soEntity(r, s, sel, false))
}

func (h *handler) soCreate(w http.ResponseWriter, r *http.Request, a Access) {
	var in soInput
	if err := h.decode(w, r, &in, true); err != nil {
		h.soFail(w, r, err)
		return
	}
	s := &webhook.Subscription{OrganizationID: a.OrganizationID, CreatedBy: a.Actor, UpdatedBy: a.Actor}
	if err := h.soApply(&in, s, true); err != nil {
		h.soFail(w, r, err)
		return
	}
	if err := h.d.CreateSubscription(r.Context(), s); err != nil {
		h.soFail(w, r, err)
		return
	}
	h.audit(a, ActionCreate, Change{SubscriptionID: s.ID, After: s})
	h.writeJSON(w, r, http.StatusOK, soEntity(r, s, nil, true))
}

func (h *handler) soReplace(w http.ResponseWriter, r *http.Request, a Access) {
	var in soInput
	if err := h.decode(w, r, &in, true); err != nil {
		h.soFail(w, r, err)
		return
	}
	cur, err := h.soSubscription(r, a)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	before, after, err := h.d.ModifySubscription(r.Context(), a.OrganizationID, cur.ID, func(s *webhook.Subscription) error {
		if err := h.soApply(&in, s, false); err != nil {
			return err
		}
		s.UpdatedBy = a.Actor
		return nil
	})
	if err != nil {
		h.soFail(w, r, err)
		return
	}
	h.audit(a, ActionUpdate, Change{SubscriptionID: after.ID, Before: before, After: after})
	h.writeJSON(w, r, http.StatusOK, soEntity(r, after, nil, false))
}

func (h *handler) soDelete(w http.ResponseWriter, r *http.Request, a Access) {
	before, err := h.soSubscription(r, a)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.deleteFound(w, r, a, before)
}
