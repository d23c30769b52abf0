package systemtest

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/clients"
)

// commandCounter counts every Redis command, pipelined ones included.
type commandCounter struct{ n *atomic.Int64 }

func (c commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestCodeFlowCost counts the Redis commands and SQL statements of one
// complete code flow for a signed-in browser (the second app of the
// morning), so a regression shows up as a failing count.
func TestCodeFlowCost(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	ctx := t.Context()
	gh.createUser(t, "teacher")
	rp := gh.registerApp(t, clients.Registration{Name: "Gradebook"}, "openid", "profile", "email", "offline_access")
	b := newBrowser(t, rpRedirect)
	rp.codeFlow(t, b, "teacher", "state-0001")
	pkce := oauth2.GenerateVerifier()

	var redisOps, sqlOps atomic.Int64
	c.redis.Client.AddHook(commandCounter{&redisOps})
	if err := gh.App.DB.OnStatement(func() { sqlOps.Add(1) }); err != nil {
		t.Fatal(err)
	}
	code := codeFrom(t, b.get(rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(pkce))), rpRedirect, "state-0002", gh.Issuer)
	tok, err := rp.Exchange(ctx, code, oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Provider.Verifier(&oidc.Config{ClientID: rp.ClientID}).Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Fatal(err)
	}
	t.Logf("one code flow: %d Redis commands, %d SQL statements", redisOps.Load(), sqlOps.Load())
	if r, s := redisOps.Load(), sqlOps.Load(); r > maxRedisPerFlow || s > maxSQLPerFlow {
		t.Fatalf("one code flow costs %d Redis commands (max %d) and %d SQL statements (max %d)", r, maxRedisPerFlow, s, maxSQLPerFlow)
	}
}

// Measured: 17 Redis commands and 6 SQL statements (the client once per
// request, the user at authorize and at the token endpoint, the method-reset
// check, the refresh-token insert).
const (
	maxRedisPerFlow = 17
	maxSQLPerFlow   = 6
)
