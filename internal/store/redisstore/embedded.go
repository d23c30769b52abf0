package redisstore

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Embedded is an in-process Redis-compatible server for the single-machine
// default. Gatehouse talks to it through the same go-redis client as to a
// real server, so there is one code path.
type Embedded struct {
	srv      *miniredis.Miniredis
	password string
	stop     chan struct{}
	once     sync.Once
}

// StartEmbedded listens on a random loopback port and requires a random
// password, known only to this process: any local user could otherwise
// read and forge sessions, sign-in flows and codes.
func StartEmbedded() (*Embedded, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	srv := miniredis.NewMiniRedis()
	password := base64.RawURLEncoding.EncodeToString(secret)
	srv.RequireAuth(password)
	if err := srv.StartAddr("127.0.0.1:0"); err != nil {
		return nil, err
	}
	e := &Embedded{srv: srv, password: password, stop: make(chan struct{})}
	go e.expire()
	return e, nil
}

// expire advances miniredis's clock: it only expires keys when told that
// time has passed.
func (e *Embedded) expire() {
	const tick = time.Second
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.srv.FastForward(tick)
		}
	}
}

// URL is the redis:// address of the server, with its password: keep it
// out of logs.
func (e *Embedded) URL() string { return "redis://:" + e.password + "@" + e.srv.Addr() }

// Server exposes miniredis for tests that need to move time forward.
func (e *Embedded) Server() *miniredis.Miniredis { return e.srv }

// Close stops the server.
func (e *Embedded) Close() {
	e.once.Do(func() {
		close(e.stop)
		e.srv.Close()
	})
}
