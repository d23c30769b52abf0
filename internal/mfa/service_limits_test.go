package mfa_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/delivery"
	"github.com/gatehouse/gatehouse/internal/mfa"
)

type discardEvents struct{}

func (discardEvents) AppendEvent(context.Context, *audit.Event) error { return nil }
func (discardEvents) ListEvents(context.Context, audit.Filter) ([]audit.Event, error) {
	return nil, nil
}
func (discardEvents) DeleteEventsBefore(context.Context, time.Time) (int64, error) { return 0, nil }

type discardMessages struct{}

func (discardMessages) Send(context.Context, delivery.Message) error { return nil }

func newLimitService(t *testing.T) *mfa.Service {
	kv, _ := newKV(t)
	return mfa.NewService(nil, nil, kv, []byte("test hmac key"), discardMessages{}, audit.NewRecorder(discardEvents{}, slog.New(slog.DiscardHandler)),
		"Example School District", 10*time.Minute, 5)
}

// TestOneAccountsSendsCannotUseUpTheAddress: a student asking for code
// after code is stopped at their own limit, and the sends refused there do
// not use up the school address's, so a teacher's code is still sent.
func TestOneAccountsSendsCannotUseUpTheAddress(t *testing.T) {
	s := newLimitService(t)
	ctx := t.Context()
	lim := mfa.Limits{SendsPerUser: 10, SendsPerIP: 50, SendsPerDestination: 100}
	send := func(user string) error {
		return s.SendCode(ctx, mfa.CodeRequest{Scope: user + "-sign-in", UserID: user, IP: "192.0.2.1", Factor: mfa.FactorEmail,
			To: user + "@home.example"}, lim)
	}
	for range 60 {
		send("student")
	}
	if err := send("teacher"); err != nil {
		t.Errorf("the teacher's code: %v", err)
	}
}

// TestOneAccountCannotUseUpTheAddress: 201 wrong codes from one student's
// account behind the school's address stop at the student's own limit; a
// teacher behind the same address still gets in with the right code.
func TestOneAccountCannotUseUpTheAddress(t *testing.T) {
	s := newLimitService(t)
	ctx := t.Context()
	lim := mfa.Limits{VerifiesPerUser: 30, VerifiesPerIP: 200}
	const school = "192.0.2.1"
	for range 201 {
		s.CheckCode(ctx, "student-sign-in", "000000", "student", school, lim)
	}
	if err := s.CheckCode(ctx, "student-sign-in", "000000", "student", school, lim); err == nil {
		t.Fatal("the student was not stopped at their own limit")
	}
	code, err := s.IssueAccessCode(ctx, "teacher")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckAccessCode(ctx, "teacher", code, school, lim); err != nil {
		t.Errorf("the teacher's correct code: %v", err)
	}
}

// TestSchoolAddressLimitIsScaled: a school network's address takes the
// multiplied per-address limit, any other address the plain one.
func TestSchoolAddressLimitIsScaled(t *testing.T) {
	s := newLimitService(t)
	s.ScaleAddressLimits(func(addr string) int {
		if addr == "198.51.100.1" {
			return 3
		}
		return 1
	})
	ctx := t.Context()
	lim := mfa.Limits{VerifiesPerUser: 2, VerifiesPerIP: 4}
	for _, c := range []struct {
		addr  string
		limit int
	}{{"192.0.2.1", 4}, {"198.51.100.1", 12}} {
		for i := range c.limit {
			// Two tries each from different people, all within their own limits.
			if err := s.CheckCode(ctx, "scope", "000000", c.addr+"-user-"+string(rune('a'+i/2)), c.addr, lim); err != nil && !isWrongCode(err) {
				t.Fatalf("%s: try %d refused: %v", c.addr, i+1, err)
			}
		}
		if err := s.CheckCode(ctx, "scope", "000000", c.addr+"-another", c.addr, lim); isWrongCode(err) {
			t.Errorf("%s: try %d allowed over the address limit", c.addr, c.limit+1)
		}
	}
}

func isWrongCode(err error) bool {
	_, limited := err.(*mfa.LimitError)
	return err != nil && !limited
}

// TestSendsCountByTheIPv6Slash64: a sender who takes a new IPv6 address in
// its /64 for every request still meets the per-address limit.
func TestSendsCountByTheIPv6Slash64(t *testing.T) {
	s := newLimitService(t)
	ctx := t.Context()
	lim := mfa.Limits{SendsPerUser: 100, SendsPerIP: 3, SendsPerDestination: 100}
	var err error
	for i := range 4 {
		user := fmt.Sprintf("student-%d", i)
		err = s.SendCode(ctx, mfa.CodeRequest{Scope: user, UserID: user, IP: fmt.Sprintf("2001:db8:1:2::%x", i+1),
			Factor: mfa.FactorEmail, To: user + "@home.example"}, lim)
	}
	if err == nil {
		t.Fatal("a fourth send from the same /64 went out past a per-address limit of 3")
	}
}
