package oauth_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store/redisstore"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

type oneClient struct{}

func (oneClient) GetClient(_ context.Context, id string) (*clients.Client, error) {
	return &clients.Client{ID: id}, nil
}

// TestRefreshRaceKeepsWinnersAccessToken replays, step by step as fosite
// runs them, two refreshes with one refresh token whose reads both saw it
// active: the first commits, the second then loses. The winner's new
// access token must stay valid, the loser's must not outlive its failure,
// and the token the refresh replaced must go.
func TestRefreshRaceKeepsWinnersAccessToken(t *testing.T) {
	db := testenv.SQL(t)
	rd := testenv.NewRedis(t)
	box, err := secrets.NewBox(secrets.RandomToken(secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	s := oauth.NewStorage(oneClient{}, redisstore.New(rd.Client, rd.Prefix), db, box, time.Minute, slog.New(slog.DiscardHandler))
	ctx := t.Context()
	client, err := s.GetClient(ctx, "lms")
	if err != nil {
		t.Fatal(err)
	}
	grant := fosite.NewRequest()
	grant.ID, grant.Client, grant.Session = "grant-1", client, oauth.NewSession()
	grant.Session.SetExpiresAt(fosite.AccessToken, time.Now().Add(time.Hour))
	grant.Session.SetExpiresAt(fosite.RefreshToken, time.Now().Add(24*time.Hour))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateAccessTokenSession(ctx, "at-0", grant))
	must(s.CreateRefreshTokenSession(ctx, "rt-0", "at-0", grant))

	refresh := func(newAccess, newRefresh string) (context.Context, error) {
		tx, err := s.BeginTX(ctx)
		must(err)
		must(s.RotateRefreshToken(tx, grant.ID, "rt-0"))
		must(s.CreateAccessTokenSession(tx, newAccess, grant))
		must(s.CreateRefreshTokenSession(tx, newRefresh, newAccess, grant))
		return tx, s.Commit(tx)
	}
	if _, err := refresh("at-a", "rt-a"); err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	loser, err := refresh("at-b", "rt-b")
	if !errors.Is(err, fosite.ErrSerializationFailure) {
		t.Fatalf("second refresh with the same token: %v, want a serialization failure", err)
	}
	must(s.Rollback(loser))

	for sig, live := range map[string]bool{"at-0": false, "at-a": true, "at-b": false} {
		_, err := s.GetAccessTokenSession(ctx, sig, oauth.NewSession())
		if got := err == nil; got != live {
			t.Errorf("access token %s: live=%v (%v), want live=%v", sig, got, err, live)
		}
	}
}
