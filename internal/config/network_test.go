package config

import (
	"slices"
	"strings"
	"testing"
)

func TestNetworkFromEnvironment(t *testing.T) {
	c, err := Load("", []string{
		"GATEHOUSE_NETWORK_TRUSTED_PROXIES=10.0.0.0/8, 192.0.2.7",
		"GATEHOUSE_NETWORK_FORWARDED_HEADER=Forwarded",
		"GATEHOUSE_NETWORK_SCHOOL_NETWORKS=198.51.100.0/24",
	})
	if err != nil {
		t.Fatal(err)
	}
	n := c.Network
	if !slices.Equal(n.TrustedProxies, []string{"10.0.0.0/8", "192.0.2.7"}) || n.ForwardedHeader != "Forwarded" ||
		!slices.Equal(n.SchoolNetworks, []string{"198.51.100.0/24"}) {
		t.Errorf("network = %+v", n)
	}
}

func TestNetworkRefusesBadValues(t *testing.T) {
	_, err := Load("", []string{
		"GATEHOUSE_NETWORK_TRUSTED_PROXIES=10.0.0.0/33",
		"GATEHOUSE_NETWORK_FORWARDED_HEADER=X-Real-IP",
		"GATEHOUSE_NETWORK_SCHOOL_NETWORKS=school",
		"GATEHOUSE_NETWORK_SCHOOL_MULTIPLIER=0",
	})
	for _, want := range []string{"network.trusted_proxies", "network.forwarded_header", "network.school_networks", "network.school_multiplier"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}
