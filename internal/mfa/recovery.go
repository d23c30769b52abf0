package mfa

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// RecoveryCodeCount is how many codes one set holds.
const RecoveryCodeCount = 10

// recoveryAlphabet is Crockford's base32 in lower case: no i, l, o or u,
// so a code read aloud or copied by hand has no look-alikes, and each of
// the ten characters carries 5 bits (50 in all).
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

const recoveryCodeLen = 10

// ErrRecoveryCodeUsed is a recovery code typed a second time.
var ErrRecoveryCodeUsed = errors.New("That recovery code was already used. Each code works once; try another.")

// ErrRecoveryCodeInvalid is a recovery code that is not one of the person's.
var ErrRecoveryCodeInvalid = errors.New("That recovery code didn't work. Check it and try again, or try another code.")

// newRecoveryCode is ten random characters, shown as "xxxxx-xxxxx".
func newRecoveryCode() string {
	b := make([]byte, recoveryCodeLen)
	rand.Read(b) // crypto/rand never fails on supported platforms
	out := make([]byte, 0, recoveryCodeLen+1)
	for i, c := range b {
		if i == recoveryCodeLen/2 {
			out = append(out, '-')
		}
		// 256 is a multiple of 32, so taking the low 5 bits is unbiased.
		out = append(out, recoveryAlphabet[c&31])
	}
	return string(out)
}

// NormalizeRecoveryCode reads a typed code the way a person means it:
// case, spaces and dashes do not matter, and the look-alikes Crockford's
// alphabet leaves out are read as the characters they resemble. It
// reports false for anything that cannot be a code.
func NormalizeRecoveryCode(typed string) (string, bool) {
	var b strings.Builder
	for _, c := range strings.ToLower(typed) {
		switch c {
		case ' ', '-', '\t':
			continue
		case 'o':
			c = '0'
		case 'i', 'l':
			c = '1'
		}
		if !strings.ContainsRune(recoveryAlphabet, c) || b.Len() == recoveryCodeLen {
			return "", false
		}
		b.WriteRune(c)
	}
	if b.Len() != recoveryCodeLen {
		return "", false
	}
	return b.String(), true
}

// recoveryHash is the stored form of a normalised code. A keyed hash
// (HMAC-SHA256 under a key derived from the master key) rather than a
// slow password hash: a code has 50 random bits, so even with the key an
// offline search of one hash costs 2^49 tries on average, and without the
// key a stolen database reveals nothing. A fast hash also lets the
// database find the code by equality, which is what makes a use one
// conditional write. The user's ID is bound in, so a hash copied to
// another account does not match there.
func (s *Service) recoveryHash(userID, code string) string {
	m := hmac.New(sha256.New, s.recoveryKey)
	m.Write([]byte(userID + "\x00" + code))
	return hex.EncodeToString(m.Sum(nil))
}

// NewRecoveryCodes makes a fresh set of codes for a person, voiding any
// earlier set, and returns them to be shown once: only their hashes are
// kept.
func (s *Service) NewRecoveryCodes(ctx context.Context, userID, actor, ip string) ([]string, error) {
	codes := make([]string, RecoveryCodeCount)
	hashes := make([]string, RecoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		normal, _ := NormalizeRecoveryCode(codes[i])
		hashes[i] = s.recoveryHash(userID, normal)
	}
	generated := audit.Event{Type: "mfa.recovery_codes_generated", ActorID: actor, SubjectID: userID, IP: ip,
		Details: map[string]string{"count": strconv.Itoa(RecoveryCodeCount)}}
	if err := s.store.ReplaceRecoveryCodes(ctx, userID, hashes, time.Now().UTC(), generated); err != nil {
		return nil, fmt.Errorf("mfa: new recovery codes: %w", err)
	}
	return codes, nil
}

// RecoveryCodes tells how many of a person's codes are left.
func (s *Service) RecoveryCodes(ctx context.Context, userID string) (RecoveryStatus, error) {
	return s.store.RecoveryCodes(ctx, userID)
}

// UseRecoveryCode spends one of a person's recovery codes as a second
// factor and reports how many are left. Every try counts against the
// same verify limits as any other code, before it is checked, so codes
// cannot be guessed faster than app or text codes can. The code is found
// by its keyed hash: what the database compares is a MAC the guesser
// cannot steer, so the comparison's timing tells nothing about the codes.
func (s *Service) UseRecoveryCode(ctx context.Context, userID, code, ip string, lim Limits) (int, error) {
	if err := s.checkVerifyLimits(ctx, userID, ip, lim); err != nil {
		return 0, err
	}
	normal, ok := NormalizeRecoveryCode(code)
	if !ok {
		return 0, ErrRecoveryCodeInvalid
	}
	used := audit.Event{Type: "mfa.recovery_code_used", ActorID: userID, SubjectID: userID, IP: ip, Details: map[string]string{}}
	left, err := s.store.UseRecoveryCode(ctx, userID, s.recoveryHash(userID, normal), time.Now().UTC(), used)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, ErrRecoveryCodeInvalid
	case errors.Is(err, store.ErrConflict):
		return 0, ErrRecoveryCodeUsed
	case err != nil:
		return 0, fmt.Errorf("mfa: use recovery code: %w", err)
	}
	return left, nil
}
