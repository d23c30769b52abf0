package clientip

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestResolve(t *testing.T) {
	trusted := []string{"10.0.0.0/8", "2001:db8:ffff::/48"}
	cases := []struct {
		name, header, peer string
		values             []string
		want               string
	}{
		{"untrusted peer's header is ignored", HeaderXForwardedFor, "198.51.100.9:4000", []string{"203.0.113.5"}, "198.51.100.9"},
		{"trusted peer, no header", HeaderXForwardedFor, "10.1.1.1:4000", nil, "10.1.1.1"},
		{"one hop", HeaderXForwardedFor, "10.1.1.1:4000", []string{"203.0.113.5"}, "203.0.113.5"},
		{"client-sent hops left of the real one are ignored", HeaderXForwardedFor, "10.1.1.1:4000", []string{"1.2.3.4, 203.0.113.5"}, "203.0.113.5"},
		{"trusted hops are skipped", HeaderXForwardedFor, "10.1.1.1:4000", []string{"1.2.3.4, 203.0.113.5, 10.2.2.2"}, "203.0.113.5"},
		{"several lines are one list", HeaderXForwardedFor, "10.1.1.1:4000", []string{"1.2.3.4", "203.0.113.5, 10.2.2.2"}, "203.0.113.5"},
		{"ports and brackets", HeaderXForwardedFor, "10.1.1.1:4000", []string{"[2001:db8::1]:443, 10.2.2.2:80"}, "2001:db8::1"},
		{"IPv4-mapped is IPv4", HeaderXForwardedFor, "[::ffff:10.1.1.1]:4000", []string{"::ffff:203.0.113.5"}, "203.0.113.5"},
		{"garbage ends the walk at the last good hop", HeaderXForwardedFor, "10.1.1.1:4000", []string{"203.0.113.5, nonsense, 10.2.2.2"}, "10.2.2.2"},
		{"all trusted resolves to the leftmost", HeaderXForwardedFor, "10.1.1.1:4000", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"the other header is not read", HeaderXForwardedFor, "10.1.1.1:4000", nil, "10.1.1.1"},
		{"Forwarded", HeaderForwarded, "10.1.1.1:4000", []string{`for=1.2.3.4, for=203.0.113.5;proto=https;by=10.1.1.1`}, "203.0.113.5"},
		{"Forwarded quoted IPv6 with port", HeaderForwarded, "[2001:db8:ffff::1]:4000", []string{`For="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"Forwarded quoted separators stay in the value", HeaderForwarded, "10.1.1.1:4000", []string{`for=203.0.113.5;x="a,b;c", for=10.2.2.2`}, "203.0.113.5"},
		{"Forwarded unknown ends the walk", HeaderForwarded, "10.1.1.1:4000", []string{`for=203.0.113.5, for=unknown`}, "10.1.1.1"},
		{"Forwarded element without for ends the walk", HeaderForwarded, "10.1.1.1:4000", []string{`for=203.0.113.5, proto=https`}, "10.1.1.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := New(trusted, c.header)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = c.peer
			for _, v := range c.values {
				r.Header.Add(c.header, v)
			}
			if c.name == "the other header is not read" {
				r.Header.Set(HeaderForwarded, "for=203.0.113.5")
			}
			if got := res.Resolve(r); got != c.want {
				t.Errorf("Resolve = %q, want %q", got, c.want)
			}
		})
	}
}

func TestMiddlewareStoresTheAddress(t *testing.T) {
	res, err := New([]string{"127.0.0.1"}, HeaderXForwardedFor)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	h := res.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = From(r) }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "127.0.0.1:5000"
	r.Header.Set(HeaderXForwardedFor, "203.0.113.5")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "203.0.113.5" {
		t.Errorf("From = %q, want 203.0.113.5", got)
	}
}

func TestParseNetworksRefusesWhatIsNotANetwork(t *testing.T) {
	for _, s := range []string{"", "10.0.0.0/33", "school", "::ffff:10.0.0.0/104", "fe80::1%eth0"} {
		if _, err := ParseNetworks([]string{s}); err == nil {
			t.Errorf("ParseNetworks(%q) accepted it", s)
		}
	}
	if _, err := New(nil, "X-Real-IP"); err == nil {
		t.Error("New accepted an unsupported header")
	}
}

func TestLimitKey(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7":               "192.0.2.7",
		"2001:db8:1:2:aaaa::1":    "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb:cc::9": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":         "2001:db8:1:3::/64",
		"fe80::1%eth0":            "fe80::/64",
		"not an address":          "not an address",
	} {
		if got := LimitKey(addr); got != want {
			t.Errorf("LimitKey(%q) = %q, want %q", addr, got, want)
		}
	}
}
