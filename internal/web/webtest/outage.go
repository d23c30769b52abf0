package webtest

import (
	"context"
	"net"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// redisSwitch makes Redis refuse every command while it is down: the
// in-process server answers each with an error; a real one, which the test
// must not stop, is cut off in the client as a refused connection would be.
type redisSwitch struct {
	down atomic.Bool
	mini *miniredis.Miniredis
}

func breakable(t testing.TB, r *testenv.Redis) *redisSwitch {
	s := &redisSwitch{mini: r.Mini}
	if s.mini == nil {
		r.Client.AddHook(s)
	}
	// Cleanups run last first: Redis is back before testenv removes the keys.
	t.Cleanup(func() { s.set(false) })
	return s
}

func (s *redisSwitch) set(down bool) {
	s.down.Store(down)
	if s.mini == nil {
		return
	}
	if down {
		s.mini.SetError("LOADING Redis is loading the dataset in memory")
	} else {
		s.mini.SetError("")
	}
}

var errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

func (s *redisSwitch) DialHook(next redis.DialHook) redis.DialHook { return next }

func (s *redisSwitch) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if s.down.Load() {
			cmd.SetErr(errRefused)
			return errRefused
		}
		return next(ctx, cmd)
	}
}

func (s *redisSwitch) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if s.down.Load() {
			for _, c := range cmds {
				c.SetErr(errRefused)
			}
			return errRefused
		}
		return next(ctx, cmds)
	}
}

// RedisDown makes Redis refuse every command until RedisUp.
func (e *Env) RedisDown() { e.outage.set(true) }

// RedisUp ends RedisDown.
func (e *Env) RedisUp() { e.outage.set(false) }
