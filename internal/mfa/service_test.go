package mfa_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/delivery"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

type sentTo []string

func (s *sentTo) Send(_ context.Context, m delivery.Message) error {
	*s = append(*s, m.To)
	return nil
}

// TestSendLimitKeyedByHMAC: the per-number limit is kept under a keyed
// hash, so a copy of Redis cannot be matched against phone numbers by
// hashing each one.
func TestSendLimitKeyedByHMAC(t *testing.T) {
	kv, r := newKV(t)
	var sent sentTo
	s := mfa.NewService(nil, nil, kv, []byte("test hmac key"), &sent, audit.NewRecorder(testenv.SQL(t), slog.Default()),
		"Example School District", 5*time.Minute, 5)
	lim := mfa.Limits{SendsPerUser: 5, SendsPerIP: 5, SendsPerDestination: 5, SendsPerCountry: 5}
	if err := s.SendCode(t.Context(), mfa.CodeRequest{Scope: "s", UserID: "u1", IP: "192.0.2.1", Factor: mfa.FactorSMS,
		To: "+17045550112", Countries: []string{"US"}}, lim); err != nil || len(sent) != 1 {
		t.Fatalf("SendCode: %v, sent %v", err, sent)
	}
	keys, err := r.Client.Keys(t.Context(), r.Prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("+17045550112"))
	plain := hex.EncodeToString(sum[:])
	for _, k := range keys {
		if strings.Contains(k, plain) || strings.Contains(k, "7045550112") {
			t.Errorf("key %q can be matched to the phone number", k)
		}
	}
}
