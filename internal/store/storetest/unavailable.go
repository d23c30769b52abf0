package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/questions"
	"github.com/gatehouse/gatehouse/internal/store"
)

// A store that gives no answer must never be read as "absent", "taken" or
// "no": every method fails with an error store.Unavailable recognises, so
// the caller says "try again" (503) rather than anything a user could act
// on wrongly.
func testUnavailable(t *testing.T, b Backend) {
	db := b.Down(t)
	ctx := t.Context()
	user := newUser("u1", "alice@district.example")
	client := clients.Client{ID: "app"}
	key := keys.SigningKey{ID: "k1", Algorithm: "ES256"}
	token := newToken("s1", "r1", "alice", t0)
	method := newMethods("u1")[0]
	record := newPolicy("default", 0)
	calls := map[string]func() error{
		"CreateUser":        func() error { return db.CreateUser(ctx, &user) },
		"GetUser":           func() error { return err2(db.GetUser(ctx, "u1")) },
		"GetUserByUsername": func() error { return err2(db.GetUserByUsername(ctx, "alice@district.example")) },
		"ListUsers":         func() error { return err2(db.ListUsers(ctx, identity.ListQuery{})) },
		"UpdateUser":        func() error { return db.UpdateUser(ctx, &user) },
		"EndSessions":       func() error { return db.EndSessions(ctx, "u1", t0) },
		"DeleteUser":        func() error { return db.DeleteUser(ctx, "u1") },
		"CountUsers":        func() error { return err2(db.CountUsers(ctx)) },
		"UpsertUsers": func() error {
			_, _, err := db.UpsertUsers(ctx, []identity.User{user}, nil)
			return err
		},
		"PasswordHistory":    func() error { return err2(db.PasswordHistory(ctx, "u1", 3)) },
		"AddPasswordHistory": func() error { return db.AddPasswordHistory(ctx, "u1", "h", 3) },

		"CreateClient": func() error { return db.CreateClient(ctx, &client) },
		"GetClient":    func() error { return err2(db.GetClient(ctx, "app")) },
		"ListClients":  func() error { return err2(db.ListClients(ctx)) },
		"UpdateClient": func() error { return db.UpdateClient(ctx, &client) },
		"DeleteClient": func() error { return db.DeleteClient(ctx, "app") },

		"CreateKey":               func() error { return db.CreateKey(ctx, &key) },
		"ListKeys":                func() error { return err2(db.ListKeys(ctx)) },
		"RetireKeys":              func() error { return db.RetireKeys(ctx, "ES256", "k1", t0) },
		"DeleteKeysRetiredBefore": func() error { return err2(db.DeleteKeysRetiredBefore(ctx, t0)) },

		"AppendEvent":        func() error { return db.AppendEvent(ctx, &audit.Event{Type: "t"}) },
		"ListEvents":         func() error { return err2(db.ListEvents(ctx, audit.Filter{})) },
		"DeleteEventsBefore": func() error { return err2(db.DeleteEventsBefore(ctx, t0)) },

		"CreateRefreshToken":         func() error { return db.CreateRefreshToken(ctx, &token) },
		"GetRefreshToken":            func() error { return err2(db.GetRefreshToken(ctx, "s1")) },
		"DeactivateRefreshToken":     func() error { return db.DeactivateRefreshToken(ctx, "s1") },
		"DeleteRefreshToken":         func() error { return db.DeleteRefreshToken(ctx, "s1") },
		"RevokeGrant":                func() error { return db.RevokeGrant(ctx, "r1") },
		"RevokeSubject":              func() error { return db.RevokeSubject(ctx, "alice") },
		"DeleteExpiredRefreshTokens": func() error { return err2(db.DeleteExpiredRefreshTokens(ctx, t0)) },
		"InTransaction": func() error {
			return db.InTransaction(ctx, func(tx oauth.GrantStore) error { return err2(tx.GetRefreshToken(ctx, "s1")) })
		},

		"CreateMethod":         func() error { return db.CreateMethod(ctx, &method) },
		"ListMethods":          func() error { return err2(db.ListMethods(ctx, "u1")) },
		"SetDefaultMethod":     func() error { return db.SetDefaultMethod(ctx, "u1", method.ID) },
		"DeleteMethod":         func() error { return db.DeleteMethod(ctx, "u1", method.ID) },
		"ResetMethods":         func() error { return db.ResetMethods(ctx, "u1", t0, audit.Event{Type: "t"}) },
		"ReplaceRecoveryCodes": func() error { return db.ReplaceRecoveryCodes(ctx, "u1", []string{"h"}, t0, audit.Event{Type: "t"}) },
		"UseRecoveryCode":      func() error { return err2(db.UseRecoveryCode(ctx, "u1", "h", t0, audit.Event{Type: "t"})) },
		"RecoveryCodes":        func() error { return err2(db.RecoveryCodes(ctx, "u1")) },
		"GetState":             func() error { return err2(db.GetState(ctx, "u1")) },
		"SaveState":            func() error { return db.SaveState(ctx, &mfa.State{UserID: "u1"}) },

		"ListPolicies":  func() error { return err2(db.ListPolicies(ctx)) },
		"PolicyVersion": func() error { return err2(db.PolicyVersion(ctx)) },
		"SavePolicy":    func() error { return db.SavePolicy(ctx, &record, nil) },
		"DeletePolicy":  func() error { return db.DeletePolicy(ctx, "default", "admin", audit.Event{Type: "t"}) },
		"PolicyHistory": func() error { return err2(db.PolicyHistory(ctx, "default")) },

		"SaveAnswers":   func() error { return db.SaveAnswers(ctx, "u1", []questions.Answer{{QuestionID: "q01", Hash: "h"}}) },
		"ListAnswers":   func() error { return err2(db.ListAnswers(ctx, "u1")) },
		"DeleteAnswers": func() error { return db.DeleteAnswers(ctx, "u1") },

		"MethodKindCounts": func() error { return err2(db.MethodKindCounts(ctx)) },
		"ListStates":       func() error { return err2(db.ListStates(ctx)) },
	}
	for name, call := range calls {
		err := call()
		if !store.Unavailable(err) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrAlreadyExists) ||
			errors.Is(err, store.ErrConflict) {
			t.Errorf("%s on a store that is down = %v, want store.ErrUnavailable", name, err)
		}
	}

	// A request whose deadline passed while it waited counts too.
	live := b.New(t)
	past, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	if _, err := live.GetUser(past, "u1"); !store.Unavailable(err) || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser past its deadline = %v, want store.Unavailable", err)
	}
	if _, err := live.ListPolicies(past); !store.Unavailable(err) {
		t.Errorf("ListPolicies past its deadline = %v, want store.Unavailable", err)
	}
}
