package flow_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/store/redisstore"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

func TestNext(t *testing.T) {
	tests := []struct {
		name string
		f    flow.Flow
		want flow.Step
	}{
		{"fresh", flow.Flow{}, flow.StepAuthenticate},
		{"no user despite facts", flow.Flow{MustChangePassword: true, ACR: assurance.MFA, Consented: true}, flow.StepAuthenticate},
		{"must change", flow.Flow{UserID: "u", MustChangePassword: true, ACR: assurance.Password}, flow.StepChangePassword},
		{"must change before mfa", flow.Flow{UserID: "u", MustChangePassword: true, RequiredACR: assurance.MFA}, flow.StepChangePassword},
		{"pwd below mfa", flow.Flow{UserID: "u", ACR: assurance.Password, RequiredACR: assurance.MFA, HasMethods: true}, flow.StepMFA},
		{"mfa required, nothing to challenge", flow.Flow{UserID: "u", ACR: assurance.Password, RequiredACR: assurance.MFA}, flow.StepRefuse},
		{"mfa required, access code to challenge", flow.Flow{UserID: "u", ACR: assurance.Password, RequiredACR: assurance.MFA, AccessCode: true}, flow.StepMFA},
		{"registration put off, app wants mfa", flow.Flow{UserID: "u", ACR: assurance.Password, RequiredACR: assurance.MFA,
			Enroll: &flow.Enrollment{Finished: true}}, flow.StepRefuse},
		{"policy requires mfa", flow.Flow{UserID: "u", ACR: assurance.Password, PolicyMFA: true, HasMethods: true}, flow.StepMFA},
		{"nothing registered: enroll first", flow.Flow{UserID: "u", ACR: assurance.Password, PolicyMFA: true,
			Enroll: &flow.Enrollment{Plan: []string{"app", "phone"}}}, flow.StepEnroll},
		{"partly registered: prove the method, then enroll", flow.Flow{UserID: "u", ACR: assurance.Password, HasMethods: true,
			Enroll: &flow.Enrollment{Plan: []string{"phone"}}}, flow.StepMFA},
		{"proved, then enroll", flow.Flow{UserID: "u", ACR: assurance.MFA, HasMethods: true,
			Enroll: &flow.Enrollment{Plan: []string{"phone"}}}, flow.StepEnroll},
		{"enrollment finished", flow.Flow{UserID: "u", ACR: assurance.MFA, PolicyMFA: true,
			Enroll: &flow.Enrollment{Finished: true}}, flow.StepIssue},
		{"skipped within grace", flow.Flow{UserID: "u", ACR: assurance.Password, Enroll: &flow.Enrollment{Finished: true}}, flow.StepIssue},
		{"mfa before consent", flow.Flow{UserID: "u", ACR: assurance.Password, RequiredACR: assurance.MFA, RequireConsent: true, HasMethods: true}, flow.StepMFA},
		{"mfa done", flow.Flow{UserID: "u", ACR: assurance.MFA, RequiredACR: assurance.MFA}, flow.StepIssue},
		{"above required", flow.Flow{UserID: "u", ACR: assurance.MFA, RequiredACR: assurance.Password}, flow.StepIssue},
		{"consent", flow.Flow{UserID: "u", ACR: assurance.Password, RequireConsent: true}, flow.StepConsent},
		{"consented", flow.Flow{UserID: "u", ACR: assurance.Password, RequireConsent: true, Consented: true}, flow.StepIssue},
		{"no requirements", flow.Flow{UserID: "u", ACR: assurance.Password}, flow.StepIssue},
	}
	for _, tt := range tests {
		if got := tt.f.Next(); got != tt.want {
			t.Errorf("%s: Next() = %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestProofNeedsMFA: a session below MFA meets a policy requiring it
// only while registration was put off and nothing has been registered since.
func TestProofNeedsMFA(t *testing.T) {
	tests := []struct {
		name                  string
		p                     flow.Proof
		policyMFA, hasMethods bool
		want                  bool
	}{
		{"mfa session", flow.Proof{ACR: assurance.MFA}, true, true, false},
		{"policy does not require it", flow.Proof{ACR: assurance.Password}, false, true, false},
		{"password-only session", flow.Proof{ACR: assurance.Password}, true, true, true},
		{"put off, still nothing registered", flow.Proof{ACR: assurance.Password, Deferred: true}, true, false, false},
		{"put off, a method registered since", flow.Proof{ACR: assurance.Password, Deferred: true}, true, true, true},
	}
	for _, tt := range tests {
		if got := tt.p.NeedsMFA(tt.policyMFA, tt.hasMethods); got != tt.want {
			t.Errorf("%s: NeedsMFA = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestFlowsFromASession: the sign-ins My Account starts from a session go
// to the step the guide describes.
func TestFlowsFromASession(t *testing.T) {
	now := time.Now()
	since := now.Add(-5 * time.Minute)
	pwd := flow.Proof{UserID: "u", AuthTime: now, AMR: []string{assurance.AMRPassword}, ACR: assurance.Password, HasMethods: true}
	stale := flow.Proof{UserID: "u", AuthTime: now.Add(-time.Hour), AMR: []string{assurance.AMRPassword, assurance.AMROTP, assurance.AMRMFA},
		ACR: assurance.MFA, MFAAt: now.Add(-time.Hour), HasMethods: true}
	recent := stale
	recent.MFAAt = now
	tests := []struct {
		name string
		f    *flow.Flow
		want flow.Step // "" for no sign-in needed
	}{
		{"step up with methods: challenge", flow.StepUp("/account", "a@x", pwd), flow.StepMFA},
		{"step up without methods: password again", flow.StepUp("/account", "a@x", flow.Proof{UserID: "u", ACR: assurance.Password}), flow.StepAuthenticate},
		{"change, second factor recent", flow.Recent("/account", "a@x", recent, true, false, since), ""},
		{"change, second factor stale: challenge", flow.Recent("/account", "a@x", stale, true, false, since), flow.StepMFA},
		{"change, no methods, access code pending: the code", flow.Recent("/account", "a@x", pwd, false, true, since), flow.StepMFA},
		{"change, no methods, password recent", flow.Recent("/account", "a@x", pwd, false, false, since), ""},
		{"change, no methods, password stale: password", flow.Recent("/account", "a@x", stale, false, false, since), flow.StepAuthenticate},
		{"add a method after a recent proof: registration", flow.AddMethod("/account", "a@x", recent, "phone", 1), flow.StepEnroll},
		{"add a method, nothing proved: challenge first", flow.AddMethod("/account", "a@x", pwd, "phone", 1), flow.StepMFA},
	}
	for _, tt := range tests {
		switch {
		case tt.want == "" && tt.f != nil:
			t.Errorf("%s: a sign-in to %s, want none", tt.name, tt.f.Next())
		case tt.want != "" && (tt.f == nil || tt.f.Next() != tt.want):
			t.Errorf("%s: %v, want a sign-in to %s", tt.name, tt.f, tt.want)
		}
	}
	if f := flow.Recent("/account", "a@x", pwd, false, true, since); !f.AccessCode || f.ACR != assurance.Password {
		t.Errorf("access code flow: %+v", f)
	}
}

// TestCreditMFA: a proved factor raises the flow to MFA once, however
// often it is credited.
func TestCreditMFA(t *testing.T) {
	f := flow.Flow{UserID: "u", ACR: assurance.Password, AMR: []string{assurance.AMRPassword}}
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	f.CreditMFA(assurance.AMROTP, at)
	f.CreditMFA(assurance.AMROTP, at)
	if f.ACR != assurance.MFA || !f.AuthTime.Equal(at) || !f.MFAAt.Equal(at) {
		t.Fatalf("after CreditMFA: acr %s, auth_time %v, mfa_at %v", f.ACR, f.AuthTime, f.MFAAt)
	}
	if want := []string{assurance.AMRPassword, assurance.AMROTP, assurance.AMRMFA}; !slices.Equal(f.AMR, want) {
		t.Fatalf("amr = %v, want %v", f.AMR, want)
	}
}

const lifetime = 10 * time.Minute

func newStore(t *testing.T) (*flow.Store, *testenv.Redis) {
	t.Helper()
	r := testenv.NewRedis(t)
	return flow.NewStore(redisstore.New(r.Client, r.Prefix), lifetime), r
}

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, r := newStore(t)
	f := &flow.Flow{
		Browser: "browser-1", Query: "client_id=c&state=s", ClientID: "c", ClientName: "App",
		RequiredACR: assurance.Password, RequireConsent: true, CreatedAt: time.Now().UTC(),
	}
	if err := s.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	if len(f.ID) != 32 {
		t.Fatalf("flow ID %q, want 32 base64url characters", f.ID)
	}
	got, err := s.Load(ctx, f.ID, "browser-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != f.ID || got.Query != f.Query || got.ClientName != "App" || !got.RequireConsent || !got.CreatedAt.Equal(f.CreatedAt) {
		t.Fatalf("loaded %+v, want %+v", got, f)
	}

	// Redis holds only a hash of the ID, with a TTL within the lifetime.
	sum := sha256.Sum256([]byte(f.ID))
	raw := r.Prefix + "flow:" + hex.EncodeToString(sum[:])
	if d, err := r.Client.PTTL(ctx, raw).Result(); err != nil || d <= 0 || d > lifetime {
		t.Fatalf("flow key TTL = %v, %v", d, err)
	}
	keys, _ := r.Client.Keys(ctx, r.Prefix+"*").Result()
	for _, k := range keys {
		if strings.Contains(k, f.ID) {
			t.Fatalf("Redis key %q contains the flow ID", k)
		}
	}

	got.UserID, got.ACR, got.AMR, got.Consented = "user-1", assurance.Password, []string{"pwd"}, true
	if err := s.Save(ctx, got); err != nil {
		t.Fatal(err)
	}
	again, err := s.Load(ctx, f.ID, "browser-1")
	if err != nil || again.UserID != "user-1" || !slices.Equal(again.AMR, []string{"pwd"}) || again.Next() != flow.StepIssue {
		t.Fatalf("after Save: %+v, %v", again, err)
	}

	if err := s.Delete(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, f.ID, "browser-1"); !errors.Is(err, flow.ErrNotFound) {
		t.Fatalf("Load after Delete = %v", err)
	}
}

func TestLoadRefusals(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	f := &flow.Flow{Browser: "browser-1", CreatedAt: time.Now()}
	if err := s.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, id, browser string }{
		{"other browser", f.ID, "browser-2"},
		{"empty browser", f.ID, ""},
		{"browser prefix", f.ID, "browser-"},
		{"unknown id", "no-such-flow", "browser-1"},
		{"empty id", "", "browser-1"},
	}
	for _, tt := range tests {
		if got, err := s.Load(ctx, tt.id, tt.browser); !errors.Is(err, flow.ErrNotFound) || got != nil {
			t.Errorf("%s: Load = %v, %v; want ErrNotFound", tt.name, got, err)
		}
	}
	// The refusals did not consume the flow.
	if _, err := s.Load(ctx, f.ID, "browser-1"); err != nil {
		t.Fatalf("owner cannot load: %v", err)
	}
}

func TestSaveAfterLifetime(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	f := &flow.Flow{Browser: "b", CreatedAt: time.Now().Add(-lifetime - time.Minute)}
	if err := s.Create(ctx, f); !errors.Is(err, flow.ErrNotFound) {
		t.Fatalf("Create of an expired flow = %v, want ErrNotFound", err)
	}
	live := &flow.Flow{Browser: "b", CreatedAt: time.Now()}
	if err := s.Create(ctx, live); err != nil {
		t.Fatal(err)
	}
	live.CreatedAt = time.Now().Add(-lifetime - time.Minute)
	if err := s.Save(ctx, live); !errors.Is(err, flow.ErrNotFound) {
		t.Fatalf("Save after lifetime = %v, want ErrNotFound", err)
	}
}

func TestExpiresInRedis(t *testing.T) {
	ctx := context.Background()
	s, r := newStore(t)
	r.NeedClock(t)
	f := &flow.Flow{Browser: "b", CreatedAt: time.Now()}
	if err := s.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	r.Mini.FastForward(lifetime + time.Second)
	if _, err := s.Load(ctx, f.ID, "b"); !errors.Is(err, flow.ErrNotFound) {
		t.Fatalf("Load after lifetime = %v, want ErrNotFound", err)
	}
}
