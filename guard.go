package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
)

// ErrAddressNotAllowed is wrapped by every *AddressError: a subscription's
// target is an address the dispatcher's address policy refuses (see
// AddressGuard). An attempt refused for it is recorded and not retried.
var ErrAddressNotAllowed = errors.New("webhook: address not allowed")

// AddressError reports a target refused by the address policy: a literal
// IP in a refused range (when a subscription is saved or before a request),
// a host name that resolved to one (at dial time), a name such as
// "localhost", or an http:// URL under Config.HTTPSOnly. It wraps
// ErrAddressNotAllowed.
type AddressError struct {
	// Host is the host as written in the URL or dialled; empty when only
	// the IP is known.
	Host string
	// IP is the refused address; the zero Addr when the host itself was
	// refused.
	IP netip.Addr
	// Reason names the refused class, such as "loopback" or "private
	// network (RFC 1918)".
	Reason string
}

// Error says which host and address were refused, and why.
func (e *AddressError) Error() string {
	var b strings.Builder
	b.WriteString(ErrAddressNotAllowed.Error())
	b.WriteString(": ")
	switch {
	case e.IP.IsValid() && e.Host != "" && e.Host != e.IP.String():
		fmt.Fprintf(&b, "host %q resolved to %s: %s", e.Host, e.IP, e.Reason)
	case e.IP.IsValid():
		fmt.Fprintf(&b, "%s: %s", e.IP, e.Reason)
	case e.Host != "":
		fmt.Fprintf(&b, "host %q: %s", e.Host, e.Reason)
	default:
		b.WriteString(e.Reason)
	}
	return b.String()
}

// Unwrap returns ErrAddressNotAllowed.
func (e *AddressError) Unwrap() error { return ErrAddressNotAllowed }

// AddressGuard decides which IP addresses outbound requests may reach. The
// dispatcher builds one from Config.AllowPrivateNetworks and
// Config.AllowedNetworks and applies it when a subscription is saved (to a
// literal IP in its URL) and at dial time, to every address of every
// connection its HTTP client opens, so neither DNS rebinding nor a host
// name pointing inside the network gets around it.
//
// Refused unless allowed (the zero AddressGuard refuses them all):
//
//   - loopback: 127.0.0.0/8, ::1
//   - private networks: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16
//     (RFC 1918), unique local fc00::/7, site-local fec0::/10
//   - link-local: 169.254.0.0/16, fe80::/10
//   - carrier-grade NAT 100.64.0.0/10
//   - other special-purpose ranges: 192.0.0.0/24, 198.18.0.0/15,
//     240.0.0.0/4, 100::/64, 2001::/32 (Teredo), 64:ff9b:1::/48, the
//     deprecated IPv4-compatible ::/96
//
// Refused even with AllowPrivateNetworks (only AllowedNetworks lets them
// through): the unspecified addresses 0.0.0.0/8 and ::, multicast
// 224.0.0.0/4 and ff00::/8, the broadcast address 255.255.255.255, and
// the cloud metadata endpoints 169.254.169.254, 169.254.170.2,
// 100.100.100.200, 168.63.129.16 (Azure's WireServer), 192.0.0.192
// (Oracle Cloud's) and fd00:ec2::254.
//
// An IPv6 address that embeds an IPv4 address (IPv4-mapped ::ffff:0:0/96,
// NAT64 64:ff9b::/96, local-use NAT64 64:ff9b:1::/48 with the IPv4
// address in its last 32 bits, 6to4 2002::/16) is judged by the embedded
// address as well: it is refused if either is. An AddressGuard must not be changed
// while in use; its methods are safe for concurrent use.
type AddressGuard struct {
	// AllowPrivateNetworks allows the non-public unicast ranges listed
	// above (loopback, private, link-local, CGNAT, ...).
	AllowPrivateNetworks bool
	// AllowedNetworks are ranges allowed whatever their class. An address
	// in one of them (or whose embedded IPv4 address is) is allowed.
	AllowedNetworks []netip.Prefix
}

type addrClass int

const (
	classPublic  addrClass = iota
	classPrivate           // allowed by AllowPrivateNetworks
	classNever             // allowed only by AllowedNetworks
)

type addrRange struct {
	prefix netip.Prefix
	class  addrClass
	reason string
}

// refusedRanges are checked in order; the first that contains an address
// classifies it, so narrower ranges come before the ranges holding them.
var refusedRanges = func() []addrRange {
	list := []struct {
		cidr   string
		class  addrClass
		reason string
	}{
		{"169.254.169.254/32", classNever, "cloud metadata endpoint"},
		{"169.254.170.2/32", classNever, "cloud metadata endpoint"},
		{"100.100.100.200/32", classNever, "cloud metadata endpoint"},
		{"168.63.129.16/32", classNever, "cloud metadata endpoint (Azure WireServer)"},
		{"192.0.0.192/32", classNever, "cloud metadata endpoint (Oracle Cloud)"},
		{"fd00:ec2::254/128", classNever, "cloud metadata endpoint"},
		{"0.0.0.0/8", classNever, "unspecified (0.0.0.0/8)"},
		{"255.255.255.255/32", classNever, "broadcast"},
		{"224.0.0.0/4", classNever, "multicast"},
		{"::/128", classNever, "unspecified (::)"},
		{"ff00::/8", classNever, "multicast"},

		{"127.0.0.0/8", classPrivate, "loopback"},
		{"10.0.0.0/8", classPrivate, "private network (RFC 1918)"},
		{"172.16.0.0/12", classPrivate, "private network (RFC 1918)"},
		{"192.168.0.0/16", classPrivate, "private network (RFC 1918)"},
		{"169.254.0.0/16", classPrivate, "link-local"},
		{"100.64.0.0/10", classPrivate, "carrier-grade NAT (100.64.0.0/10)"},
		{"192.0.0.0/24", classPrivate, "IETF protocol assignments (192.0.0.0/24)"},
		{"198.18.0.0/15", classPrivate, "benchmarking (198.18.0.0/15)"},
		{"240.0.0.0/4", classPrivate, "reserved (240.0.0.0/4)"},
		{"::1/128", classPrivate, "loopback"},
		{"::/96", classPrivate, "IPv4-compatible IPv6 (deprecated)"},
		{"fc00::/7", classPrivate, "unique local (fc00::/7)"},
		{"fe80::/10", classPrivate, "link-local"},
		{"fec0::/10", classPrivate, "site-local (deprecated)"},
		{"100::/64", classPrivate, "discard-only (100::/64)"},
		{"2001::/32", classPrivate, "Teredo (2001::/32)"},
		{"64:ff9b:1::/48", classPrivate, "local-use NAT64 (64:ff9b:1::/48)"},
	}
	out := make([]addrRange, len(list))
	for i, r := range list {
		out[i] = addrRange{netip.MustParsePrefix(r.cidr), r.class, r.reason}
	}
	return out
}()

var (
	nat64Prefix      = netip.MustParsePrefix("64:ff9b::/96")
	localNAT64Prefix = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour        = netip.MustParsePrefix("2002::/16")
)

// embeddedIPv4 returns the IPv4 address inside an IPv4-mapped, NAT64 or
// 6to4 IPv6 address, and how it is embedded. The local-use NAT64 prefix
// 64:ff9b:1::/48 (RFC 8215) is read as the /96 translation prefixes a
// network carves out of it: the IPv4 address in the last 32 bits.
func embeddedIPv4(ip netip.Addr) (netip.Addr, string, bool) {
	if !ip.Is6() {
		return netip.Addr{}, "", false
	}
	b := ip.As16()
	switch {
	case ip.Is4In6():
		return ip.Unmap(), "IPv4-mapped", true
	case nat64Prefix.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64", true
	case localNAT64Prefix.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), "local-use NAT64", true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4", true
	}
	return netip.Addr{}, "", false
}

func classify(ip netip.Addr) (addrClass, string) {
	for _, r := range refusedRanges {
		if r.prefix.Contains(ip) {
			return r.class, r.reason
		}
	}
	return classPublic, ""
}

// Check returns nil if the guard allows connecting to ip, and otherwise an
// *AddressError naming the refused class. An invalid Addr is refused.
func (g *AddressGuard) Check(ip netip.Addr) error {
	if !ip.IsValid() {
		return &AddressError{Reason: "not an IP address"}
	}
	ip = ip.WithZone("")
	inner, how, embedded := embeddedIPv4(ip)
	for _, p := range g.AllowedNetworks {
		if p.Contains(ip) || (embedded && p.Contains(inner)) {
			return nil
		}
	}
	class, reason := classify(ip)
	if embedded {
		if c, r := classify(inner); c > class {
			class, reason = c, fmt.Sprintf("%s form of %s, %s", how, inner, r)
		}
	}
	switch {
	case class == classPublic:
		return nil
	case class == classPrivate && g.AllowPrivateNetworks:
		return nil
	}
	return &AddressError{IP: ip, Reason: reason}
}

// Control checks the address a connection is about to be made to; set it
// as a net.Dialer's Control to put the guard on a dialer of your own. It
// returns the error of Check, and refuses addresses that are not an IP
// and a port.
func (g *AddressGuard) Control(network, address string, _ syscall.RawConn) error {
	return g.checkDial(address, "")
}

func (g *AddressGuard) checkDial(address, host string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &AddressError{Host: host, Reason: "dial address " + truncate(address, 64) + " is not an IP and a port"}
	}
	if err := g.Check(ap.Addr()); err != nil {
		ae := err.(*AddressError)
		ae.Host = host
		return ae
	}
	return nil
}

// checkHost applies the policy to a URL's host before any lookup: a
// literal IP is checked, and names under "localhost" (which resolve to
// loopback by definition) are refused unless private networks are
// allowed. Other names are checked at dial time.
func (g *AddressGuard) checkHost(host string) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := g.Check(ip); err != nil {
			ae := err.(*AddressError)
			ae.Host = host
			return ae
		}
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if (name == "localhost" || strings.HasSuffix(name, ".localhost")) && !g.AllowPrivateNetworks {
		return &AddressError{Host: host, Reason: "localhost names resolve to loopback"}
	}
	return nil
}
