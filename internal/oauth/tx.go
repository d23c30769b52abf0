package oauth

import (
	"context"

	"github.com/ory/fosite/storage"
)

var _ storage.Transactional = (*Storage)(nil)

type unitOfWorkKey struct{}

// unitOfWork holds the refresh-token writes of one token request. fosite
// brackets a request's writes with BeginTX and Commit; queuing them until
// Commit runs a refresh's two writes (retire the presented token, store its
// successor) in one short database transaction, taking one pool connection
// once, rather than holding a connection across the Redis calls between
// them. Redis writes are not transactional and run at once.
type unitOfWork struct {
	writes []func(context.Context, GrantStore) error
}

// BeginTX starts queuing refresh-token writes.
func (s *Storage) BeginTX(ctx context.Context) (context.Context, error) {
	return context.WithValue(ctx, unitOfWorkKey{}, &unitOfWork{}), nil
}

// Commit runs the queued writes in one transaction; any failure undoes all.
func (s *Storage) Commit(ctx context.Context) error {
	u, _ := ctx.Value(unitOfWorkKey{}).(*unitOfWork)
	if u == nil || len(u.writes) == 0 {
		return nil
	}
	writes := u.writes
	u.writes = nil
	return s.grants.InTransaction(ctx, func(g GrantStore) error {
		for _, w := range writes {
			if err := w(ctx, g); err != nil {
				return err
			}
		}
		return nil
	})
}

// Rollback drops the queued writes: none has reached the database.
func (s *Storage) Rollback(ctx context.Context) error {
	if u, _ := ctx.Value(unitOfWorkKey{}).(*unitOfWork); u != nil {
		u.writes = nil
	}
	return nil
}

// writeGrants queues w in the request's unit of work, or runs it now
// outside one.
func (s *Storage) writeGrants(ctx context.Context, w func(context.Context, GrantStore) error) error {
	if u, _ := ctx.Value(unitOfWorkKey{}).(*unitOfWork); u != nil {
		u.writes = append(u.writes, w)
		return nil
	}
	return w(ctx, s.grants)
}
