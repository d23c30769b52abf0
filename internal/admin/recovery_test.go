package admin_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
)

// TestResetMethodsVoidsRecoveryCodes: the Help Desk's reset for a lost
// phone voids the person's recovery codes too (a lost bag may hold both),
// and says so in its audit record.
func TestResetMethodsVoidsRecoveryCodes(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	u, err := s.CreateUser(ctx, admin.CLI, identity.NewUser{Username: "kid"})
	if err != nil {
		t.Fatal(err)
	}
	codes := s.Methods.(mfa.RecoveryStore)
	if err := codes.ReplaceRecoveryCodes(ctx, u.ID, []string{"h1", "h2"}, time.Now(), audit.Event{Type: "mfa.recovery_codes_generated", SubjectID: u.ID}); err != nil {
		t.Fatal(err)
	}
	helpdesk := admin.Actor{ID: "hd", Roles: []string{identity.RoleHelpdesk}}
	if err := s.ResetMethods(ctx, helpdesk, "kid"); err != nil {
		t.Fatal(err)
	}
	if st, err := codes.RecoveryCodes(ctx, u.ID); err != nil || st.Left != 0 {
		t.Fatalf("recovery codes after the reset: %+v, %v", st, err)
	}
	events, err := s.AuditEvents(ctx, admin.CLI, audit.Filter{Type: "mfa.methods_reset"})
	if err != nil || len(events) != 1 || events[0].ActorID != "hd" || events[0].Details["recovery_codes"] != "voided" {
		t.Fatalf("the reset's audit record: %+v, %v", events, err)
	}
}
