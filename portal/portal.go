package portal

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
)

// DefaultTitle is the heading of every page when Config.Title is empty.
const DefaultTitle = "Webhooks"

// DefaultAccentColor is the accent colour when Config.AccentColor is empty.
const DefaultAccentColor = "#2563eb"

// DefaultStatsWindow is the window of the success rate the pages show.
const DefaultStatsWindow = 24 * time.Hour

// Config configures the portal. Authorize is required.
type Config struct {
	// Authorize is the host's own check of each request (its session
	// cookie): it returns whose webhooks the request reaches and what it
	// may do. An error is answered 401 without its text; a missing
	// capability 403. The organization never comes from the path, query
	// or form. Required.
	Authorize manage.AuthorizeFunc
	// Audit, when set, is told of every change made through the portal,
	// after it is made, with secrets redacted. Optional.
	Audit manage.AuditFunc
	// Prefix is the path the handler is mounted under, such as
	// "/settings/webhooks"; it starts every link and redirect of the
	// pages, and the handler strips it from request paths itself (do not
	// wrap it in http.StripPrefix). Defaults to "" (mounted at the root).
	Prefix string
	// Title heads every page and the browser's tab. Defaults to
	// DefaultTitle.
	Title string
	// LogoURL, when set, is shown beside the title: a path on the host
	// or an absolute http(s) URL, whose origin the Content-Security-Policy
	// then allows for images. Optional.
	LogoURL string
	// AccentColor colours links, buttons and focus rings: a CSS hex
	// colour ("#0a7", "#00aa77") or a CSS colour name ("teal"). Buttons
	// carry white text on it, so pick a colour dark enough for it (a
	// contrast of 4.5:1; dark mode lightens links by itself). Defaults to
	// DefaultAccentColor.
	AccentColor string
	// FrameAncestors lists the origins allowed to show the portal in a
	// frame, as the Content-Security-Policy frame-ancestors directive
	// takes them ("'self'", "https://app.example.com"). Defaults to none:
	// the portal cannot be framed.
	FrameAncestors []string
	// TrustedOrigins lists origins ("https://admin.example.com") whose
	// cross-origin form posts are accepted; see the package doc on
	// cross-site requests. Defaults to none.
	TrustedOrigins []string
	// StatsWindow is the window of the success rate and attempt counts
	// shown per endpoint. Defaults to DefaultStatsWindow.
	StatsWindow time.Duration
	// Logger receives errors that are answered 500 (their text is never
	// shown to the customer). Defaults to slog.Default().
	Logger *slog.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

var (
	hexColor  = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$`)
	nameColor = regexp.MustCompile(`^[a-zA-Z]{3,32}$`)
)

// handler is the portal: its configuration, templates and routes.
type handler struct {
	d        *webhook.Dispatcher
	cfg      Config
	pages    map[string]*template.Template
	mux      *http.ServeMux
	csp      string
	themeCSS []byte
	trusted  map[string]bool
	logger   *slog.Logger
}

// NewHandler returns the portal over the dispatcher, to mount under
// cfg.Prefix. Every page and action goes through cfg.Authorize and the
// dispatcher's organization-scoped API.
//
// Like http.ServeMux.Handle with a bad pattern, it panics on a
// configuration that cannot work: a nil d or cfg, no Authorize, a Prefix
// that does not start with "/" (or ends with one), an AccentColor that is
// not a hex colour or a colour name, a LogoURL that is neither a path nor
// an http(s) URL, or a FrameAncestors or TrustedOrigins entry holding a
// space, a semicolon or a comma.
func NewHandler(d *webhook.Dispatcher, cfg *Config) http.Handler {
	if d == nil || cfg == nil {
		panic("portal: NewHandler needs a dispatcher and a config")
	}
	h := &handler{d: d, cfg: *cfg, logger: cfg.Logger}
	c := &h.cfg
	if c.Authorize == nil {
		panic("portal: Config.Authorize is required")
	}
	if c.Prefix != "" && (!strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/")) {
		panic(fmt.Sprintf("portal: Config.Prefix %q must start with / and not end with one", c.Prefix))
	}
	if c.Title == "" {
		c.Title = DefaultTitle
	}
	if c.AccentColor == "" {
		c.AccentColor = DefaultAccentColor
	}
	if !hexColor.MatchString(c.AccentColor) && !nameColor.MatchString(c.AccentColor) {
		panic(fmt.Sprintf("portal: Config.AccentColor %q is not a CSS hex colour or colour name", c.AccentColor))
	}
	if c.StatsWindow <= 0 {
		c.StatsWindow = DefaultStatsWindow
	}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	imgSrc := "'self' data:"
	if c.LogoURL != "" {
		u, err := url.Parse(c.LogoURL)
		switch {
		case err != nil:
			panic(fmt.Sprintf("portal: Config.LogoURL does not parse: %v", err))
		case u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/"):
		case (u.Scheme == "https" || u.Scheme == "http") && u.Host != "":
			imgSrc += " " + u.Scheme + "://" + u.Host
		default:
			panic("portal: Config.LogoURL must be a path starting with / or an http(s) URL")
		}
	}
	ancestors := "'none'"
	for _, a := range c.FrameAncestors {
		checkSourceWord("FrameAncestors", a)
	}
	if len(c.FrameAncestors) > 0 {
		ancestors = strings.Join(c.FrameAncestors, " ")
	}
	h.trusted = map[string]bool{}
	for _, o := range c.TrustedOrigins {
		checkSourceWord("TrustedOrigins", o)
		h.trusted[strings.ToLower(o)] = true
	}
	h.csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + imgSrc +
		"; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors " + ancestors
	h.themeCSS = []byte(":root{--accent:" + c.AccentColor + "}\n")
	h.pages = parsePages()
	h.routes()
	return h
}

func checkSourceWord(field, s string) {
	if s == "" || strings.ContainsAny(s, " \t\r\n;,") {
		panic(fmt.Sprintf("portal: Config.%s entry %q is not one origin or source", field, s))
	}
}

// parsePages parses the layout with each page template, once.
func parsePages() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		pages[base] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
	}
	return pages
}

// routes registers one small function per route. Patterns are relative
// to the prefix, which ServeHTTP strips.
func (h *handler) routes() {
	m := http.NewServeMux()
	read, manageCap := manage.CanRead, manage.CanRead|manage.CanManage
	m.Handle("GET /assets/", h.assets())
	m.HandleFunc("GET /assets/theme.css", h.theme)
	m.HandleFunc("GET /{$}", h.with(read, h.listEndpoints))
	m.HandleFunc("GET /event-types", h.with(read, h.eventTypes))
	m.HandleFunc("GET /endpoints/new", h.with(manageCap, h.newEndpoint))
	m.HandleFunc("POST /endpoints", h.with(manageCap, h.createEndpoint))
	m.HandleFunc("GET /endpoints/{id}", h.with(read, h.showEndpoint))
	m.HandleFunc("GET /endpoints/{id}/edit", h.with(manageCap, h.editEndpoint))
	m.HandleFunc("POST /endpoints/{id}", h.with(manageCap, h.updateEndpoint))
	m.HandleFunc("POST /endpoints/{id}/pause", h.with(manageCap, h.pauseEndpoint))
	m.HandleFunc("POST /endpoints/{id}/resume", h.with(manageCap, h.resumeEndpoint))
	m.HandleFunc("POST /endpoints/{id}/rotate", h.with(manageCap, h.rotateSecret))
	m.HandleFunc("POST /endpoints/{id}/reveal", h.with(read|manage.CanRevealSecrets, h.revealSecret))
	m.HandleFunc("POST /endpoints/{id}/test", h.with(manageCap, h.sendTest))
	m.HandleFunc("GET /endpoints/{id}/delete", h.with(manageCap, h.confirmDelete))
	m.HandleFunc("POST /endpoints/{id}/delete", h.with(manageCap, h.deleteEndpoint))
	m.HandleFunc("GET /endpoints/{id}/retry", h.with(manageCap, h.previewRetry))
	m.HandleFunc("POST /endpoints/{id}/retry", h.with(manageCap, h.retryAll))
	m.HandleFunc("GET /deliveries/{id}", h.with(read, h.showDelivery))
	m.HandleFunc("POST /deliveries/{id}/redeliver", h.with(manageCap, h.redeliver))
	m.HandleFunc("/", h.with(0, func(w http.ResponseWriter, r *http.Request, _ manage.Access) error {
		return errNoPage
	}))
	h.mux = m
}

// ServeHTTP sets the security headers, refuses cross-site state changes,
// strips the prefix and routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	if len(h.cfg.FrameAncestors) == 0 {
		hd.Set("X-Frame-Options", "DENY")
	}
	p := r.URL.Path
	if h.cfg.Prefix != "" {
		rest, ok := strings.CutPrefix(p, h.cfg.Prefix)
		if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
			http.NotFound(w, r)
			return
		}
		if rest == "" {
			http.Redirect(w, r, h.cfg.Prefix+"/", http.StatusMovedPermanently)
			return
		}
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path, u.RawPath = rest, ""
		r2.URL = &u
		r = r2
	}
	if err := h.checkCrossOrigin(r); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// errCrossOrigin refuses a state change that a browser says comes from
// another origin.
var errCrossOrigin = errors.New("portal: cross-origin request refused")

// checkCrossOrigin applies to every request that is not GET, HEAD or
// OPTIONS the check of Go 1.25's http.CrossOriginProtection (the core
// module is on Go 1.24): a browser's Sec-Fetch-Site must say
// "same-origin" or "none"; without it, an Origin header must name the
// request's own host; a request with neither is not from a browser's
// form or script and passes. Config.TrustedOrigins pass too.
func (h *handler) checkCrossOrigin(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	origin := r.Header.Get("Origin")
	if origin != "" && h.trusted[strings.ToLower(origin)] {
		return nil
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return nil
	case "":
	default:
		return errCrossOrigin
	}
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host != r.Host {
		return errCrossOrigin
	}
	return nil
}

// assets serves the embedded CSS and JavaScript.
func (h *handler) assets() http.Handler {
	fsys := http.FS(assetFS)
	files := http.FileServer(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	})
}

// theme serves the CSS variables taken from the Config.
func (h *handler) theme(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(h.themeCSS)
}

// pageFunc is one route's work: it renders or redirects, or returns an
// error for fail to answer.
type pageFunc func(w http.ResponseWriter, r *http.Request, acc manage.Access) error

// with authorizes the request and checks the capabilities the route
// needs before calling it.
func (h *handler) with(need manage.Capability, f pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		acc, err := h.cfg.Authorize(r)
		if err != nil || acc.OrganizationID == "" {
			h.fail(w, r, nil, errUnauthorized)
			return
		}
		if !acc.Capabilities.Has(need) {
			h.fail(w, r, &acc, errForbidden)
			return
		}
		if err := f(w, r, acc); err != nil {
			h.fail(w, r, &acc, err)
		}
	}
}

// link is the path of a page under the prefix.
func (h *handler) link(parts ...string) string {
	return h.cfg.Prefix + "/" + strings.Join(parts, "/")
}

// redirect answers a form post with 303 See Other to a page, with a
// notice naming what was done (one of the notices, never free text).
func (h *handler) redirect(w http.ResponseWriter, r *http.Request, to, notice string) {
	if notice != "" {
		to += "?done=" + url.QueryEscape(notice)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// audit tells the host's audit hook of a change.
func (h *handler) audit(acc manage.Access, c manage.Change) {
	if h.cfg.Audit == nil {
		return
	}
	// The dispatcher's clock stamped what it wrote; otherwise, now.
	c.At = time.Now().UTC()
	if c.After != nil && !c.After.UpdatedAt.IsZero() {
		c.At = c.After.UpdatedAt
	}
	c.OrganizationID, c.Actor = acc.OrganizationID, acc.Actor
	c.Before, c.After = manage.Redacted(c.Before), manage.Redacted(c.After)
	h.cfg.Audit(c)
}
