package admin

import (
	"context"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
)

// Registrations reads what the registration report needs in bulk.
type Registrations interface {
	MethodKindCounts(ctx context.Context) (map[string]int, error)
	ListStates(ctx context.Context) (map[string]mfa.State, error)
}

// GroupReport is how far one group is with registering its methods.
type GroupReport struct {
	Group      string `json:"group"` // "" for people in no group
	Policy     string `json:"policy"`
	Users      int    `json:"users"`
	Registered int    `json:"registered"` // have the methods their policy asks for
	InGrace    int    `json:"in_grace"`   // not yet, but may still skip
	Pending    int    `json:"pending"`    // not yet, and must register at next sign-in
	// Deadline is the grace's fixed date, when the policy has one.
	Deadline *time.Time `json:"deadline,omitempty"`
}

// RegistrationReport counts, per group, who has registered, who is within
// grace and who must register at their next sign-in. A person in several
// groups counts in each.
func (s *Service) RegistrationReport(ctx context.Context, a Actor) ([]GroupReport, error) {
	if !a.canManageUsers() {
		return nil, ErrForbidden
	}
	counts, err := s.Registrations.MethodKindCounts(ctx)
	if err != nil {
		return nil, err
	}
	states, err := s.Registrations.ListStates(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	byGroup := map[string]*GroupReport{}
	for offset := 0; ; offset += 1000 {
		users, err := s.Users.List(ctx, identity.ListQuery{Limit: 1000, Offset: offset})
		if err != nil {
			return nil, err
		}
		for i := range users {
			u := &users[i]
			pol, name := s.Resolver.Effective(u)
			st := states[u.ID]
			registered := counts[u.ID] >= pol.RequiredMethods && (counts[u.ID] > 0 || !pol.RequireMFA)
			if !a.serves(u) {
				continue
			}
			groups := u.Groups
			if len(groups) == 0 {
				groups = []string{""}
			}
			for _, g := range groups {
				r := byGroup[g]
				if r == nil {
					r = &GroupReport{Group: g, Policy: name}
					if d := pol.Grace.Deadline; !d.IsZero() {
						r.Deadline = &d
					}
					byGroup[g] = r
				}
				r.Users++
				switch {
				case registered:
					r.Registered++
				case pol.CanSkip(&st, now).Allowed:
					r.InGrace++
				default:
					r.Pending++
				}
			}
		}
		if len(users) < 1000 {
			break
		}
	}
	out := make([]GroupReport, 0, len(byGroup))
	for _, r := range byGroup {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(x, y GroupReport) int {
		switch {
		case x.Group < y.Group:
			return -1
		case x.Group > y.Group:
			return 1
		}
		return 0
	})
	return out, nil
}
