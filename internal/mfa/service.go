package mfa

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clientip"
	"github.com/gatehouse/gatehouse/internal/delivery"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store"
)

const limitWindow = time.Hour

// LimitError is a refused send or check, worded for the person.
type LimitError struct {
	Msg  string
	Wait time.Duration // for a cooldown: how long until the next try
}

func (e *LimitError) Error() string { return e.Msg }

// ErrDelivery means the provider refused or failed to take a message.
var ErrDelivery = errors.New("We couldn't send the code. Check the number or address, or try another method.")

// Service registers methods and sends and checks codes, within limits, with
// every step audited.
type Service struct {
	store Store
	box   *secrets.Box
	codes *Codes
	// accessCodes are the Help Desk's temporary access codes.
	accessCodes *Codes
	// recoveryKey keys the hashes recovery codes are stored as.
	recoveryKey []byte
	totp        *TOTPVerifier
	limiter     *Limiter
	sender      delivery.Sender
	audit       *audit.Recorder
	district    string
	codeTTL     time.Duration
	// addressScale multiplies the per-address limits for an address.
	addressScale func(addr string) int
}

// NewService wires the MFA primitives.
func NewService(st Store, box *secrets.Box, kv store.KV, codeKey []byte, sender delivery.Sender, rec *audit.Recorder,
	district string, codeTTL time.Duration, attempts int) *Service {
	return &Service{
		store: st, box: box, sender: sender, audit: rec, district: district, codeTTL: codeTTL,
		codes:        &Codes{KV: kv, Key: codeKey, TTL: codeTTL, MaxAttempts: attempts},
		accessCodes:  &Codes{KV: kv, Key: codeKey, TTL: AccessCodeLifetime, MaxAttempts: attempts},
		recoveryKey:  secrets.Derive(codeKey, "recovery-codes"),
		totp:         &TOTPVerifier{KV: kv, Now: time.Now},
		limiter:      &Limiter{KV: kv},
		addressScale: func(string) int { return 1 },
	}
}

// ScaleAddressLimits multiplies the per-address limits by scale(addr), for
// addresses a whole school shares.
func (s *Service) ScaleAddressLimits(scale func(addr string) int) { s.addressScale = scale }

// addressLimit is lim scaled for addr.
func (s *Service) addressLimit(name string, lim int, addr string) Limit {
	return Limit{name, lim * max(s.addressScale(addr), 1), limitWindow}
}

// AccessCodeLifetime is how long a temporary access code from the Help
// Desk works: a school day.
const AccessCodeLifetime = 8 * time.Hour

func accessScope(userID string) string { return "access-code:" + userID }

// IssueAccessCode gives a person who lost every method a one-time code the
// Help Desk reads out; it replaces any earlier one.
func (s *Service) IssueAccessCode(ctx context.Context, userID string) (string, error) {
	return s.accessCodes.Issue(ctx, accessScope(userID))
}

// AccessCodePending reports whether a temporary access code waits to be used.
func (s *Service) AccessCodePending(ctx context.Context, userID string) (bool, error) {
	n, err := s.accessCodes.AttemptsLeft(ctx, accessScope(userID))
	return n > 0, err
}

// CheckAccessCode uses up a temporary access code.
func (s *Service) CheckAccessCode(ctx context.Context, userID, code, ip string, lim Limits) error {
	if err := s.checkVerifyLimits(ctx, userID, ip, lim); err != nil {
		return err
	}
	return s.accessCodes.Verify(ctx, accessScope(userID), code)
}

// Methods lists a user's registered methods.
func (s *Service) Methods(ctx context.Context, userID string) ([]Method, error) {
	return s.store.ListMethods(ctx, userID)
}

// State returns a user's enrollment state.
func (s *Service) State(ctx context.Context, userID string) (*State, error) {
	return s.store.GetState(ctx, userID)
}

// SaveState stores a user's enrollment state.
func (s *Service) SaveState(ctx context.Context, st *State) error { return s.store.SaveState(ctx, st) }

// SealSecret encrypts a TOTP secret for a flow or the database.
func (s *Service) SealSecret(secret string) []byte { return s.box.Seal([]byte(secret), []byte("totp")) }

// OpenSecret decrypts a sealed TOTP secret.
func (s *Service) OpenSecret(sealed []byte) (string, error) {
	b, err := s.box.Open(sealed, []byte("totp"))
	return string(b), err
}

// Register stores a verified method; the first one becomes the default.
func (s *Service) Register(ctx context.Context, m *Method, actor, ip string) error {
	existing, err := s.store.ListMethods(ctx, m.UserID)
	if err != nil {
		return err
	}
	m.ID, m.CreatedAt, m.IsDefault = uuid.NewString(), time.Now().UTC(), len(existing) == 0
	if err := s.store.CreateMethod(ctx, m); err != nil {
		return err
	}
	s.audit.Record(ctx, audit.Event{Type: "mfa.method_added", ActorID: actor, SubjectID: m.UserID, IP: ip,
		Details: map[string]string{"kind": string(m.Kind), "method_id": m.ID, "default": fmt.Sprint(m.IsDefault)}})
	return nil
}

// CodeRequest describes one code to send.
type CodeRequest struct {
	Scope  string // what the code proves: binds it to one flow and destination
	UserID string
	IP     string
	Factor Factor // sms, voice or email
	To     string // E.164 number or email address
	// Countries are the regions numbers may be in: checked at every send,
	// with the number's type, so narrowing the list applies to numbers
	// registered before.
	Countries []string
	// Decoy runs the same checks and issues a code but delivers it nowhere
	// (To is empty): a password reset for someone without the chosen method
	// looks and counts the same as one with it.
	Decoy bool
}

var limitWords = map[Factor]string{
	FactorSMS:   "You've hit our limit on text verification codes. Try again later, or use another method.",
	FactorVoice: "You've hit our limit on verification calls. Try again later, or use another method.",
	FactorEmail: "You've hit our limit on email verification codes. Try again later, or use another method.",
}

// SendCode issues a code for the scope and sends it, unless a cooldown or a
// limit says no. Limits are counted before anything is sent, so refused
// requests cost nothing.
func (s *Service) SendCode(ctx context.Context, r CodeRequest, lim Limits) error {
	refuse := func(reason string, err *LimitError) error {
		s.audit.Record(ctx, audit.Event{Type: "mfa.limit_reached", Outcome: "failure", SubjectID: r.UserID, IP: r.IP,
			Details: map[string]string{"factor": string(r.Factor), "limit": reason}})
		return err
	}
	var wait time.Duration
	if lim.ResendCooldown > 0 {
		var err error
		if wait, err = s.limiter.Cooldown(ctx, "resend", r.Scope, lim.ResendCooldown); err != nil {
			return err
		}
	}
	if wait > 0 {
		secs := int(wait.Round(time.Second).Seconds())
		return refuse("resend cooldown", &LimitError{Msg: fmt.Sprintf("We just sent a code. You can ask for another in %d seconds.", max(secs, 1)), Wait: wait})
	}
	var country string
	if r.Factor != FactorEmail && !r.Decoy {
		_, region, err := ParsePhone("", r.To, r.Factor, r.Countries)
		if err != nil {
			reason := "country"
			if errors.As(err, new(ErrPhoneType)) {
				reason = "number type"
			}
			return refuse(reason, &LimitError{Msg: err.Error()})
		}
		country = region
	}
	checks := []Check{
		{Limit{"send-user-" + string(r.Factor), lim.SendsPerUser, limitWindow}, r.UserID},
	}
	if !r.Decoy {
		checks = append(checks, Check{Limit{"send-dest", lim.SendsPerDestination, limitWindow}, s.destinationMAC(r.To)})
	}
	if country != "" {
		checks = append(checks, Check{Limit{"send-country", lim.SendsPerCountry, limitWindow}, country})
	}
	exceeded, err := s.limiter.AllowAll(ctx, checks...)
	if err != nil {
		return err
	}
	// The address is counted only for sends its own limits allowed, so one
	// person past theirs uses up nothing of a school's shared address.
	if exceeded == nil {
		exceeded, err = s.limiter.AllowAll(ctx, Check{s.addressLimit("send-ip", lim.SendsPerIP, r.IP), clientip.LimitKey(r.IP)})
		if err != nil {
			return err
		}
	}
	if exceeded != nil {
		return refuse(exceeded.Name, &LimitError{Msg: limitWords[r.Factor]})
	}
	code, err := s.codes.Issue(ctx, r.Scope)
	if err != nil {
		return err
	}
	if r.Decoy {
		s.audit.Record(ctx, audit.Event{Type: "mfa.code_withheld", SubjectID: r.UserID, IP: r.IP,
			Details: map[string]string{"factor": string(r.Factor), "reason": "nothing registered to send it to"}})
		return nil
	}
	channel := map[Factor]delivery.Channel{FactorSMS: delivery.SMS, FactorVoice: delivery.Voice, FactorEmail: delivery.Email}[r.Factor]
	if err := s.sender.Send(ctx, delivery.CodeMessage(channel, s.district, r.To, code, s.codeTTL)); err != nil {
		s.audit.Record(ctx, audit.Event{Type: "mfa.code_send_failed", Outcome: "failure", SubjectID: r.UserID, IP: r.IP,
			Details: map[string]string{"factor": string(r.Factor), "error": err.Error()}})
		return fmt.Errorf("%w (%v)", ErrDelivery, err)
	}
	s.audit.Record(ctx, audit.Event{Type: "mfa.code_sent", SubjectID: r.UserID, IP: r.IP,
		Details: map[string]string{"factor": string(r.Factor), "to": maskFor(r.Factor, r.To)}})
	return nil
}

// destinationMAC keys the per-number and per-address limit: a plain hash
// in Redis could be matched against every phone number in a few minutes.
func (s *Service) destinationMAC(to string) string {
	h := hmac.New(sha256.New, s.codes.Key)
	h.Write([]byte("destination:" + to))
	return hex.EncodeToString(h.Sum(nil))
}

func maskFor(f Factor, to string) string {
	if f == FactorEmail {
		return MaskEmail(to)
	}
	return MaskPhone(to)
}

// checkVerifyLimits counts one verification against the per-user and per-IP
// limits, so no one can guess codes faster than the limits allow. The
// address is counted only while the user is within theirs: one student
// entering wrong codes cannot use up the school's shared address.
func (s *Service) checkVerifyLimits(ctx context.Context, userID, ip string, lim Limits) error {
	exceeded, err := s.limiter.AllowAll(ctx, Check{Limit{"verify-user", lim.VerifiesPerUser, limitWindow}, userID})
	if err == nil && exceeded == nil {
		exceeded, err = s.limiter.AllowAll(ctx, Check{s.addressLimit("verify-ip", lim.VerifiesPerIP, ip), clientip.LimitKey(ip)})
	}
	if err != nil {
		return err
	}
	if exceeded != nil {
		s.audit.Record(ctx, audit.Event{Type: "mfa.limit_reached", Outcome: "failure", SubjectID: userID, IP: ip,
			Details: map[string]string{"limit": exceeded.Name}})
		return &LimitError{Msg: "You've entered too many codes. Wait an hour and try again, or contact the Help Desk."}
	}
	return nil
}

// CheckCode verifies a sent code for the scope.
func (s *Service) CheckCode(ctx context.Context, scope, code, userID, ip string, lim Limits) error {
	if err := s.checkVerifyLimits(ctx, userID, ip, lim); err != nil {
		return err
	}
	return s.codes.Verify(ctx, scope, code)
}

// CheckTOTP verifies an authenticator-app code against a sealed secret.
// Used steps are keyed by the secret itself, so a code confirmed during
// registration cannot be replayed at the next sign-in either.
func (s *Service) CheckTOTP(ctx context.Context, sealed []byte, code, userID, ip string, lim Limits) error {
	return s.CheckAnyTOTP(ctx, [][]byte{sealed}, code, userID, ip, lim)
}

// CheckAnyTOTP verifies a code against any of a person's authenticator
// apps, counting one verification: where every app is one channel (a
// password reset), the person need not say which app they opened.
func (s *Service) CheckAnyTOTP(ctx context.Context, sealed [][]byte, code, userID, ip string, lim Limits) error {
	if err := s.checkVerifyLimits(ctx, userID, ip, lim); err != nil {
		return err
	}
	failure := ErrInvalidCode
	for _, one := range sealed {
		secret, err := s.OpenSecret(one)
		if err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(secret))
		err = s.totp.Verify(ctx, hex.EncodeToString(sum[:16]), secret, code)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrInvalidCode) {
			failure = err
		}
	}
	return failure
}

// MethodsResetAt is when an admin last removed every method of a user.
func (s *Service) MethodsResetAt(ctx context.Context, userID string) (*time.Time, error) {
	st, err := s.store.GetState(ctx, userID)
	if err != nil {
		return nil, err
	}
	return st.MethodsResetAt, nil
}

// Notify tells a person about a change to their account on every channel
// that can receive text except skip (the method or address that changed), so
// someone who took over one channel cannot hide the change from the others.
// profileEmail is the address on the account, used too.
func (s *Service) Notify(ctx context.Context, userID, profileEmail string, methods []Method, skip, text string) {
	sent := map[string]bool{skip: true}
	send := func(ch delivery.Channel, to string) {
		if to == "" || sent[to] {
			return
		}
		sent[to] = true
		if err := s.sender.Send(ctx, delivery.NoticeMessage(ch, s.district, to, text)); err != nil {
			s.audit.Record(ctx, audit.Event{Type: "notice.failed", Outcome: "failure", SubjectID: userID,
				Details: map[string]string{"channel": string(ch), "error": err.Error()}})
			return
		}
		s.audit.Record(ctx, audit.Event{Type: "notice.sent", SubjectID: userID,
			Details: map[string]string{"channel": string(ch), "to": maskFor(map[bool]Factor{true: FactorEmail, false: FactorSMS}[ch == delivery.Email], to)}})
	}
	send(delivery.Email, profileEmail)
	for _, m := range methods {
		switch {
		case m.Kind == Email:
			send(delivery.Email, m.Email)
		case m.Kind.IsPhone():
			send(delivery.SMS, m.Phone)
		}
	}
}

// SetDefault makes a method the default sign-in method.
func (s *Service) SetDefault(ctx context.Context, userID, methodID string) error {
	return s.store.SetDefaultMethod(ctx, userID, methodID)
}

// Delete removes one method; when it was the default, the oldest remaining
// method becomes the default.
func (s *Service) Delete(ctx context.Context, userID, methodID, actor, ip string) error {
	methods, err := s.store.ListMethods(ctx, userID)
	if err != nil {
		return err
	}
	var wasDefault bool
	for _, m := range methods {
		wasDefault = wasDefault || m.ID == methodID && m.IsDefault
	}
	if err := s.store.DeleteMethod(ctx, userID, methodID); err != nil {
		return err
	}
	s.audit.Record(ctx, audit.Event{Type: "mfa.method_deleted", ActorID: actor, SubjectID: userID, IP: ip,
		Details: map[string]string{"method_id": methodID}})
	if wasDefault {
		for _, m := range methods {
			if m.ID != methodID {
				return s.store.SetDefaultMethod(ctx, userID, m.ID)
			}
		}
	}
	return nil
}
