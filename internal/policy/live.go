package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/store"
)

// DefaultName is the policy for everyone no group policy matches.
const DefaultName = "default"

// Record is a stored policy: the default, or one for some groups.
type Record struct {
	Name      string    `json:"name"`
	Priority  int       `json:"priority"` // higher wins when a person is in several groups
	Groups    []string  `json:"groups"`
	Policy    Policy    `json:"settings"`
	Version   int64     `json:"version"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Store keeps policies in the database.
type Store interface {
	ListPolicies(ctx context.Context) ([]Record, error)
	// PolicyVersion is the highest version of any policy, deleted included.
	PolicyVersion(ctx context.Context) (int64, error)
	// SavePolicy creates or replaces a policy under the next version and
	// keeps that version in the history; it sets r.Version. When audited
	// is not nil, the event it builds from the saved version is recorded in
	// the same transaction: no change without its record.
	SavePolicy(ctx context.Context, r *Record, audited func(*Record) audit.Event) error
	// DeletePolicy removes a policy, recording audited in the same
	// transaction.
	DeletePolicy(ctx context.Context, name, by string, audited audit.Event) error
	// PolicyHistory is every version of the named policy, its deletions
	// included, newest first; empty for a name never saved.
	PolicyHistory(ctx context.Context, name string) ([]Revision, error)
}

// Live resolves policies from the database and keeps them fresh: each
// replica polls the version, so an edit takes effect everywhere within
// one refresh interval, without a restart.
type Live struct {
	store    Store
	seed     Policy
	interval time.Duration
	logger   *slog.Logger

	mu      sync.RWMutex
	records []Record // highest priority first; the default last
	version int64
}

// NewLive returns a resolver; seed is the default policy from the
// configuration, written to the database the first time.
func NewLive(st Store, seed Policy, interval time.Duration, logger *slog.Logger) *Live {
	return &Live{store: st, seed: seed, interval: interval, logger: logger}
}

// Load reads every policy, seeding the default on an empty database.
func (l *Live) Load(ctx context.Context) error {
	records, err := l.store.ListPolicies(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(records, func(r Record) bool { return r.Name == DefaultName }) {
		r := Record{Name: DefaultName, Policy: l.seed, UpdatedBy: "config"}
		if err := l.store.SavePolicy(ctx, &r, nil); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("seeding the default policy: %w", err)
		}
		if records, err = l.store.ListPolicies(ctx); err != nil {
			return err
		}
	}
	version, err := l.store.PolicyVersion(ctx)
	if err != nil {
		return err
	}
	slices.SortStableFunc(records, func(a, b Record) int {
		switch {
		case a.Name == DefaultName:
			return 1
		case b.Name == DefaultName:
			return -1
		}
		return b.Priority - a.Priority
	})
	l.mu.Lock()
	l.records, l.version = records, version
	l.mu.Unlock()
	return nil
}

// Run reloads whenever the stored version moves, until ctx ends.
func (l *Live) Run(ctx context.Context) {
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			v, err := l.store.PolicyVersion(ctx)
			l.mu.RLock()
			stale := err == nil && v != l.version
			l.mu.RUnlock()
			if err == nil && stale {
				err = l.Load(ctx)
			}
			if err != nil && ctx.Err() == nil {
				l.logger.Error("refreshing policies", "err", err)
			}
		}
	}
}

// For is the policy of the first group policy (by priority) the person is
// in, or the default.
func (l *Live) For(_ context.Context, u *identity.User) Policy {
	p, _ := l.Effective(u)
	return p
}

// Effective is For plus the name of the policy that applied.
func (l *Live) Effective(u *identity.User) (Policy, string) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, r := range l.records {
		if r.Name == DefaultName || u != nil && slices.ContainsFunc(r.Groups, func(g string) bool { return slices.Contains(u.Groups, g) }) {
			return r.Policy, r.Name
		}
	}
	return l.seed, DefaultName
}

// Validate lists what is wrong with a policy, in words for an admin.
func (p Policy) Validate() []string {
	var problems []string
	for _, f := range p.AllowedFactors {
		if f.Kind() == "" {
			problems = append(problems, fmt.Sprintf("allowed_methods: %q is not a method (app, sms, voice, email)", f))
		}
	}
	if p.RequireMFA && len(p.AllowedFactors) == 0 {
		problems = append(problems, "allowed_methods: at least one method is needed while require_mfa is on")
	}
	if p.RequiredMethods < 0 || p.RequiredMethods > 3 {
		problems = append(problems, "required_methods: between 0 and 3")
	}
	for _, k := range p.RegistrationOrder {
		if k != mfa.App && k != mfa.Phone && k != mfa.Email {
			problems = append(problems, fmt.Sprintf("registration_order: %q is not a method kind (app, phone, email)", k))
		}
	}
	if p.Grace.Skips < 0 || p.Grace.Days < 0 {
		problems = append(problems, "grace: skips and days must not be negative")
	}
	if p.RememberDeviceDays < 0 || p.RememberDeviceDays > 365 {
		problems = append(problems, "remember_device_days: between 0 and 365")
	}
	l := p.Limits
	if l.SendsPerUser < 1 || l.SendsPerIP < 1 || l.SendsPerDestination < 1 || l.SendsPerCountry < 1 || l.VerifiesPerUser < 1 || l.VerifiesPerIP < 1 {
		problems = append(problems, "limits: every limit must be at least 1")
	}
	if s := p.SSPR; s.Enabled && (s.MethodsRequired < 1 || s.MethodsRequired > 2 || s.QuestionsToRegister < 3 ||
		s.QuestionsToRegister > 5 || s.QuestionsToAnswer < 1 || s.QuestionsToAnswer > s.QuestionsToRegister) {
		problems = append(problems, "sspr: methods_required 1–2, questions_to_register 3–5, questions_to_answer 1 to questions_to_register")
	}
	return problems
}
