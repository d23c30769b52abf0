package identity

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ErrInvalidCredentials is the one answer for an unknown user, a wrong
// password and a disabled account, so sign-in reveals nothing. The wrapped
// detail is for the audit log only.
var ErrInvalidCredentials = errors.New("the username or password is incorrect")

// PolicyError explains why a password or profile field was refused, in words
// a person can act on.
type PolicyError struct {
	Msg string
	Err error // the underlying cause, when there is one
}

func (e *PolicyError) Error() string { return e.Msg }
func (e *PolicyError) Unwrap() error { return e.Err }

func policyErr(format string, args ...any) error {
	return &PolicyError{Msg: fmt.Sprintf(format, args...)}
}

// Options configure a Service.
type Options struct {
	Domain            string // the district's UPN suffix
	District          string // the district's name, which passwords must not contain
	Argon2            Argon2Params
	MinPasswordLength int
	// PasswordHistory is how many recent passwords a user may not reuse
	// (the current one included); 0 turns the check off.
	PasswordHistory int
	// MaxConcurrentHashes bounds the argon2id computations of sign-ins
	// running at once (0: as many as the CPUs can run side by side, CPUs ÷
	// Argon2.Parallelism): a login storm then queues instead of taking
	// MaxConcurrentHashes × Argon2.MemoryKiB and more.
	MaxConcurrentHashes int
	Now                 func() time.Time
}

// Service is the one place users are created, changed and authenticated;
// the CLI, the web flows and the admin API all go through it.
type Service struct {
	store  Store
	opt    Options
	hasher *Hasher
}

// NewService returns a Service over st.
func NewService(st Store, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Service{store: st, opt: opt, hasher: NewHasher(opt.Argon2, opt.MaxConcurrentHashes)}
}

// Hasher is the bounded argon2id hasher the service uses; security answers
// share it, so together they stay within MaxConcurrentHashes.
func (s *Service) Hasher() *Hasher { return s.hasher }

// Domain is the district's UPN suffix.
func (s *Service) Domain() string { return s.opt.Domain }

// NewUser is the input to Create.
type NewUser struct {
	Username           string
	Email              string
	DisplayName        string
	Password           string // clear text, checked against the policy and hashed
	PasswordHash       string // or an argon2id PHC string from another system
	Roles              []string
	Groups             []string
	MustChangePassword bool
}

// Create adds a user.
func (s *Service) Create(ctx context.Context, nu NewUser) (*User, error) {
	u, err := s.build(nu)
	if err != nil {
		return nil, err
	}
	if nu.Password != "" {
		if u.PasswordHash, err = s.hasher.Hash(ctx, nu.Password); err != nil {
			return nil, err
		}
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return nil, &PolicyError{Msg: fmt.Sprintf("the username %s is already taken", u.Username), Err: err}
		}
		return nil, err
	}
	return u, nil
}

// build validates a new user; a clear-text password is checked against the
// policy and left for the caller to hash.
func (s *Service) build(nu NewUser) (*User, error) {
	u, problems := s.check(nu)
	if len(problems) > 0 {
		return nil, &PolicyError{Msg: strings.Join(problems, "; ")}
	}
	return u, nil
}

// check validates a new user and lists every problem; the user is nil
// only when the username itself is not valid.
func (s *Service) check(nu NewUser) (*User, []string) {
	var problems []string
	problem := func(err error) {
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	username, err := NormalizeUsername(nu.Username, s.opt.Domain)
	if err != nil {
		problems = append(problems, ErrInvalidUsername.Error())
	}
	email, err := NormalizeEmail(nu.Email)
	problem(err)
	for _, r := range nu.Roles {
		if !ValidRole(r) {
			problem(policyErr("unknown role %q (known: %s, %s, %sGROUP)", r, RoleAdmin, RoleHelpdesk, HelpdeskScopePrefix))
		}
	}
	groups, err := NormalizeGroups(nu.Groups)
	problem(err)
	name := strings.TrimSpace(nu.DisplayName)
	if utf8.RuneCountInString(name) > 200 {
		problem(policyErr("the display name is longer than 200 characters"))
	}
	now := s.opt.Now().UTC()
	u := &User{
		ID: uuid.NewString(), Username: username, Email: email, DisplayName: name,
		Roles: nu.Roles, Groups: groups, MustChangePassword: nu.MustChangePassword, CreatedAt: now, UpdatedAt: now,
	}
	switch {
	case nu.Password != "" && nu.PasswordHash != "":
		problem(policyErr("give either a password or a password hash, not both"))
	case nu.Password != "":
		problem(s.CheckPasswordPolicy(u, nu.Password))
	case nu.PasswordHash != "":
		if err := ValidatePasswordHash(nu.PasswordHash); err != nil {
			problem(policyErr("the password hash is not an argon2id PHC string"))
		}
		u.PasswordHash = nu.PasswordHash
	}
	if username == "" {
		return nil, problems
	}
	return u, problems
}

// NormalizeEmail checks an address and lower-cases its domain; "" stays "".
func NormalizeEmail(in string) (string, error) {
	in = strings.TrimSpace(in)
	if in == "" {
		return "", nil
	}
	addr, err := mail.ParseAddress(in)
	if err != nil || addr.Address != in || addr.Name != "" {
		return "", policyErr("%q is not an email address", in)
	}
	local, host, _ := strings.Cut(addr.Address, "@")
	return local + "@" + strings.ToLower(host), nil
}

// CheckPasswordPolicy returns a PolicyError when password is not acceptable
// for u, whose username and display name are used (either may be empty; u
// may be nil when there is no user yet). It does not look at the password
// history, which needs the store: SetPassword and ChangePassword do.
func (s *Service) CheckPasswordPolicy(u *User, password string) error {
	if u == nil {
		u = &User{}
	}
	n := utf8.RuneCountInString(password)
	if n < s.opt.MinPasswordLength {
		return policyErr("the password must be at least %d characters long", s.opt.MinPasswordLength)
	}
	if n > 256 {
		return policyErr("the password must be at most 256 characters long")
	}
	var personal []personalWord
	if local, _, _ := strings.Cut(strings.ToLower(u.Username), "@"); local != "" {
		personal = append(personal, personalWord{local, "the password must not contain the username"})
	}
	for _, part := range nameParts(u.DisplayName) {
		personal = append(personal, personalWord{part, "the password must not contain your name"})
	}
	for _, part := range s.districtWords() {
		personal = append(personal, personalWord{part, "the password must not contain the district's name"})
	}
	if reason := guessableReason(password, personal); reason != "" {
		return policyErr("%s", reason)
	}
	return nil
}

// districtWords are the district's name, its words of 4 characters or
// more and the first label of its domain: the first guesses at a password
// of anyone in the district.
func (s *Service) districtWords() []string {
	words := nameParts(s.opt.District)
	if whole := strings.ReplaceAll(strings.ToLower(s.opt.District), " ", ""); utf8.RuneCountInString(whole) >= 4 {
		words = append(words, whole)
	}
	if label, _, _ := strings.Cut(s.opt.Domain, "."); utf8.RuneCountInString(label) >= 4 {
		words = append(words, strings.ToLower(label))
	}
	return words
}

// nameParts returns the lower-cased display name and each word of it, those
// of at least 4 characters: shorter ones ("Li", "de") would refuse too many
// unrelated passwords.
func nameParts(displayName string) []string {
	name := strings.ToLower(strings.TrimSpace(displayName))
	words := strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	var parts []string
	for _, p := range append([]string{name}, words...) {
		if utf8.RuneCountInString(p) >= 4 {
			parts = append(parts, p)
		}
	}
	return parts
}

// Authenticate checks a username and password. Every failure is
// ErrInvalidCredentials, and costs one argon2id verification whether the user
// exists or not, so neither the answer nor its timing tells them apart.
func (s *Service) Authenticate(ctx context.Context, username, password string) (*User, error) {
	name, err := NormalizeUsername(username, s.opt.Domain)
	if err != nil {
		if _, err := s.hasher.Verify(ctx, "", password); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: malformed username", ErrInvalidCredentials)
	}
	u, err := s.store.GetUserByUsername(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		if _, err := s.hasher.Verify(ctx, "", password); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: unknown user", ErrInvalidCredentials)
	}
	if err != nil {
		return nil, err
	}
	ok, err := s.hasher.Verify(ctx, u.PasswordHash, password)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return u, fmt.Errorf("%w: wrong password", ErrInvalidCredentials)
	case u.Disabled:
		return u, fmt.Errorf("%w: account disabled", ErrInvalidCredentials)
	}
	if needsRehash(u.PasswordHash, s.opt.Argon2) {
		if u.PasswordHash, err = s.hasher.Hash(ctx, password); err != nil {
			return nil, err
		}
		u.UpdatedAt = s.opt.Now().UTC()
		if err := s.store.UpdateUser(ctx, u); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// SetPassword replaces a user's password (an admin or reset action).
func (s *Service) SetPassword(ctx context.Context, id, password string, mustChange bool) error {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return err
	}
	return s.setPassword(ctx, u, password, mustChange)
}

// ChangePassword is the user's own change: current must be their password,
// and the account enabled (an ErrInvalidCredentials error otherwise), before
// password replaces it.
func (s *Service) ChangePassword(ctx context.Context, id, current, password string) error {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return err
	}
	ok, err := s.hasher.Verify(ctx, u.PasswordHash, current)
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("%w: wrong current password", ErrInvalidCredentials)
	case u.Disabled:
		return fmt.Errorf("%w: account disabled", ErrInvalidCredentials)
	}
	return s.setPassword(ctx, u, password, false)
}

func (s *Service) setPassword(ctx context.Context, u *User, password string, mustChange bool) error {
	if err := s.CheckPasswordPolicy(u, password); err != nil {
		return err
	}
	keep := s.opt.PasswordHistory
	var recent []string
	if keep > 0 {
		var err error
		if recent, err = s.store.PasswordHistory(ctx, u.ID, keep); err != nil {
			return err
		}
		// The current hash predates the history when it was set at
		// creation, by import or before the history was turned on.
		if u.PasswordHash != "" && (len(recent) == 0 || recent[0] != u.PasswordHash) {
			if err := s.store.AddPasswordHistory(ctx, u.ID, u.PasswordHash, keep); err != nil {
				return err
			}
			recent = append([]string{u.PasswordHash}, recent...)[:min(keep, len(recent)+1)]
		}
		for _, h := range recent {
			reused, err := s.hasher.Verify(ctx, h, password)
			if err != nil {
				return err
			}
			if reused {
				return policyErr("you used this password recently; choose a new one")
			}
		}
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	u.PasswordHash = hash
	u.MustChangePassword = mustChange
	u.UpdatedAt = s.opt.Now().UTC()
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return err
	}
	if keep > 0 {
		return s.store.AddPasswordHistory(ctx, u.ID, u.PasswordHash, keep)
	}
	return nil
}

// SetDisabled disables or re-enables sign-in for a user.
func (s *Service) SetDisabled(ctx context.Context, id string, disabled bool) error {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return err
	}
	u.Disabled = disabled
	u.UpdatedAt = s.opt.Now().UTC()
	return s.store.UpdateUser(ctx, u)
}

// EndSessions ends every session and access token the user holds now, on
// every replica: each checks SessionValid against the stored moment.
func (s *Service) EndSessions(ctx context.Context, id string) error {
	return s.store.EndSessions(ctx, id, s.opt.Now())
}

// Get returns a user by ID.
func (s *Service) Get(ctx context.Context, id string) (*User, error) { return s.store.GetUser(ctx, id) }

// Find returns a user by ID or by username (short name or UPN).
func (s *Service) Find(ctx context.Context, ref string) (*User, error) {
	if u, err := s.store.GetUser(ctx, ref); err == nil || !errors.Is(err, store.ErrNotFound) {
		return u, err
	}
	name, err := NormalizeUsername(ref, s.opt.Domain)
	if err != nil {
		return nil, store.ErrNotFound
	}
	return s.store.GetUserByUsername(ctx, name)
}

// List returns users matching q.
func (s *Service) List(ctx context.Context, q ListQuery) ([]User, error) {
	return s.store.ListUsers(ctx, q)
}

// Delete removes a user.
func (s *Service) Delete(ctx context.Context, id string) error { return s.store.DeleteUser(ctx, id) }

// BootstrapAdminName is the short name of the first administrator.
const BootstrapAdminName = "admin"

// EnsureBootstrapAdmin creates an administrator with a one-time password when
// the directory is empty, so a new install can be administered at all. The
// password is returned once and must be changed at first sign-in.
func (s *Service) EnsureBootstrapAdmin(ctx context.Context) (username, password string, err error) {
	n, err := s.store.CountUsers(ctx)
	if err != nil || n > 0 {
		return "", "", err
	}
	const displayName = "Gatehouse administrator"
	password = s.GeneratePassword(&User{Username: BootstrapAdminName + "@" + s.opt.Domain, DisplayName: displayName})
	u, err := s.Create(ctx, NewUser{
		Username: BootstrapAdminName, DisplayName: displayName,
		Password: password, Roles: []string{RoleAdmin}, MustChangePassword: true,
	})
	if err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return "", "", nil // another replica bootstrapped first
		}
		return "", "", err
	}
	return u.Username, password, nil
}

// GeneratePassword returns a random one-time password that the policy
// accepts for u, from an alphabet without look-alikes.
func (s *Service) GeneratePassword(u *User) string {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
	for {
		b := secrets.RandomToken(max(20, s.opt.MinPasswordLength))
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		// A random password can still contain a short username or name;
		// draw again.
		if s.CheckPasswordPolicy(u, string(b)) == nil {
			return string(b)
		}
	}
}

// SetRoles replaces a user's roles.
func (s *Service) SetRoles(ctx context.Context, id string, roles []string) error {
	for _, r := range roles {
		if !ValidRole(r) {
			return policyErr("unknown role %q (known: %s, %s, %sGROUP)", r, RoleAdmin, RoleHelpdesk, HelpdeskScopePrefix)
		}
	}
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return err
	}
	u.Roles = slices.Compact(slices.Sorted(slices.Values(roles)))
	u.UpdatedAt = s.opt.Now().UTC()
	return s.store.UpdateUser(ctx, u)
}

// NormalizeGroups lower-cases, checks and de-duplicates group names
// (letters, digits, "-" and "_"; at most 64 characters).
func NormalizeGroups(in []string) ([]string, error) {
	out := []string{}
	for _, g := range in {
		g = strings.ToLower(strings.TrimSpace(g))
		if g == "" {
			continue
		}
		if len(g) > 64 || strings.TrimFunc(g, func(r rune) bool {
			return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
		}) != "" {
			return nil, policyErr("the group name %q may use only letters, digits, - and _ (at most 64)", g)
		}
		out = append(out, g)
	}
	return slices.Compact(slices.Sorted(slices.Values(out))), nil
}

// SetGroups replaces a user's groups.
func (s *Service) SetGroups(ctx context.Context, id string, groups []string) error {
	groups, err := NormalizeGroups(groups)
	if err != nil {
		return err
	}
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return err
	}
	u.Groups = groups
	u.UpdatedAt = s.opt.Now().UTC()
	return s.store.UpdateUser(ctx, u)
}
