package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// Effective resolves a person's policy and names the one that applied.
type Effective interface {
	Effective(u *identity.User) (policy.Policy, string)
}

// PolicyError is a refused policy, with every problem.
type PolicyError struct{ Problems []string }

func (e *PolicyError) Error() string { return strings.Join(e.Problems, "; ") }

func (a Actor) canManagePolicy() bool { return a.may(assurance.ScopePolicies) }

// ListPolicies lists the default and the group policies.
func (s *Service) ListPolicies(ctx context.Context, a Actor) ([]policy.Record, error) {
	if !a.canManagePolicy() {
		return nil, ErrForbidden
	}
	return s.Policies.ListPolicies(ctx)
}

// SavePolicy creates or replaces a policy; every replica applies it within
// one refresh interval.
func (s *Service) SavePolicy(ctx context.Context, a Actor, r policy.Record) (*policy.Record, error) {
	if !a.canManagePolicy() {
		return nil, ErrForbidden
	}
	problems := r.Policy.Validate()
	groups, err := identity.NormalizeGroups(r.Groups)
	if err != nil {
		problems = append(problems, "groups: "+err.Error())
	}
	r.Name = strings.ToLower(strings.TrimSpace(r.Name))
	switch {
	case r.Name == "":
		problems = append(problems, "name: required")
	case r.Name == policy.DefaultName && len(groups) > 0:
		problems = append(problems, "groups: the default policy applies to everyone and takes no groups")
	case r.Name != policy.DefaultName && len(groups) == 0:
		problems = append(problems, "groups: a policy other than the default needs at least one group")
	}
	if len(problems) > 0 {
		return nil, &PolicyError{Problems: problems}
	}
	var before *policy.Record
	if all, err := s.Policies.ListPolicies(ctx); err == nil {
		for i := range all {
			if all[i].Name == r.Name {
				before = &all[i]
			}
		}
	}
	r.Groups, r.UpdatedBy = groups, a.ID
	audited := func(saved *policy.Record) audit.Event { return s.event(a, "policy.saved", "", "", before, *saved) }
	if err := s.Policies.SavePolicy(ctx, &r, audited); err != nil {
		return nil, err
	}
	return &r, nil
}

// DeletePolicy removes a group policy; the default cannot be removed.
func (s *Service) DeletePolicy(ctx context.Context, a Actor, name string) error {
	if !a.canManagePolicy() {
		return ErrForbidden
	}
	if name == policy.DefaultName {
		return &PolicyError{Problems: []string{"the default policy cannot be deleted"}}
	}
	return s.Policies.DeletePolicy(ctx, name, a.ID, s.event(a, "policy.deleted", "", "", map[string]string{"name": name}, nil))
}

// PolicyVersion is one saved version of a policy (or its deletion) with
// what changed from the version before it.
type PolicyVersion struct {
	policy.Revision
	Changes []policy.Change `json:"changes"`
}

// PolicyHistory lists every version of a policy, newest first;
// store.ErrNotFound for a name never saved.
func (s *Service) PolicyHistory(ctx context.Context, a Actor, name string) ([]PolicyVersion, error) {
	if !a.canManagePolicy() {
		return nil, ErrForbidden
	}
	revs, err := s.Policies.PolicyHistory(ctx, strings.ToLower(strings.TrimSpace(name)))
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		return nil, fmt.Errorf("policy %q: %w", name, store.ErrNotFound)
	}
	out := make([]PolicyVersion, len(revs))
	for i := range revs {
		out[i] = PolicyVersion{Revision: revs[i], Changes: []policy.Change{}}
		// A first version, a deletion, or one recreated after a deletion
		// has nothing to compare with.
		if i+1 < len(revs) && !revs[i].Deleted && !revs[i+1].Deleted {
			out[i].Changes = policy.Changes(revs[i+1].Record, revs[i].Record)
		}
	}
	return out, nil
}

// EffectivePolicy is the policy a person signs in under.
func (s *Service) EffectivePolicy(ctx context.Context, a Actor, ref string) (policy.Policy, string, error) {
	u, err := s.GetUser(ctx, a, ref)
	if err != nil {
		return policy.Policy{}, "", err
	}
	if s.Resolver == nil {
		return policy.Policy{}, "", errors.New("policies are not loaded")
	}
	p, name := s.Resolver.Effective(u)
	return p, name, nil
}

// SetGroups replaces a person's groups, which choose their policy.
func (s *Service) SetGroups(ctx context.Context, a Actor, ref string, groups []string) (*UserView, error) {
	if !a.canSetGroups() {
		return nil, ErrForbidden // groups choose policies and Help Desk scopes
	}
	u, err := s.GetUser(ctx, a, ref)
	if err != nil {
		return nil, err
	}
	if u.Privileged() && !a.canAssignRoles() {
		return nil, ErrForbidden
	}
	before := ViewUser(u)
	if err := s.Users.SetGroups(ctx, u.ID, groups); err != nil {
		return nil, err
	}
	if u, err = s.Users.Get(ctx, u.ID); err != nil {
		return nil, err
	}
	after := ViewUser(u)
	s.record(ctx, a, "user.groups_changed", u.ID, "", before, after)
	return &after, nil
}
