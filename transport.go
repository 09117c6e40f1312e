package webhook

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// Timeouts and limits of the default HTTP client, given in the docs of the
// Config fields of the same names, which change them.
const (
	// defaultDialTimeout bounds resolving the host and connecting.
	defaultDialTimeout = 10 * time.Second
	// defaultTLSHandshakeTimeout bounds the TLS handshake.
	defaultTLSHandshakeTimeout = 10 * time.Second
	// defaultResponseHeaderTimeout bounds the wait for the response's
	// headers once the request is written.
	defaultResponseHeaderTimeout = 20 * time.Second
	// defaultMaxResponseHeaderBytes bounds the response's headers.
	defaultMaxResponseHeaderBytes = 64 << 10
)

// transportConfig is what the dispatcher's transports are built from.
type transportConfig struct {
	dialTimeout           time.Duration
	tlsHandshakeTimeout   time.Duration
	responseHeaderTimeout time.Duration
	maxResponseHeaderByte int64
	resolver              *net.Resolver
}

func defaultTransportConfig() transportConfig {
	return transportConfig{
		dialTimeout:           defaultDialTimeout,
		tlsHandshakeTimeout:   defaultTLSHandshakeTimeout,
		responseHeaderTimeout: defaultResponseHeaderTimeout,
		maxResponseHeaderByte: defaultMaxResponseHeaderBytes,
	}
}

func (tc transportConfig) dialer() *net.Dialer {
	return &net.Dialer{Timeout: tc.dialTimeout, KeepAlive: 30 * time.Second, Resolver: tc.resolver}
}

func newTransport(tc transportConfig, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		Proxy:                  nil, // never from the environment
		DialContext:            dial,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    tc.tlsHandshakeTimeout,
		ResponseHeaderTimeout:  tc.responseHeaderTimeout,
		MaxResponseHeaderBytes: tc.maxResponseHeaderByte,
		ExpectContinueTimeout:  time.Second,
	}
}

// NewHTTPClient returns an http.Client like the dispatcher's default one:
// a transport of its own (no proxy from the environment, keep-alive
// connections pooled per host, a 10s connect timeout, a 10s TLS handshake
// timeout, a 20s wait for the response's headers, which are capped at 64
// KiB) that follows no redirect.
//
// It has no address guard of its own: a Dispatcher given it as
// Config.HTTPClient puts its guard on a copy of its transport, and other
// users can set an AddressGuard's Control on a dialer of their own.
func NewHTTPClient() *http.Client {
	tc := defaultTransportConfig()
	return &http.Client{Transport: newTransport(tc, tc.dialer().DialContext), CheckRedirect: noRedirect}
}

// guardedClient returns the client the dispatcher sends with, and whether
// the dispatcher owns its transport (and closes its idle connections at
// Close). The address guard is put on:
//
//   - no client, or a client without a Transport: a transport built from
//     tc whose dialer checks every address before connecting;
//   - a client whose Transport is an *http.Transport: a clone of it. If it
//     has no dial function of its own, the guarded dialer is used; if it
//     has one (DialContext, DialTLSContext), each connection it makes is
//     checked before a byte is written on it. The dial to the proxy its
//     Proxy function chose for the request being sent is not checked (the
//     proxy resolves the target; filtering there is the proxy's job); any
//     other dial is, even to a proxy's address for a request that Proxy
//     sends directly;
//   - any other RoundTripper: nothing at dial time. The dispatcher still
//     refuses literal IPs and localhost names before each request, but
//     host names are the host's responsibility.
//
// Redirects are never followed, whatever the client's CheckRedirect says.
func guardedClient(user *http.Client, g *AddressGuard, tc transportConfig) (*http.Client, bool) {
	var c http.Client
	if user != nil {
		c = *user
	}
	c.CheckRedirect = noRedirect
	if t, ok := c.Transport.(*http.Transport); c.Transport == nil || ok && t == nil {
		gd := newGuardedDialer(g, tc.dialer())
		c.Transport = newTransport(tc, gd.DialContext)
		return &c, true
	}
	switch t := c.Transport.(type) {
	case *http.Transport:
		t = t.Clone()
		gd := newGuardedDialer(g, tc.dialer())
		// Dial and DialTLS are deprecated, but a host's transport may
		// still set them.
		switch {
		case t.DialContext != nil:
			gd.next = t.DialContext
		case t.Dial != nil:
			dial := t.Dial
			gd.next = func(_ context.Context, network, addr string) (net.Conn, error) { return dial(network, addr) }
		}
		t.Dial = nil
		t.DialContext = gd.DialContext
		switch {
		case t.DialTLSContext != nil:
			t.DialTLSContext = gd.wrapTLS(t.DialTLSContext)
		case t.DialTLS != nil:
			dial := t.DialTLS
			t.DialTLSContext = gd.wrapTLS(func(_ context.Context, network, addr string) (net.Conn, error) { return dial(network, addr) })
			t.DialTLS = nil
		}
		if t.Proxy != nil {
			t.Proxy = gd.wrapProxy(t.Proxy)
			c.Transport = proxyTransport{t}
			return &c, true
		}
		c.Transport = t
		return &c, true
	default:
		return &c, false
	}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// belowTimeout returns a phase's timeout, or 0 (none of its own) when the
// attempt's timeout ends it first anyway.
func belowTimeout(phase, attempt time.Duration) time.Duration {
	if phase >= attempt {
		return 0
	}
	return phase
}

// hostKey carries the dialled host name to the dialer's Control, for the
// error message.
type hostKey struct{}

// guardedDialer dials through the guard.
type guardedDialer struct {
	guard *AddressGuard
	// checked dials with the guard in its ControlContext, so a refused
	// address is never connected to.
	checked *net.Dialer
	// plain dials the proxy the transport's Proxy function chose for the
	// request being sent: it is the host's configuration, and the target
	// is its to resolve.
	plain *net.Dialer
	// next, when set, is a DialContext of the host's own: its connections
	// are checked once made, before a byte is written.
	next func(ctx context.Context, network, addr string) (net.Conn, error)
}

// proxyChoiceKey carries a request's *proxyChoice in its context, which
// the transport passes on (values only) to the dials it makes for it.
type proxyChoiceKey struct{}

// proxyChoice is the "host:port" of the proxy the Proxy function chose for
// one request; empty when it chose none.
type proxyChoice struct {
	mu   sync.Mutex
	addr string
}

func (p *proxyChoice) set(addr string) {
	p.mu.Lock()
	p.addr = addr
	p.mu.Unlock()
}

// chosenProxy reports whether addr is the proxy chosen for the request
// whose dial ctx is: only that dial goes around the guard. A dial to the
// same address for a request sent directly is checked like any other.
func chosenProxy(ctx context.Context, addr string) bool {
	p, _ := ctx.Value(proxyChoiceKey{}).(*proxyChoice)
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr != "" && p.addr == addr
}

// proxyTransport is a transport with a Proxy function wrapped by
// guardedDialer.wrapProxy: each request gets a proxyChoice of its own, so
// its dials know which proxy, if any, was chosen for it.
type proxyTransport struct {
	*http.Transport
}

// RoundTrip sends r with an empty proxyChoice in its context.
func (t proxyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := context.WithValue(r.Context(), proxyChoiceKey{}, &proxyChoice{})
	return t.Transport.RoundTrip(r.WithContext(ctx))
}

func newGuardedDialer(g *AddressGuard, base *net.Dialer) *guardedDialer {
	checked := *base
	checked.ControlContext = func(ctx context.Context, network, address string, _ syscall.RawConn) error {
		host, _ := ctx.Value(hostKey{}).(string)
		return g.checkDial(address, host)
	}
	plain := *base
	return &guardedDialer{guard: g, checked: &checked, plain: &plain}
}

// DialContext dials addr ("host:port") if the guard allows the address.
func (d *guardedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if chosenProxy(ctx, addr) {
		if d.next != nil {
			return d.next(ctx, network, addr)
		}
		return d.plain.DialContext(ctx, network, addr)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if d.next == nil {
		return d.checked.DialContext(context.WithValue(ctx, hostKey{}, host), network, addr)
	}
	conn, err := d.next(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if err := d.checkConn(conn, host); err != nil {
		conn.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	return conn, nil
}

// wrapTLS checks the connections of a host's DialTLSContext once made.
func (d *guardedDialer) wrapTLS(next func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if chosenProxy(ctx, addr) {
			return conn, nil
		}
		host, _, _ := net.SplitHostPort(addr)
		if err := d.checkConn(conn, host); err != nil {
			conn.Close()
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		return conn, nil
	}
}

func (d *guardedDialer) checkConn(conn net.Conn, host string) error {
	ra := conn.RemoteAddr()
	if ra == nil {
		return &AddressError{Host: host, Reason: "connection has no remote address"}
	}
	return d.guard.checkDial(ra.String(), host)
}

// wrapProxy records in the request's proxyChoice (see proxyTransport) the
// proxy the function returns for it, so that the dial to it for that
// request is not refused: a proxy is the host's own configuration. A
// request it returns no proxy for records none, and every dial made for
// it is checked.
func (d *guardedDialer) wrapProxy(next func(*http.Request) (*url.URL, error)) func(*http.Request) (*url.URL, error) {
	return func(r *http.Request) (*url.URL, error) {
		u, err := next(r)
		if p, _ := r.Context().Value(proxyChoiceKey{}).(*proxyChoice); p != nil {
			if err == nil && u != nil {
				p.set(proxyAddr(u))
			} else {
				p.set("")
			}
		}
		return u, err
	}
}

// proxyAddr is the "host:port" the transport dials for a proxy URL.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}
