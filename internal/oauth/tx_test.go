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

// grantFixture is one stored grant: access token at-0, refresh token rt-0.
type grantFixture struct {
	s     *oauth.Storage
	grant *fosite.Request
	t     *testing.T
}

func newGrant(t *testing.T) *grantFixture {
	db := testenv.SQL(t)
	rd := testenv.NewRedis(t)
	box, err := secrets.NewBox(secrets.RandomToken(secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	s := oauth.NewStorage(oneClient{}, redisstore.New(rd.Client, rd.Prefix), db, box, time.Minute, slog.New(slog.DiscardHandler))
	client, err := s.GetClient(t.Context(), "lms")
	if err != nil {
		t.Fatal(err)
	}
	grant := fosite.NewRequest()
	grant.ID, grant.Client, grant.Session = "grant-1", client, oauth.NewSession()
	grant.Session.SetExpiresAt(fosite.AccessToken, time.Now().Add(time.Hour))
	grant.Session.SetExpiresAt(fosite.RefreshToken, time.Now().Add(24*time.Hour))
	g := &grantFixture{s: s, grant: grant, t: t}
	g.must(s.CreateAccessTokenSession(t.Context(), "at-0", grant))
	g.must(s.CreateRefreshTokenSession(t.Context(), "rt-0", "at-0", grant))
	return g
}

func (g *grantFixture) must(err error) {
	g.t.Helper()
	if err != nil {
		g.t.Fatal(err)
	}
}

// refresh runs a refresh's writes with rt-0 as fosite does, once its read
// has found rt-0 active.
func (g *grantFixture) refresh(newAccess, newRefresh string) (context.Context, error) {
	tx, err := g.s.BeginTX(g.t.Context())
	g.must(err)
	g.must(g.s.RotateRefreshToken(tx, g.grant.ID, "rt-0"))
	g.must(g.s.CreateAccessTokenSession(tx, newAccess, g.grant))
	g.must(g.s.CreateRefreshTokenSession(tx, newRefresh, newAccess, g.grant))
	return tx, g.s.Commit(tx)
}

// TestRefreshRaceKeepsWinnersAccessToken replays, step by step as fosite
// runs them, two refreshes with one refresh token whose reads both saw it
// active: the first commits, the second then loses. The winner's new
// access token must stay valid, the loser's must not outlive its failure,
// and the token the refresh replaced must go.
func TestRefreshRaceKeepsWinnersAccessToken(t *testing.T) {
	g := newGrant(t)
	if _, err := g.refresh("at-a", "rt-a"); err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	loser, err := g.refresh("at-b", "rt-b")
	if !errors.Is(err, fosite.ErrSerializationFailure) {
		t.Fatalf("second refresh with the same token: %v, want a serialization failure", err)
	}
	g.must(g.s.Rollback(loser))

	for sig, live := range map[string]bool{"at-0": false, "at-a": true, "at-b": false} {
		_, err := g.s.GetAccessTokenSession(t.Context(), sig, oauth.NewSession())
		if got := err == nil; got != live {
			t.Errorf("access token %s: live=%v (%v), want live=%v", sig, got, err, live)
		}
	}
}

// TestRefreshRacedIsNotAReplay: a refresh that began before another
// rotated its token, or just after, lost a race; it is refused without
// being taken for a replay, which would revoke the winner's tokens. One
// that comes well after the rotation is a replay.
func TestRefreshRacedIsNotAReplay(t *testing.T) {
	g := newGrant(t)
	g.s.SetRefreshRaceWindow(5 * time.Second)
	raced := oauth.WithRequestCache(t.Context())
	if _, err := g.refresh("at-a", "rt-a"); err != nil {
		t.Fatal(err)
	}
	justAfter := oauth.WithRequestCache(t.Context())
	for name, ctx := range map[string]context.Context{"began before": raced, "began just after": justAfter} {
		if _, err := g.s.GetRefreshTokenSession(ctx, "rt-0", oauth.NewSession()); !errors.Is(err, fosite.ErrNotFound) || errors.Is(err, fosite.ErrInactiveToken) {
			t.Errorf("a refresh that %s the rotation: %v, want not found", name, err)
		}
	}
	g.s.SetRefreshRaceWindow(0)
	replay := oauth.WithRequestCache(t.Context())
	if _, err := g.s.GetRefreshTokenSession(replay, "rt-0", oauth.NewSession()); !errors.Is(err, fosite.ErrInactiveToken) {
		t.Errorf("replaying a token rotated before the request began, past the race window: %v, want the inactive token that revokes the grant", err)
	}
}
