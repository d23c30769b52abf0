package identity

import (
	"context"
	"errors"
	"testing"
)

// TestSignInsQueueForHashing: with every argon2id slot taken, a sign-in
// waits, and gives up with its request rather than adding another hash.
func TestSignInsQueueForHashing(t *testing.T) {
	s := NewService(newFakeStore(), Options{Domain: "district.example", MinPasswordLength: 12, Argon2: testParams, MaxConcurrentHashes: 1})
	s.hasher.slots <- struct{}{} // a sign-in in progress
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Authenticate(ctx, "jdoe", "whatever password"); !errors.Is(err, context.Canceled) || errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("Authenticate with no free slot = %v", err)
	}
	<-s.hasher.slots
	if _, err := s.Authenticate(context.Background(), "jdoe", "whatever password"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("Authenticate with a free slot = %v", err)
	}
	if len(s.hasher.slots) != 0 {
		t.Fatal("a slot was not given back")
	}
}
