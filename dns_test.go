package webhook_test

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeDNS is a DNS server on loopback UDP that answers A and AAAA queries
// from a table, so a test can point a host name anywhere (as a hostile
// DNS server, or a rebinding one, would). Names in hang get no answer;
// other unknown names get NXDOMAIN.
type fakeDNS struct {
	conn    net.PacketConn
	records map[string][]netip.Addr // by lower-case name without the final dot
	hang    map[string]bool
	wg      sync.WaitGroup

	// The resolver's connections, closed at Cleanup: Go's resolver
	// goes on with a lookup after its caller gave up, until its own
	// timeout, and a query to a name in hang would outlive the test.
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// newFakeDNS starts a fakeDNS serving records (name -> addresses), stopped
// by the test's Cleanup.
func newFakeDNS(tb testing.TB, records map[string][]string, hang ...string) *fakeDNS {
	tb.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f := &fakeDNS{conn: conn, records: map[string][]netip.Addr{}, hang: map[string]bool{}}
	for name, addrs := range records {
		for _, a := range addrs {
			f.records[strings.ToLower(name)] = append(f.records[strings.ToLower(name)], netip.MustParseAddr(a))
		}
	}
	for _, name := range hang {
		f.hang[strings.ToLower(name)] = true
	}
	f.wg.Add(1)
	go f.serve()
	tb.Cleanup(func() {
		f.mu.Lock()
		f.closed = true
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		conn.Close()
		f.wg.Wait()
	})
	return f
}

// resolver returns a pure-Go resolver that asks only this server.
func (f *fakeDNS) resolver() *net.Resolver {
	addr := f.conn.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.closed {
				return nil, net.ErrClosed
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, "udp", addr)
			if err == nil {
				f.conns = append(f.conns, c)
			}
			return c, err
		},
	}
}

func (f *fakeDNS) serve() {
	defer f.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := f.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := f.answer(buf[:n]); resp != nil {
			_, _ = f.conn.WriteTo(resp, from)
		}
	}
}

// answer builds the response to one query, nil to stay silent.
func (f *fakeDNS) answer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	// The question: labels up to a zero byte, then type and class.
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1 : i+3])
	question := q[12 : i+5]
	name := strings.ToLower(strings.Join(labels, "."))
	if f.hang[name] {
		return nil
	}
	addrs, known := f.records[name]
	var answers [][]byte
	for _, a := range addrs {
		switch {
		case qtype == 1 && a.Is4():
			b := a.As4()
			answers = append(answers, b[:])
		case qtype == 28 && a.Is6():
			b := a.As16()
			answers = append(answers, b[:])
		}
	}
	resp := make([]byte, 12, 512)
	copy(resp, q[:2])       // ID
	flags := uint16(0x8180) // response, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	binary.BigEndian.PutUint16(resp[2:], flags)
	binary.BigEndian.PutUint16(resp[4:], 1)
	binary.BigEndian.PutUint16(resp[6:], uint16(len(answers)))
	resp = append(resp, question...)
	for _, rdata := range answers {
		resp = append(resp, 0xc0, 12) // the name: a pointer to the question's
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = binary.BigEndian.AppendUint16(resp, 1)  // IN
		resp = binary.BigEndian.AppendUint32(resp, 60) // TTL
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
		resp = append(resp, rdata...)
	}
	return resp
}

func TestFakeDNS(t *testing.T) {
	t.Parallel()
	f := newFakeDNS(t, map[string][]string{
		"four.test": {"127.0.0.2"},
		"six.test":  {"::1"},
		"both.test": {"127.0.0.3", "::ffff:127.0.0.4"},
	})
	r := f.resolver()
	ctx := context.Background()
	for name, want := range map[string][]string{
		"four.test": {"127.0.0.2"},
		"six.test":  {"::1"},
		"both.test": {"127.0.0.3", "::ffff:127.0.0.4"},
	} {
		got, err := r.LookupNetIP(ctx, "ip", name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var s []string
		for _, a := range got {
			s = append(s, a.String())
		}
		slices.Sort(s)
		slices.Sort(want)
		if strings.Join(s, ",") != strings.Join(want, ",") {
			t.Fatalf("%s: got %v, want %v", name, s, want)
		}
	}
	if _, err := r.LookupNetIP(ctx, "ip", "missing.test"); err == nil {
		t.Fatal("missing.test resolved")
	}
}
