package manage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/relayhook/webhook"
)

// writeJSON answers v as JSON with the status.
func (h *handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.fail(w, r, fmt.Errorf("manage: encoding the answer: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
}

// readBody reads the request body, at most MaxBodyBytes, checking its
// content type when it is not empty: application/json or any +json type
// (such as application/merge-patch+json). An empty body reads as nil.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &bodyError{status: http.StatusRequestEntityTooLarge,
				detail: fmt.Sprintf("The body is larger than %d bytes.", h.cfg.MaxBodyBytes)}
		}
		return nil, &bodyError{status: http.StatusBadRequest, detail: "The body could not be read."}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, &bodyError{status: http.StatusUnsupportedMediaType, detail: "The body must be application/json."}
	}
	return b, nil
}

// decodeStrict decodes one JSON value of b into v, refusing fields v does
// not have (422, naming the field), values of the wrong type (422) and
// malformed JSON (400).
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &bodyError{status: http.StatusBadRequest, detail: "The body holds more than one JSON value."}
	}
	return nil
}

// jsonError turns a decoding error into a bodyError.
func jsonError(err error) error {
	var (
		te *json.UnmarshalTypeError
		se *json.SyntaxError
		ve *bodyError
	)
	switch {
	case errors.As(err, &ve):
		return ve
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return &bodyError{status: http.StatusUnprocessableEntity, detail: "The body must be a JSON object.", field: "$"}
		}
		return &bodyError{status: http.StatusUnprocessableEntity, field: field,
			detail: fmt.Sprintf("must be %s, not %s", jsonTypeName(te.Type.Kind().String()), te.Value)}
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &bodyError{status: http.StatusBadRequest, detail: "The body is not valid JSON."}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		return &bodyError{status: http.StatusUnprocessableEntity, field: name, detail: "is not a field of this request"}
	}
	return &bodyError{status: http.StatusBadRequest, detail: "The body is not valid JSON."}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return "another type"
}

// page reads the limit and cursor query parameters.
func page(r *http.Request) (webhook.Page, error) {
	q := r.URL.Query()
	p := webhook.Page{Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > webhook.MaxPageLimit {
			return p, &queryError{"limit", fmt.Sprintf("must be an integer from 1 to %d", webhook.MaxPageLimit)}
		}
		p.Limit = n
	}
	return p, nil
}

// order reads the order query parameter: newest (the default) or oldest.
func order(r *http.Request) (webhook.Order, error) {
	switch s := r.URL.Query().Get("order"); s {
	case "", "newest":
		return webhook.NewestFirst, nil
	case "oldest":
		return webhook.OldestFirst, nil
	}
	return "", &queryError{"order", `must be "newest" or "oldest"`}
}

// timeParam reads an RFC 3339 time query parameter; zero when absent.
func timeParam(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &queryError{name, "must be a time in RFC 3339 form, such as 2026-01-02T15:04:05Z"}
	}
	return t, nil
}

// timeRange reads two time query parameters, from before to.
func timeRange(r *http.Request, fromName, toName string) (from, to time.Time, err error) {
	if from, err = timeParam(r, fromName); err != nil {
		return
	}
	if to, err = timeParam(r, toName); err != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		err = &queryError{toName, "must be after " + fromName}
	}
	return
}

// deliveryState reads the state query parameter of a delivery listing.
func deliveryState(r *http.Request) (webhook.DeliveryState, error) {
	switch s := webhook.DeliveryState(r.URL.Query().Get("state")); s {
	case "", webhook.DeliveryPending, webhook.DeliveryDelivered, webhook.DeliveryDead:
		return s, nil
	}
	return "", &queryError{"state", `must be "pending", "delivered" or "dead"`}
}

// eventTypeParam reads an event type query parameter.
func eventTypeParam(r *http.Request, name string) (string, error) {
	s := r.URL.Query().Get(name)
	if s != "" && !webhook.ValidEventType(s) {
		return "", &queryError{name, "is not a valid event type"}
	}
	return s, nil
}

// list is the body of a listing.
type list[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"nextCursor,omitempty"`
}

func newList[T any](data []T, next string) list[T] {
	if data == nil {
		data = []T{}
	}
	return list[T]{Data: data, NextCursor: next}
}
