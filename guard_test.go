package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// guardCases lists addresses of every class the guard knows: refused by
// default, and whether AllowPrivateNetworks lets them through.
var guardCases = []struct {
	ip          string
	refused     bool
	privateOK   bool // allowed with AllowPrivateNetworks
	reasonWords string
}{
	// Public.
	{ip: "93.184.216.34"},
	{ip: "8.8.8.8"},
	{ip: "1.1.1.1"},
	{ip: "203.0.113.7"}, // documentation, not listed as refused
	{ip: "2606:4700::1111"},
	{ip: "2a00:1450:4001:82a::200e"},
	{ip: "::ffff:8.8.8.8"},
	{ip: "64:ff9b::808:808"}, // NAT64 of 8.8.8.8
	{ip: "2002:808:808::1"},  // 6to4 of 8.8.8.8
	{ip: "172.32.0.1"},       // just past 172.16.0.0/12
	{ip: "100.128.0.1"},      // just past 100.64.0.0/10
	{ip: "11.0.0.1"},
	{ip: "223.255.255.255"},

	// IPv4, non-public unicast.
	{ip: "127.0.0.1", refused: true, privateOK: true, reasonWords: "loopback"},
	{ip: "127.255.255.254", refused: true, privateOK: true, reasonWords: "loopback"},
	{ip: "10.0.0.1", refused: true, privateOK: true, reasonWords: "RFC 1918"},
	{ip: "10.255.255.255", refused: true, privateOK: true, reasonWords: "RFC 1918"},
	{ip: "172.16.0.1", refused: true, privateOK: true, reasonWords: "RFC 1918"},
	{ip: "172.31.255.254", refused: true, privateOK: true, reasonWords: "RFC 1918"},
	{ip: "192.168.1.1", refused: true, privateOK: true, reasonWords: "RFC 1918"},
	{ip: "169.254.1.1", refused: true, privateOK: true, reasonWords: "link-local"},
	{ip: "100.64.0.1", refused: true, privateOK: true, reasonWords: "carrier-grade NAT"},
	{ip: "100.127.255.254", refused: true, privateOK: true, reasonWords: "carrier-grade NAT"},
	{ip: "192.0.0.170", refused: true, privateOK: true, reasonWords: "IETF"},
	{ip: "198.18.0.1", refused: true, privateOK: true, reasonWords: "benchmarking"},
	{ip: "240.0.0.1", refused: true, privateOK: true, reasonWords: "reserved"},

	// IPv4, never allowed but by AllowedNetworks.
	{ip: "169.254.169.254", refused: true, reasonWords: "metadata"},
	{ip: "169.254.170.2", refused: true, reasonWords: "metadata"},
	{ip: "100.100.100.200", refused: true, reasonWords: "metadata"},
	{ip: "168.63.129.16", refused: true, reasonWords: "metadata"}, // Azure WireServer, in public space
	{ip: "192.0.0.192", refused: true, reasonWords: "metadata"},   // Oracle Cloud, inside 192.0.0.0/24
	{ip: "168.63.129.17"}, // its neighbours are public
	{ip: "192.0.0.191", refused: true, privateOK: true, reasonWords: "IETF"},
	{ip: "0.0.0.0", refused: true, reasonWords: "unspecified"},
	{ip: "0.1.2.3", refused: true, reasonWords: "unspecified"},
	{ip: "255.255.255.255", refused: true, reasonWords: "broadcast"},
	{ip: "224.0.0.1", refused: true, reasonWords: "multicast"},
	{ip: "239.255.255.250", refused: true, reasonWords: "multicast"},

	// IPv6.
	{ip: "::1", refused: true, privateOK: true, reasonWords: "loopback"},
	{ip: "::", refused: true, reasonWords: "unspecified"},
	{ip: "fc00::1", refused: true, privateOK: true, reasonWords: "unique local"},
	{ip: "fd12:3456:789a::1", refused: true, privateOK: true, reasonWords: "unique local"},
	{ip: "fe80::1", refused: true, privateOK: true, reasonWords: "link-local"},
	{ip: "febf:ffff::1", refused: true, privateOK: true, reasonWords: "link-local"},
	{ip: "fec0::1", refused: true, privateOK: true, reasonWords: "site-local"},
	{ip: "ff02::1", refused: true, reasonWords: "multicast"},
	{ip: "ff05::1:3", refused: true, reasonWords: "multicast"},
	{ip: "fd00:ec2::254", refused: true, reasonWords: "metadata"},
	{ip: "100::1", refused: true, privateOK: true, reasonWords: "discard"},
	{ip: "2001::1", refused: true, privateOK: true, reasonWords: "Teredo"},
	{ip: "64:ff9b:1::1", refused: true, reasonWords: "local-use NAT64 form of 0.0.0.1, unspecified"}, // like 64:ff9b::1
	{ip: "::7f00:1", refused: true, privateOK: true, reasonWords: "IPv4-compatible"},

	// IPv4 forms embedded in IPv6: judged by the IPv4 address.
	{ip: "::ffff:127.0.0.1", refused: true, privateOK: true, reasonWords: "IPv4-mapped form of 127.0.0.1, loopback"},
	{ip: "::ffff:10.1.2.3", refused: true, privateOK: true, reasonWords: "RFC 1918"},
	{ip: "::ffff:169.254.169.254", refused: true, reasonWords: "metadata"},
	{ip: "::ffff:0.0.0.0", refused: true, reasonWords: "unspecified"},
	{ip: "::ffff:255.255.255.255", refused: true, reasonWords: "broadcast"},
	{ip: "::ffff:100.64.0.1", refused: true, privateOK: true, reasonWords: "carrier-grade"},
	{ip: "64:ff9b::7f00:1", refused: true, privateOK: true, reasonWords: "NAT64 form of 127.0.0.1, loopback"},
	{ip: "64:ff9b::a9fe:a9fe", refused: true, reasonWords: "NAT64 form of 169.254.169.254"},
	{ip: "64:ff9b::c0a8:101", refused: true, privateOK: true, reasonWords: "RFC 1918"},
	{ip: "64:ff9b::e000:1", refused: true, reasonWords: "multicast"},
	{ip: "64:ff9b::a83f:8110", refused: true, reasonWords: "NAT64 form of 168.63.129.16, cloud metadata"},
	{ip: "::ffff:192.0.0.192", refused: true, reasonWords: "metadata"},
	{ip: "64:ff9b:1::808:808", refused: true, privateOK: true, reasonWords: "local-use NAT64"},
	{ip: "64:ff9b:1::7f00:1", refused: true, privateOK: true, reasonWords: "local-use NAT64"},
	{ip: "64:ff9b:1::a9fe:a9fe", refused: true, reasonWords: "local-use NAT64 form of 169.254.169.254, cloud metadata"},
	{ip: "64:ff9b:1:abcd:ef01::a9fe:a9fe", refused: true, reasonWords: "local-use NAT64 form of 169.254.169.254"}, // any /96 inside it
	{ip: "64:ff9b:1::a83f:8110", refused: true, reasonWords: "metadata"},
	{ip: "64:ff9b:1::", refused: true, reasonWords: "unspecified"},
	{ip: "64:ff9b:1::e000:1", refused: true, reasonWords: "multicast"},
	{ip: "2002:7f00:1::", refused: true, privateOK: true, reasonWords: "6to4 form of 127.0.0.1, loopback"},
	{ip: "2002:a00:1::1", refused: true, privateOK: true, reasonWords: "RFC 1918"},
	{ip: "2002:a9fe:a9fe::1", refused: true, reasonWords: "metadata"},
	{ip: "2002:6440:1::", refused: true, privateOK: true, reasonWords: "carrier-grade"},
	{ip: "2002::1", refused: true, reasonWords: "unspecified"},

	// A zone does not change the class.
	{ip: "fe80::1%eth0", refused: true, privateOK: true, reasonWords: "link-local"},
}

func TestAddressGuardClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range guardCases {
		ip := netip.MustParseAddr(tc.ip)
		err := (&webhook.AddressGuard{}).Check(ip)
		if !tc.refused {
			require.NoError(t, err, tc.ip)
			continue
		}
		require.ErrorIs(t, err, webhook.ErrAddressNotAllowed, tc.ip)
		var ae *webhook.AddressError
		require.ErrorAs(t, err, &ae, tc.ip)
		require.Equal(t, ip.WithZone(""), ae.IP, tc.ip)
		require.Contains(t, ae.Reason, tc.reasonWords, tc.ip)
		require.Contains(t, err.Error(), tc.reasonWords, tc.ip)

		err = (&webhook.AddressGuard{AllowPrivateNetworks: true}).Check(ip)
		if tc.privateOK {
			require.NoError(t, err, "%s with AllowPrivateNetworks", tc.ip)
		} else {
			require.ErrorIs(t, err, webhook.ErrAddressNotAllowed, "%s with AllowPrivateNetworks", tc.ip)
		}

		// An allow-list entry holding the address, or the IPv4 address
		// it embeds, lets it through whatever its class.
		allow := netip.PrefixFrom(ip.WithZone(""), ip.BitLen())
		require.NoError(t, (&webhook.AddressGuard{AllowedNetworks: []netip.Prefix{allow}}).Check(ip), "%s allow-listed", tc.ip)
		if ip.Is6() && !ip.Is4In6() {
			continue
		}
		v4 := netip.PrefixFrom(ip.Unmap(), 32)
		require.NoError(t, (&webhook.AddressGuard{AllowedNetworks: []netip.Prefix{v4}}).Check(ip), "%s allow-listed as IPv4", tc.ip)
	}
	require.ErrorIs(t, (&webhook.AddressGuard{AllowPrivateNetworks: true}).Check(netip.Addr{}), webhook.ErrAddressNotAllowed)
}

func TestAddressGuardAllowedNetworksAreNarrow(t *testing.T) {
	t.Parallel()
	g := &webhook.AddressGuard{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00:1::/32")}}
	for ip, allowed := range map[string]bool{
		"10.1.0.1":         true,
		"10.1.255.255":     true,
		"::ffff:10.1.2.3":  true,
		"64:ff9b::a01:203": true, // NAT64 of 10.1.2.3
		"10.2.0.1":         false,
		"10.0.255.255":     false,
		"fd00:1::5":        true,
		"fd00:2::5":        false,
		"127.0.0.1":        false,
		"169.254.169.254":  false,
		"8.8.8.8":          true,
	} {
		err := g.Check(netip.MustParseAddr(ip))
		if allowed {
			require.NoError(t, err, ip)
		} else {
			require.ErrorIs(t, err, webhook.ErrAddressNotAllowed, ip)
		}
	}
}

func TestAddressErrorMessages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  *webhook.AddressError
		want string
	}{
		{&webhook.AddressError{IP: netip.MustParseAddr("127.0.0.1"), Reason: "loopback"}, "webhook: address not allowed: 127.0.0.1: loopback"},
		{&webhook.AddressError{Host: "rebind.test", IP: netip.MustParseAddr("10.0.0.1"), Reason: "private"}, `webhook: address not allowed: host "rebind.test" resolved to 10.0.0.1: private`},
		{&webhook.AddressError{Host: "localhost", Reason: "localhost names resolve to loopback"}, `webhook: address not allowed: host "localhost": localhost names resolve to loopback`},
		{&webhook.AddressError{Reason: "only https"}, "webhook: address not allowed: only https"},
	} {
		require.Equal(t, tc.want, tc.err.Error())
		require.ErrorIs(t, tc.err, webhook.ErrAddressNotAllowed)
	}
}

// countingListener counts the connections accepted.
type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// listen returns a counting TCP listener on addr, closed at Cleanup, that
// accepts connections and closes them at once.
func listenAndDrop(tb testing.TB, addr string) *countingListener {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Skipf("cannot listen on %s: %v", addr, err)
	}
	cl := &countingListener{Listener: ln}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := cl.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		<-done
	})
	return cl
}

func TestAddressGuardControlRefusesBeforeConnecting(t *testing.T) {
	t.Parallel()
	ln := listenAndDrop(t, "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	g := &webhook.AddressGuard{}
	d := &net.Dialer{Control: g.Control}
	ctx := context.Background()
	for _, addr := range []string{
		ln.Addr().String(),
		net.JoinHostPort("::ffff:127.0.0.1", itoa(port)),
	} {
		_, err := d.DialContext(ctx, "tcp", addr)
		require.ErrorIs(t, err, webhook.ErrAddressNotAllowed, addr)
	}
	require.Zero(t, ln.accepted.Load(), "no connection reached the listener")

	allowed := &net.Dialer{Control: (&webhook.AddressGuard{AllowPrivateNetworks: true}).Control}
	c, err := allowed.DialContext(ctx, "tcp", ln.Addr().String())
	require.NoError(t, err)
	c.Close()
	require.Eventually(t, func() bool { return ln.accepted.Load() == 1 }, timeoutShort, tick)

	var ae *webhook.AddressError
	err = g.Control("tcp", "not-an-address", nil)
	require.ErrorAs(t, err, &ae)
	require.True(t, errors.Is(err, webhook.ErrAddressNotAllowed))
}
