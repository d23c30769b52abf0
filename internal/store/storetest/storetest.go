// Package storetest is the contract of Gatehouse's persistent storage: one
// suite per store interface the domain packages declare, run unchanged on
// every backend (SQLite and PostgreSQL today), as Dex's storage/conformance
// does. A backend passes when the domain packages cannot tell it from
// another: the same answers, ErrNotFound for what is absent,
// ErrAlreadyExists for a taken key, all or nothing for a change and its
// audit record, and ErrUnavailable whenever it gives no answer.
package storetest

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/questions"
)

// Store is every storage contract of the domain packages, as one backend
// implements them all (questions' answers and MFA methods belong to users,
// and changes are audited in their own transaction).
type Store interface {
	identity.Store
	clients.Store
	keys.Store
	audit.Store
	oauth.GrantStore
	mfa.Store
	policy.Store
	questions.Store
	admin.Registrations
}

// Backend is one storage backend under test.
type Backend struct {
	// New returns a migrated, empty store that no other test sees.
	New func(t *testing.T) Store
	// Down returns a store that gives no answer.
	Down func(t *testing.T) Store
}

// Run runs every suite against b.
func Run(t *testing.T, b Backend) {
	if b.New == nil || b.Down == nil {
		t.Fatal("storetest: Backend needs New and Down")
	}
	suites := []struct {
		name  string
		tests map[string]func(*testing.T, Backend)
	}{
		{"Users", map[string]func(*testing.T, Backend){
			"CRUD": testUserCRUD, "Errors": testUserErrors, "List": testListUsers, "ListLimits": testListUsersLimits,
			"Upsert": testUpsertUsers, "UpsertAllOrNothing": testUpsertUsersAllOrNothing,
			"UpsertWithEvents": testUpsertUsersWithEvents, "EndSessions": testEndSessions,
			"PasswordHistory": testPasswordHistory,
		}},
		{"Clients", map[string]func(*testing.T, Backend){"CRUD": testClientCRUD, "Errors": testClientErrors}},
		{"Keys", map[string]func(*testing.T, Backend){"Lifecycle": testKeys}},
		{"Audit", map[string]func(*testing.T, Backend){
			"Events": testAuditEvents, "Defaults": testAuditEventDefaults, "Limits": testAuditLimits,
			"DeleteBefore": testDeleteEventsBefore,
		}},
		{"Grants", map[string]func(*testing.T, Backend){
			"RefreshTokens": testRefreshTokens, "DeactivateRace": testDeactivateRefreshTokenRace,
			"RevokeAndExpire": testRevokeAndExpire, "Transaction": testGrantTransaction,
		}},
		{"MFA", map[string]func(*testing.T, Backend){
			"Methods": testMethods, "DefaultMethod": testDefaultMethod, "Reset": testResetMethods, "State": testMFAState,
			"Registrations": testRegistrations, "RecoveryCodes": testRecoveryCodes, "RecoveryCodeRace": testRecoveryCodeRace,
			"ResetVoidsRecoveryCodes": testResetVoidsRecoveryCodes, "RecoveryCodesAudited": testRecoveryCodesAudited,
		}},
		{"Policies", map[string]func(*testing.T, Backend){
			"SaveAndList": testPolicies, "AuditedInTransaction": testPolicyAudit,
		}},
		{"Questions", map[string]func(*testing.T, Backend){"Answers": testSecurityAnswers}},
		{"Unavailable", map[string]func(*testing.T, Backend){"EveryMethod": testUnavailable}},
	}
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			for _, name := range slices.Sorted(maps.Keys(s.tests)) {
				t.Run(name, func(t *testing.T) { s.tests[name](t, b) })
			}
		})
	}
}

// t0 has nanoseconds and a non-UTC zone, to check the store normalises both.
var t0 = time.Date(2024, 9, 1, 8, 30, 0, 123456789, time.FixedZone("EDT", -4*3600))

// stored is t as a store gives it back: UTC, to the microsecond.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func mustEqual[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func mustIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func createUser(t *testing.T, db Store, id string) {
	t.Helper()
	u := newUser(id, id+"@district.example")
	must(t, db.CreateUser(t.Context(), &u))
}
