// Package wording words security methods, new passwords and what happened
// to a code for the pages that show them: registration, the challenge, My
// Account and password reset say the same thing the same way.
package wording

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
)

// What a person is told on every channel when their security info changes.
const (
	NoticeAdded    = "A security method was added to your account. If this wasn't you, contact the Help Desk."
	NoticeRemoved  = "A security method was removed from your account. If this wasn't you, contact the Help Desk."
	NoticePassword = "The password for your account was changed. If this wasn't you, contact the Help Desk."
	NoticeReset    = "The password for your account was reset. If this wasn't you, contact the Help Desk."
	NoticeCodes    = "New recovery codes were made for your account; the old ones no longer work. If this wasn't you, contact the Help Desk."
)

// NoticeCodeUsed is what a person is told on every channel when one of
// their recovery codes signs them in.
func NoticeCodeUsed(left int) string {
	return fmt.Sprintf("A recovery code was used to sign in to your account (%d left). If this wasn't you, contact the Help Desk; "+
		"if you lost a phone, remove it in My Account.", left)
}

var kindNames = map[mfa.Kind]string{mfa.App: "App", mfa.Phone: "Phone", mfa.Email: "Email", mfa.AltPhone: "Alternate phone"}

// KindName is a method kind's short name, as the registration steps show it.
func KindName(k mfa.Kind) string { return kindNames[k] }

// Label is a method kind's full name.
func Label(k mfa.Kind) string {
	return map[mfa.Kind]string{mfa.App: "Authenticator app", mfa.Phone: "Phone", mfa.AltPhone: "Alternate phone", mfa.Email: "Email"}[k]
}

// Describe is a method in one line: its kind, how codes reach it, and where.
func Describe(m mfa.Method) string {
	switch m.Kind {
	case mfa.App:
		return "Authenticator app"
	case mfa.Phone, mfa.AltPhone:
		how := " - text "
		if m.Factor == mfa.FactorVoice {
			how = " - call "
		}
		return Label(m.Kind) + how + mfa.MaskPhone(m.Phone)
	}
	return "Email " + mfa.MaskEmail(m.Email)
}

// Detail is what identifies a method beside its kind: the masked number or
// address (an app has nothing more to show).
func Detail(m mfa.Method) string {
	switch {
	case m.Kind.IsPhone():
		return mfa.MaskPhone(m.Phone)
	case m.Kind == mfa.Email:
		return mfa.MaskEmail(m.Email)
	}
	return ""
}

// Registered reports whether a method of kind k is among have.
func Registered(have []mfa.Method, k mfa.Kind) bool {
	for _, m := range have {
		if m.Kind == k {
			return true
		}
	}
	return false
}

// SendFailure turns a SendCode error into words for the person ("" when
// the code went out).
func SendFailure(logger *slog.Logger, r *http.Request, err error) string {
	var le *mfa.LimitError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &le):
		return le.Msg
	case errors.Is(err, mfa.ErrDelivery):
		logger.Warn("code delivery failed", "err", err, "request_id", httpx.RequestID(r.Context()))
		return mfa.ErrDelivery.Error()
	}
	logger.Error("sending a code", "err", err, "request_id", httpx.RequestID(r.Context()))
	return "We couldn't send the code. Try again in a moment."
}

// CheckFailure words a refused code; false for an unexpected error.
func CheckFailure(err error) (string, bool) {
	var le *mfa.LimitError
	switch {
	case errors.As(err, &le):
		return le.Msg, true
	case errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrCodeReused), errors.Is(err, mfa.ErrCodeExpired), errors.Is(err, mfa.ErrTooManyAttempts),
		errors.Is(err, mfa.ErrRecoveryCodeInvalid), errors.Is(err, mfa.ErrRecoveryCodeUsed):
		return err.Error(), true
	}
	return "", false
}

// Passwords sets a person's password.
type Passwords interface {
	SetPassword(ctx context.Context, id, password string, mustChange bool) error
}

// SetNewPassword sets the password typed twice in the form
// ("new_password", "confirm_password"). A mismatch or a password the
// policy refuses comes back as words for the person; any other failure as
// err.
func SetNewPassword(r *http.Request, users Passwords, userID string) (problem string, err error) {
	pw := r.PostFormValue("new_password")
	if pw != r.PostFormValue("confirm_password") {
		return "The passwords don't match.", nil
	}
	err = users.SetPassword(r.Context(), userID, pw, false)
	if msg, ok := PasswordProblem(err); ok {
		return msg, nil
	}
	return "", err
}

// PasswordProblem words a password the policy refused.
func PasswordProblem(err error) (string, bool) {
	var pe *identity.PolicyError
	if errors.As(err, &pe) {
		return "Choose a different password: " + pe.Msg + ".", true
	}
	return "", false
}

// Notifier tells a person about a change on their registered channels.
type Notifier interface {
	Methods(ctx context.Context, userID string) ([]mfa.Method, error)
	Notify(ctx context.Context, userID, email string, methods []mfa.Method, skip, text string)
}

// Tell sends text to every channel of u but skip.
func Tell(ctx context.Context, n Notifier, logger *slog.Logger, u *identity.User, skip, text string) {
	methods, err := n.Methods(ctx, u.ID)
	if err != nil {
		logger.Error("loading methods for a notice", "err", err)
		return
	}
	n.Notify(ctx, u.ID, u.Email, methods, skip, text)
}
