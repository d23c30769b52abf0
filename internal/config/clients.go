package config

import "time"

// Clients configures registered applications.
type Clients struct {
	// SecretRotationOverlap is how long a rotated-out client secret keeps
	// working, so an app's configuration can be updated without an outage;
	// 0 ends it at once.
	SecretRotationOverlap Duration `yaml:"secret_rotation_overlap"`
}

func defaultClients() Clients { return Clients{SecretRotationOverlap: Duration{24 * time.Hour}} }

func (c Clients) validate(p *problems) {
	if o := c.SecretRotationOverlap.Duration; o < 0 || o > 30*24*time.Hour {
		p.add("clients.secret_rotation_overlap", "must be between 0 (the old secret stops at once) and 720h (got %s)", o)
	}
}
