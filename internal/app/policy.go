package app

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// defaultPolicy turns the mfa section of the configuration into the policy
// everyone gets until per-group policies exist.
func defaultPolicy(cfg *config.Config) policy.Policy {
	m := cfg.MFA
	p := policy.Policy{
		RequireMFA:         m.RequireForAllClients,
		RequiredMethods:    m.RequiredMethods,
		Grace:              policy.Grace{Skips: m.Grace.Skips, Days: m.Grace.Days, Deadline: m.Grace.DeadlineTime()},
		RememberDeviceDays: m.RememberDeviceDays,
		AllowedCountries:   m.AllowedCountries,
		// The district's own mailboxes sit behind the sign-in they would protect.
		BlockedEmailDomains: []string{cfg.District.Domain},
		SSPR: policy.SSPR{Enabled: cfg.SSPR.Enabled, MethodsRequired: cfg.SSPR.MethodsRequired,
			QuestionsToRegister: cfg.SSPR.QuestionsToRegister, QuestionsToAnswer: cfg.SSPR.QuestionsToAnswer},
		Limits: mfa.Limits{
			SendsPerUser: m.Limits.SendsPerUser, SendsPerIP: m.Limits.SendsPerIP,
			SendsPerDestination: m.Limits.SendsPerDestination, SendsPerCountry: m.Limits.SendsPerCountry,
			VerifiesPerUser: m.Limits.VerifiesPerUser, VerifiesPerIP: m.Limits.VerifiesPerIP,
			ResendCooldown: m.ResendCooldown.Duration,
		},
	}
	for _, f := range m.AllowedMethods {
		p.AllowedFactors = append(p.AllowedFactors, mfa.Factor(f))
	}
	for _, k := range m.RegistrationOrder {
		p.RegistrationOrder = append(p.RegistrationOrder, mfa.Kind(k))
	}
	return p
}

// policyAssurance tells the token endpoint whether a person's policy
// requires MFA of them now and they have a method to prove it with. Without
// one there is nothing to ask: their next sign-in registers.
type policyAssurance struct {
	policy  policy.Resolver
	methods interface {
		Methods(ctx context.Context, userID string) ([]mfa.Method, error)
	}
}

func (p policyAssurance) MFARequired(ctx context.Context, u *identity.User) (bool, error) {
	if !p.policy.For(ctx, u).RequireMFA {
		return false, nil
	}
	methods, err := p.methods.Methods(ctx, u.ID)
	return len(methods) > 0, err
}
