package config

import "github.com/gatehouse/gatehouse/internal/clientip"

// Network is what stands between Gatehouse and the people it serves.
type Network struct {
	// TrustedProxies are the load balancers and reverse proxies (CIDRs or
	// addresses) whose ForwardedHeader names the client. From any other
	// peer the header is ignored, so a client cannot pick its own address.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ForwardedHeader is X-Forwarded-For or Forwarded (RFC 7239): the one
	// the proxies set. The other is never read.
	ForwardedHeader string `yaml:"forwarded_header"`
	// SchoolNetworks are the district's shared egress ranges (CIDRs), where
	// a whole school comes from one address: per-address limits there are
	// SchoolMultiplier times higher.
	SchoolNetworks   []string `yaml:"school_networks"`
	SchoolMultiplier int      `yaml:"school_multiplier"`
}

func defaultNetwork() Network {
	return Network{TrustedProxies: []string{}, ForwardedHeader: clientip.HeaderXForwardedFor,
		SchoolNetworks: []string{}, SchoolMultiplier: 20}
}

func (n Network) validate(p *problems) {
	if _, err := clientip.ParseNetworks(n.TrustedProxies); err != nil {
		p.add("network.trusted_proxies", "%v", err)
	}
	if h := n.ForwardedHeader; h != clientip.HeaderXForwardedFor && h != clientip.HeaderForwarded {
		p.add("network.forwarded_header", "must be %q or %q (got %q)", clientip.HeaderXForwardedFor, clientip.HeaderForwarded, h)
	}
	if _, err := clientip.ParseNetworks(n.SchoolNetworks); err != nil {
		p.add("network.school_networks", "%v", err)
	}
	if m := n.SchoolMultiplier; m < 1 || m > 1000 {
		p.add("network.school_multiplier", "must be between 1 and 1000 (got %d)", m)
	}
}
