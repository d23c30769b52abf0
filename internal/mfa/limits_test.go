package mfa_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/mfa"
)

func allow(t *testing.T, l *mfa.Limiter, lim mfa.Limit, subject string) bool {
	t.Helper()
	ok, err := l.Allow(t.Context(), lim, subject)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestLimiterAllow(t *testing.T) {
	kv, r := newKV(t)
	l := &mfa.Limiter{KV: kv}
	lim := mfa.Limit{Name: "sms-user", Max: 3, Window: time.Hour}
	for i := 1; i <= 3; i++ {
		if !allow(t, l, lim, "user-1") {
			t.Fatalf("hit %d refused", i)
		}
	}
	if allow(t, l, lim, "user-1") {
		t.Error("hit 4 allowed over Max 3")
	}
	if !allow(t, l, lim, "user-2") {
		t.Error("another subject refused")
	}
	r.NeedClock(t)
	r.Mini.FastForward(time.Hour + time.Second)
	if !allow(t, l, lim, "user-1") {
		t.Error("refused in a new window")
	}
}

func TestLimiterKeysHideSubjects(t *testing.T) {
	kv, r := newKV(t)
	l := &mfa.Limiter{KV: kv}
	allow(t, l, mfa.Limit{Name: "sms-destination", Max: 1, Window: time.Hour}, "+17045550112")
	if _, err := l.Cooldown(t.Context(), "resend", "jdoe@home.example", time.Minute); err != nil {
		t.Fatal(err)
	}
	keys, err := r.Client.Keys(t.Context(), r.Prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Errorf("keys %q: want 2", keys)
	}
	for _, k := range keys {
		if strings.Contains(k, "7045550112") || strings.Contains(k, "jdoe") {
			t.Errorf("key %q shows the subject", k)
		}
	}
}

func TestLimiterAllowAll(t *testing.T) {
	kv, _ := newKV(t)
	l := &mfa.Limiter{KV: kv}
	user := mfa.Limit{Name: "sms-user", Max: 5, Window: time.Hour}
	ip := mfa.Limit{Name: "sms-ip", Max: 1, Window: time.Hour}
	dest := mfa.Limit{Name: "sms-destination", Max: 1, Window: time.Hour}
	checks := []mfa.Check{
		{Limit: user, Subject: "user-1"},
		{Limit: ip, Subject: "192.0.2.1"},
		{Limit: dest, Subject: "+17045550112"},
	}

	if got, err := l.AllowAll(t.Context(), checks...); err != nil || got != nil {
		t.Fatalf("first AllowAll = %v, %v; want nil, nil", got, err)
	}
	got, err := l.AllowAll(t.Context(), checks...)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || *got != ip {
		t.Errorf("AllowAll = %v, want the IP limit", got)
	}
	// Every check counted, including the one after the first exceeded.
	if allow(t, l, dest, "+17045550112") {
		t.Error("destination limit was not counted")
	}
}

func TestLimiterRefusesNoWindow(t *testing.T) {
	kv, _ := newKV(t)
	l := &mfa.Limiter{KV: kv}
	if _, err := l.Allow(t.Context(), mfa.Limit{Name: "x", Max: 1}, "s"); err == nil {
		t.Error("Allow with no window: want an error")
	}
	if _, err := l.Cooldown(t.Context(), "x", "s", 0); err == nil {
		t.Error("Cooldown of 0: want an error")
	}
}

func TestLimiterCooldown(t *testing.T) {
	kv, r := newKV(t)
	l := &mfa.Limiter{KV: kv}
	ctx := t.Context()
	wait, err := l.Cooldown(ctx, "resend", "flow-1", 30*time.Second)
	if err != nil || wait != 0 {
		t.Fatalf("first Cooldown = %v, %v; want 0, nil", wait, err)
	}
	wait, err = l.Cooldown(ctx, "resend", "flow-1", 30*time.Second)
	if err != nil || wait <= 0 || wait > 30*time.Second {
		t.Fatalf("second Cooldown = %v, %v; want (0, 30s]", wait, err)
	}
	if wait, err := l.Cooldown(ctx, "resend", "flow-2", 30*time.Second); err != nil || wait != 0 {
		t.Errorf("another subject = %v, %v; want 0, nil", wait, err)
	}
	r.NeedClock(t)
	r.Mini.FastForward(31 * time.Second)
	if wait, err := l.Cooldown(ctx, "resend", "flow-1", 30*time.Second); err != nil || wait != 0 {
		t.Errorf("after the cooldown = %v, %v; want 0, nil", wait, err)
	}
}
