package portal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
)

// page is what the layout and every page template get.
type page struct {
	Title   string // the host's title
	Heading string // this page's heading
	LogoURL string
	Prefix  string
	Nav     string // which navigation entry is current
	Notice  string
	Signed  bool // the request was authorized
	Manage  bool // may change
	Reveal  bool // may reveal secrets
	Data    any
}

func (h *handler) newPage(acc *manage.Access, heading, nav string) *page {
	p := &page{Title: h.cfg.Title, Heading: heading, LogoURL: h.cfg.LogoURL, Prefix: h.cfg.Prefix, Nav: nav}
	if acc != nil {
		p.Signed = true
		p.Manage = acc.Capabilities.Has(manage.CanManage)
		p.Reveal = acc.Capabilities.Has(manage.CanRevealSecrets)
	}
	return p
}

// render executes a page template into a buffer first, so that a
// template error is a 500 rather than half a page.
func (h *handler) render(w http.ResponseWriter, status int, name string, p *page) {
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		h.logger.Error("portal: rendering a page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// notices are the only messages a redirect can ask a page to show.
var notices = map[string]string{
	"updated":     "Endpoint saved.",
	"paused":      "Endpoint paused: nothing is sent to it until you resume it.",
	"resumed":     "Endpoint resumed: deliveries are sent again.",
	"test-sent":   "Test event queued: it appears among the deliveries below.",
	"deleted":     "Endpoint deleted.",
	"redelivered": "Delivery queued again.",
	"retried":     "Deliveries queued again.",
}

// notice is the message of the request's done parameter, if any.
func notice(r *http.Request) string {
	q := r.URL.Query()
	msg := notices[q.Get("done")]
	if q.Get("done") == "retried" {
		if n, err := strconv.Atoi(q.Get("n")); err == nil && n >= 0 {
			msg = fmt.Sprintf("%d %s queued again.", n, plural(n, "delivery", "deliveries"))
		}
	}
	return msg
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

const timeLayout = "2006-01-02 15:04:05 UTC"

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format(timeLayout)
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ms": func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 0, 64) + " ms"
	},
	"pretty":     prettyJSON,
	"stateClass": stateClass,
	"plural":     plural,
	"int":        func(n int64) int { return int(n) },
	"isTest":     func(eventID string) bool { return strings.HasPrefix(eventID, webhook.TestEventIDPrefix) },
}

// prettyJSON indents JSON for reading; anything else is returned as is.
func prettyJSON(raw []byte) string {
	if len(raw) == 0 {
		return "null"
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// stateClass is the CSS class of a state badge.
func stateClass(s any) string {
	switch fmt.Sprint(s) {
	case string(webhook.StateActive), string(webhook.DeliveryDelivered):
		return "badge ok"
	case string(webhook.StateTooManyErrors), string(webhook.DeliveryDead):
		return "badge bad"
	case string(webhook.DeliveryPending):
		return "badge wait"
	}
	return "badge off"
}
