package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/relayhook/webhook/internal/jsonvalid"
)

// Limits of Subscription.Filter. A filter past one of them is refused with
// a *ValidationError naming the part of it at fault.
const (
	// MaxFilterBytes is the most bytes of a filter's JSON.
	MaxFilterBytes = 4096
	// MaxFilterDepth is how deep "$and" and "$or" may nest.
	MaxFilterDepth = 4
	// MaxFilterConditions is the most conditions (operators on a path) in
	// one filter.
	MaxFilterConditions = 64
	// MaxFilterPathSegments is the most dot-separated segments of a path.
	MaxFilterPathSegments = 16
	// MaxFilterValues is the most values of one "$in" or "$nin".
	MaxFilterValues = 100
)

// maxFilterJSONDepth bounds the JSON nesting of a filter before it is
// decoded: each "$and"/"$or" level is an array and an object, a condition
// an object, its operators an object and an array.
const maxFilterJSONDepth = 2*MaxFilterDepth + 4

// filterOp is an operator of the filter language.
type filterOp uint8

const (
	opEq filterOp = iota
	opNe
	opGt
	opGte
	opLt
	opLte
	opIn
	opNin
	opExists
	opAnd
	opOr
)

var filterOps = map[string]filterOp{
	"$eq": opEq, "$ne": opNe, "$gt": opGt, "$gte": opGte, "$lt": opLt, "$lte": opLte,
	"$in": opIn, "$nin": opNin, "$exists": opExists,
}

// filterNode is a compiled filter: a condition on one path, or "$and" /
// "$or" of nodes.
type filterNode struct {
	op     filterOp
	kids   []*filterNode // opAnd, opOr
	path   []string      // a condition's, "type" or "data" first
	value  any           // a scalar: string, float64, bool or nil
	values []any         // opIn, opNin
	exists bool          // opExists
}

// filterCompiler compiles one filter, counting its conditions.
type filterCompiler struct {
	conditions int
}

// compileFilter parses and checks a filter. An empty one is nil: it
// matches every event. Errors are *ValidationErrors about
// Subscription.Filter, their Field under "filter".
func compileFilter(raw json.RawMessage) (*filterNode, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	bad := func(field, format string, args ...any) error {
		return invalid(ErrInvalidSubscription, field, format, args...)
	}
	if len(raw) > MaxFilterBytes {
		return nil, bad("filter", "is %d bytes, more than %d", len(raw), MaxFilterBytes)
	}
	switch jsonvalid.Check(raw, maxFilterJSONDepth) {
	case jsonvalid.Syntax:
		return nil, bad("filter", "is not valid JSON")
	case jsonvalid.TooDeep:
		return nil, bad("filter", "nests more than %d levels of $and and $or", MaxFilterDepth)
	case jsonvalid.BadUTF8:
		return nil, bad("filter", "has a string that is not valid UTF-8")
	}
	if t := bytes.TrimSpace(raw); bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	var c filterCompiler
	return c.object("filter", raw, 0)
}

// object compiles a filter object: the AND of its entries.
func (c *filterCompiler) object(field string, raw json.RawMessage, depth int) (*filterNode, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, invalid(ErrInvalidSubscription, field, "must be an object of conditions")
	}
	keys := slices.Sorted(maps.Keys(m))
	n := &filterNode{op: opAnd}
	for _, k := range keys {
		kf := keyField(field, k)
		var kid *filterNode
		var err error
		switch {
		case k == "$and" || k == "$or":
			kid, err = c.list(kf, k, m[k], depth+1)
		case strings.HasPrefix(k, "$"):
			err = invalid(ErrInvalidSubscription, kf, "is not an operator here: only $and and $or combine conditions")
		default:
			kid, err = c.condition(kf, k, m[k])
		}
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, kid)
	}
	if len(n.kids) == 1 {
		return n.kids[0], nil
	}
	return n, nil
}

// list compiles the array of "$and" or "$or".
func (c *filterCompiler) list(field, op string, raw json.RawMessage, depth int) (*filterNode, error) {
	if depth > MaxFilterDepth {
		return nil, invalid(ErrInvalidSubscription, field, "nests more than %d levels of $and and $or", MaxFilterDepth)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || len(items) == 0 {
		return nil, invalid(ErrInvalidSubscription, field, "must be a non-empty array of condition objects")
	}
	n := &filterNode{op: opAnd}
	if op == "$or" {
		n.op = opOr
	}
	for i, it := range items {
		kid, err := c.object(indexField(field, i), it, depth)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, kid)
	}
	return n, nil
}

// condition compiles the conditions on one path: a scalar (equality) or
// an object of operators (all must hold).
func (c *filterCompiler) condition(field, path string, raw json.RawMessage) (*filterNode, error) {
	segs := strings.Split(path, ".")
	switch {
	case len(segs) > MaxFilterPathSegments:
		return nil, invalid(ErrInvalidSubscription, field, "has more than %d path segments", MaxFilterPathSegments)
	case segs[0] != "data" && path != "type":
		return nil, invalid(ErrInvalidSubscription, field, `is not a path: "type", "data" or "data." followed by keys`)
	case slices.Contains(segs, ""):
		return nil, invalid(ErrInvalidSubscription, field, "has an empty path segment")
	}
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] != '{' {
		v, err := filterScalar(field, t)
		if err != nil {
			return nil, err
		}
		return c.count(field, &filterNode{op: opEq, path: segs, value: v})
	}
	var ops map[string]json.RawMessage
	if err := json.Unmarshal(t, &ops); err != nil || len(ops) == 0 {
		return nil, invalid(ErrInvalidSubscription, field, "must be a value or a non-empty object of operators")
	}
	n := &filterNode{op: opAnd}
	for _, name := range slices.Sorted(maps.Keys(ops)) {
		of := keyField(field, name)
		op, ok := filterOps[name]
		if !ok {
			return nil, invalid(ErrInvalidSubscription, of, "is not an operator: use $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin or $exists")
		}
		kid := &filterNode{op: op, path: segs}
		v := bytes.TrimSpace(ops[name])
		switch op {
		case opExists:
			if err := json.Unmarshal(v, &kid.exists); err != nil {
				return nil, invalid(ErrInvalidSubscription, of, "must be true or false")
			}
		case opIn, opNin:
			var items []json.RawMessage
			if err := json.Unmarshal(v, &items); err != nil || len(items) == 0 {
				return nil, invalid(ErrInvalidSubscription, of, "must be a non-empty array of values")
			}
			if len(items) > MaxFilterValues {
				return nil, invalid(ErrInvalidSubscription, of, "has %d values, more than %d", len(items), MaxFilterValues)
			}
			for i, it := range items {
				x, err := filterScalar(indexField(of, i), bytes.TrimSpace(it))
				if err != nil {
					return nil, err
				}
				kid.values = append(kid.values, x)
			}
		default:
			x, err := filterScalar(of, v)
			if err != nil {
				return nil, err
			}
			if op >= opGt && op <= opLte {
				switch x.(type) {
				case float64, string:
				default:
					return nil, invalid(ErrInvalidSubscription, of, "must be a number or a string")
				}
			}
			kid.value = x
		}
		if _, err := c.count(of, kid); err != nil {
			return nil, err
		}
		n.kids = append(n.kids, kid)
	}
	if len(n.kids) == 1 {
		return n.kids[0], nil
	}
	return n, nil
}

// count counts a condition against MaxFilterConditions.
func (c *filterCompiler) count(field string, n *filterNode) (*filterNode, error) {
	c.conditions++
	if c.conditions > MaxFilterConditions {
		return nil, invalid(ErrInvalidSubscription, field, "is past the filter's %d conditions", MaxFilterConditions)
	}
	return n, nil
}

// filterScalar decodes a string, number, boolean or null.
func filterScalar(field string, raw []byte) (any, error) {
	if len(raw) == 0 || raw[0] == '{' || raw[0] == '[' {
		return nil, invalid(ErrInvalidSubscription, field, "must be a string, number, boolean or null")
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, invalid(ErrInvalidSubscription, field, "must be a string, number, boolean or null")
	}
	return v, nil
}

// filterDoc is what a filter is evaluated against: the event's type and
// its data, decoded.
type filterDoc struct {
	eventType string
	data      any
	hasData   bool
}

// newFilterDoc decodes an event's data for filters. Data that does not
// decode (it was checked at Dispatch, so never) reads as absent.
func newFilterDoc(ev *Event) *filterDoc {
	d := &filterDoc{eventType: ev.Type}
	if len(ev.Data) > 0 {
		d.hasData = json.Unmarshal(ev.Data, &d.data) == nil
	}
	return d
}

// lookup returns the value at the path and whether it is present.
func (d *filterDoc) lookup(path []string) (any, bool) {
	if path[0] == "type" {
		return d.eventType, true
	}
	if !d.hasData {
		return nil, false
	}
	v := d.data
	for _, seg := range path[1:] {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return v, true
}

// match reports whether the document satisfies the filter; a nil filter
// matches everything.
func (n *filterNode) match(d *filterDoc) bool {
	if n == nil {
		return true
	}
	switch n.op {
	case opAnd:
		for _, k := range n.kids {
			if !k.match(d) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range n.kids {
			if k.match(d) {
				return true
			}
		}
		return false
	}
	v, ok := d.lookup(n.path)
	switch n.op {
	case opExists:
		return ok == n.exists
	case opEq:
		return ok && scalarEqual(v, n.value)
	case opNe:
		return !ok || !scalarEqual(v, n.value)
	case opIn, opNin:
		in := false
		if ok {
			for _, x := range n.values {
				if scalarEqual(v, x) {
					in = true
					break
				}
			}
		}
		return in == (n.op == opIn)
	}
	if !ok {
		return false
	}
	var c int
	switch a := v.(type) {
	case float64:
		b, isNum := n.value.(float64)
		if !isNum {
			return false
		}
		c = cmpFloat(a, b)
	case string:
		b, isStr := n.value.(string)
		if !isStr {
			return false
		}
		c = strings.Compare(a, b)
	default:
		return false
	}
	switch n.op {
	case opGt:
		return c > 0
	case opGte:
		return c >= 0
	case opLt:
		return c < 0
	default: // opLte
		return c <= 0
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scalarEqual compares a decoded JSON value with a filter's scalar: equal
// strings, numbers, booleans, or both null. Arrays and objects equal
// nothing.
func scalarEqual(v, x any) bool {
	switch v.(type) {
	case string, float64, bool:
		return v == x
	case nil:
		return x == nil
	}
	return false
}

// normalizeFilter returns the filter compacted, so that both stores keep
// the same bytes; nil for an empty or null one.
func normalizeFilter(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, fmt.Errorf("webhook: compacting a checked filter: %w", err)
	}
	return b.Bytes(), nil
}
