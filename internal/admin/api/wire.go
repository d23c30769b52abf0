package api

import (
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/pkg/adminapi"
)

// The API speaks only pkg/adminapi's types, which district tools import;
// these turn the domain's values into them and back. A test holds each
// pair to the same JSON.

// applyApplication sets the fields in gives, keeping the others.
func applyApplication(in adminapi.ApplicationInput, r *clients.Registration) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setList := func(dst *[]string, v *[]string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&r.Name, in.Name)
	set(&r.Description, in.Description)
	setList(&r.RedirectURIs, in.RedirectURIs)
	setList(&r.PostLogoutRedirectURIs, in.PostLogoutRedirectURIs)
	setList(&r.GrantTypes, in.GrantTypes)
	setList(&r.Scopes, in.Scopes)
	set(&r.TokenEndpointAuthMethod, in.TokenEndpointAuthMethod)
	set(&r.JWKSURI, in.JWKSURI)
	set(&r.RequiredACR, in.RequiredACR)
	set(&r.IDTokenSigningAlg, in.IDTokenSigningAlg)
	if in.JWKS != nil {
		r.JWKS = string(*in.JWKS)
	}
	if in.Public != nil {
		r.Public = *in.Public
	}
	if in.RequireConsent != nil {
		r.RequireConsent = *in.RequireConsent
	}
	if in.MayIntrospect != nil {
		r.MayIntrospect = *in.MayIntrospect
	}
}

func toApplication(c admin.ClientView, secret string) adminapi.Application {
	return adminapi.Application{ID: c.ID, Name: c.Name, Description: c.Description, Public: c.Public,
		RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, GrantTypes: c.GrantTypes,
		Scopes: c.Scopes, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, JWKSURI: c.JWKSURI,
		RequireConsent: c.RequireConsent, RequiredACR: c.RequiredACR, IDTokenSigningAlg: c.IDTokenSigningAlg,
		MayIntrospect: c.MayIntrospect, PreviousSecretExpiresAt: c.PreviousSecretExpiresAt, Disabled: c.Disabled,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Secret: secret}
}

func toUser(u admin.UserView) adminapi.User {
	return adminapi.User{ID: u.ID, Username: u.Username, Email: u.Email, DisplayName: u.DisplayName, Roles: u.Roles,
		Groups: u.Groups, Disabled: u.Disabled, MustChangePassword: u.MustChangePassword, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func toImportRow(r identity.ImportRow) adminapi.ImportRow {
	// Changes are [] rather than null, even for a row that changes nothing.
	changes := make([]adminapi.FieldChange, len(r.Changes))
	for i, c := range r.Changes {
		changes[i] = adminapi.FieldChange(c)
	}
	return adminapi.ImportRow{Line: r.Line, Username: r.Username, Outcome: r.Outcome, Changes: changes, Message: r.Message}
}

func toAuditEvent(e audit.Event) adminapi.AuditEvent {
	return adminapi.AuditEvent{ID: e.ID, Time: e.Time, Type: e.Type, Outcome: e.Outcome, ActorID: e.ActorID,
		SubjectID: e.SubjectID, ClientID: e.ClientID, IP: e.IP, UserAgent: e.UserAgent, Details: e.Details}
}

func toSettings(p policy.Policy) adminapi.PolicySettings {
	return adminapi.PolicySettings{RequireMFA: p.RequireMFA, AllowedMethods: convert[string](p.AllowedFactors),
		RequiredMethods: p.RequiredMethods, RegistrationOrder: convert[string](p.RegistrationOrder),
		Grace:              adminapi.Grace{Skips: p.Grace.Skips, Days: p.Grace.Days, Deadline: p.Grace.Deadline},
		RememberDeviceDays: p.RememberDeviceDays, Limits: adminapi.Limits(p.Limits),
		AllowedCountries: p.AllowedCountries, BlockedEmailDomains: p.BlockedEmailDomains, SSPR: adminapi.SSPR(p.SSPR)}
}

func fromSettings(s adminapi.PolicySettings) policy.Policy {
	return policy.Policy{RequireMFA: s.RequireMFA, AllowedFactors: convert[mfa.Factor](s.AllowedMethods),
		RequiredMethods: s.RequiredMethods, RegistrationOrder: convert[mfa.Kind](s.RegistrationOrder),
		Grace:              policy.Grace{Skips: s.Grace.Skips, Days: s.Grace.Days, Deadline: s.Grace.Deadline},
		RememberDeviceDays: s.RememberDeviceDays, Limits: mfa.Limits(s.Limits),
		AllowedCountries: s.AllowedCountries, BlockedEmailDomains: s.BlockedEmailDomains, SSPR: policy.SSPR(s.SSPR)}
}

// convert changes a list's string type, keeping nil nil (JSON null).
func convert[To, From ~string](in []From) []To {
	if in == nil {
		return nil
	}
	out := make([]To, len(in))
	for i, v := range in {
		out[i] = To(v)
	}
	return out
}

func toPolicy(r policy.Record) adminapi.Policy {
	return adminapi.Policy{Name: r.Name, Priority: r.Priority, Groups: r.Groups, Settings: toSettings(r.Policy),
		Version: r.Version, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt}
}

func toPolicyVersion(v admin.PolicyVersion) adminapi.PolicyVersion {
	return adminapi.PolicyVersion{Policy: toPolicy(v.Record), Deleted: v.Deleted,
		Changes: each(v.Changes, func(c policy.Change) adminapi.PolicyChange { return adminapi.PolicyChange(c) })}
}

func toGroupReport(g admin.GroupReport) adminapi.GroupReport {
	return adminapi.GroupReport(g)
}

// each converts a list, keeping nil nil.
func each[From, To any](in []From, f func(From) To) []To {
	if in == nil {
		return nil
	}
	out := make([]To, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
