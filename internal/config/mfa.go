package config

import (
	"net/url"
	"slices"
	"strings"
	"time"
)

// MFA is the default sign-in policy: what every person must register and
// prove. The admin console will later vary it by group.
type MFA struct {
	// RequireForAllClients makes every application require MFA ("All
	// district users will have this turned on").
	RequireForAllClients bool `yaml:"require_for_all_clients"`
	// AllowedMethods: any of app, sms, voice, email.
	AllowedMethods []string `yaml:"allowed_methods"`
	// RequiredMethods is how many methods registration asks for.
	RequiredMethods int `yaml:"required_methods"`
	// RegistrationOrder is the order registration asks for them: app, phone, email.
	RegistrationOrder []string `yaml:"registration_order"`
	Grace             Grace    `yaml:"grace"`
	// RememberDeviceDays > 0 offers "Don't ask again for N days" (1–365).
	RememberDeviceDays int      `yaml:"remember_device_days"`
	CodeLifetime       Duration `yaml:"code_lifetime"`
	CodeAttempts       int      `yaml:"code_attempts"`
	ResendCooldown     Duration `yaml:"resend_cooldown"`
	// AllowedCountries are the regions (ISO 3166 codes) codes may be sent to.
	AllowedCountries []string  `yaml:"allowed_countries"`
	Limits           MFALimits `yaml:"limits"`
	// PolicyRefresh is how often each replica checks the database for
	// policy edits made in the console or API. This section only seeds the
	// default policy on a new database; afterwards the stored one rules.
	PolicyRefresh Duration `yaml:"policy_refresh"`
}

// Grace lets people put registration off; all zero means no skipping.
type Grace struct {
	Skips    int    `yaml:"skips"`
	Days     int    `yaml:"days"`
	Deadline string `yaml:"deadline"` // a date, 2027-03-09
}

// DeadlineTime parses Deadline; zero when unset.
func (g Grace) DeadlineTime() time.Time {
	t, _ := time.Parse(time.DateOnly, g.Deadline)
	return t
}

// MFALimits count per hour.
type MFALimits struct {
	SendsPerUser        int `yaml:"sends_per_user"`
	SendsPerIP          int `yaml:"sends_per_ip"`
	SendsPerDestination int `yaml:"sends_per_destination"`
	SendsPerCountry     int `yaml:"sends_per_country"`
	VerifiesPerUser     int `yaml:"verifies_per_user"`
	VerifiesPerIP       int `yaml:"verifies_per_ip"`
}

func defaultMFA() MFA {
	return MFA{
		RequireForAllClients: true,
		AllowedMethods:       []string{"app", "sms", "voice", "email"},
		RequiredMethods:      2,
		RegistrationOrder:    []string{"app", "phone"},
		CodeLifetime:         Duration{5 * time.Minute},
		CodeAttempts:         5,
		ResendCooldown:       Duration{30 * time.Second},
		AllowedCountries:     []string{"US"},
		PolicyRefresh:        Duration{5 * time.Second},
		Limits: MFALimits{SendsPerUser: 10, SendsPerIP: 50, SendsPerDestination: 5, SendsPerCountry: 2000,
			VerifiesPerUser: 30, VerifiesPerIP: 200},
	}
}

func (m MFA) validate(p *problems) {
	for _, v := range m.AllowedMethods {
		oneOf(p, "mfa.allowed_methods", v, "app", "sms", "voice", "email")
	}
	if len(m.AllowedMethods) == 0 && m.RequireForAllClients {
		p.add("mfa.allowed_methods", "must name at least one method while mfa.require_for_all_clients is true")
	}
	if m.RequiredMethods < 0 || m.RequiredMethods > 3 {
		p.add("mfa.required_methods", "must be between 0 and 3 (got %d)", m.RequiredMethods)
	}
	for _, v := range m.RegistrationOrder {
		oneOf(p, "mfa.registration_order", v, "app", "phone", "email")
	}
	if m.Grace.Skips < 0 || m.Grace.Days < 0 {
		p.add("mfa.grace", "skips and days must not be negative")
	}
	if m.Grace.Deadline != "" && m.Grace.DeadlineTime().IsZero() {
		p.add("mfa.grace.deadline", "must be a date like 2027-03-09 (got %q)", m.Grace.Deadline)
	}
	if d := m.RememberDeviceDays; d < 0 || d > 365 {
		p.add("mfa.remember_device_days", "must be between 0 (off) and 365 (got %d)", d)
	}
	positive(p, "mfa.code_lifetime", m.CodeLifetime)
	positive(p, "mfa.policy_refresh", m.PolicyRefresh)
	if m.CodeLifetime.Duration > 15*time.Minute {
		p.add("mfa.code_lifetime", "must be at most 15m (got %s)", m.CodeLifetime)
	}
	if m.CodeAttempts < 1 || m.CodeAttempts > 10 {
		p.add("mfa.code_attempts", "must be between 1 and 10 (got %d)", m.CodeAttempts)
	}
	if m.ResendCooldown.Duration < 0 {
		p.add("mfa.resend_cooldown", "must not be negative")
	}
	for _, c := range m.AllowedCountries {
		if len(c) != 2 || strings.ToUpper(c) != c {
			p.add("mfa.allowed_countries", "must be two-letter region codes like US (got %q)", c)
		}
	}
	l := m.Limits
	for name, v := range map[string]int{"sends_per_user": l.SendsPerUser, "sends_per_ip": l.SendsPerIP,
		"sends_per_destination": l.SendsPerDestination, "sends_per_country": l.SendsPerCountry,
		"verifies_per_user": l.VerifiesPerUser, "verifies_per_ip": l.VerifiesPerIP} {
		if v < 1 {
			p.add("mfa.limits."+name, "must be at least 1 (got %d)", v)
		}
	}
}

func validateHelpURL(p *problems, path, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || !slices.Contains([]string{"http", "https", "mailto", "tel"}, u.Scheme) {
		p.add(path, "must be an http(s), mailto: or tel: URL (got %q)", raw)
	}
}
