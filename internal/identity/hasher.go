package identity

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/google/uuid"
)

// idleRelease is how long no hash may run before the memory the last ones
// used is handed back to the operating system.
const idleRelease = time.Second

// Hasher computes and checks argon2id hashes (passwords, security answers)
// with the district's parameters, a bounded number at a time: each run
// holds Argon2Params.MemoryKiB, so a login storm queues instead of
// exhausting memory.
type Hasher struct {
	params Argon2Params
	slots  chan struct{}
	// dummy is checked in place of a missing hash so the timing matches a
	// real check; made on first use, so start-up neither spends nor keeps
	// an argon2id allocation.
	dummy func() string

	mu      sync.Mutex
	running int
	release *time.Timer
}

// NewHasher returns a Hasher running at most maxConcurrent hashes at once
// (0: as many as the CPUs run side by side, CPUs ÷ p.Parallelism; each
// hash already keeps Parallelism cores busy, so more would add memory, not
// throughput).
func NewHasher(p Argon2Params, maxConcurrent int) *Hasher {
	if maxConcurrent <= 0 {
		maxConcurrent = max(1, runtime.GOMAXPROCS(0)/max(1, int(p.Parallelism)))
	}
	return &Hasher{params: p, slots: make(chan struct{}, maxConcurrent),
		dummy: sync.OnceValue(func() string { return HashPassword(uuid.NewString(), p) })}
}

// Hash returns the PHC string of secret, waiting for a free slot until ctx
// ends.
func (h *Hasher) Hash(ctx context.Context, secret string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.done()
	return HashPassword(secret, h.params), nil
}

// Verify reports whether secret matches phc, in constant time. An empty phc
// is checked against the dummy hash and never matches, so "no such
// user/answer" costs what a wrong one does.
func (h *Hasher) Verify(ctx context.Context, phc, secret string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.done()
	if phc == "" {
		VerifyPassword(h.dummy(), secret)
		return false, nil
	}
	return VerifyPassword(phc, secret), nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting to check a password: %w", ctx.Err())
	}
	h.mu.Lock()
	h.running++
	h.mu.Unlock()
	return nil
}

// done frees the slot. When the last hash ends and none starts for
// idleRelease, the memory they used goes back to the OS: the Go runtime
// would keep it for minutes, and after a storm of sign-ins that is hundreds
// of MiB an idle server holds for nothing.
func (h *Hasher) done() {
	h.mu.Lock()
	h.running--
	if h.running == 0 {
		if h.release == nil {
			h.release = time.AfterFunc(idleRelease, h.releaseIfIdle)
		} else {
			h.release.Reset(idleRelease)
		}
	}
	h.mu.Unlock()
	<-h.slots
}

func (h *Hasher) releaseIfIdle() {
	h.mu.Lock()
	idle := h.running == 0
	h.mu.Unlock()
	if idle {
		debug.FreeOSMemory()
	}
}
