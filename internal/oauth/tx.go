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
// them. Redis writes are not transactional and run at once; the unit
// remembers them to finish or undo once the database has decided.
type unitOfWork struct {
	writes []func(context.Context, GrantStore) error
	// issued are the access tokens this request stored: undone when it
	// fails, kept when the grant's older ones are retired.
	issued []string
	// retire is the grant whose older access tokens go once a rotation
	// commits.
	retire string
}

func unitOf(ctx context.Context) *unitOfWork {
	u, _ := ctx.Value(unitOfWorkKey{}).(*unitOfWork)
	return u
}

// BeginTX starts queuing refresh-token writes.
func (s *Storage) BeginTX(ctx context.Context) (context.Context, error) {
	return context.WithValue(ctx, unitOfWorkKey{}, &unitOfWork{}), nil
}

// Commit runs the queued writes in one transaction; any failure undoes all.
// A committed rotation then retires the grant's older access tokens. That
// failing does not fail the request: the new refresh token is already the
// only valid one, and the old access tokens expire on their own.
func (s *Storage) Commit(ctx context.Context) error {
	u := unitOf(ctx)
	if u == nil || len(u.writes) == 0 {
		return nil
	}
	writes := u.writes
	u.writes = nil
	err := s.grants.InTransaction(ctx, func(g GrantStore) error {
		for _, w := range writes {
			if err := w(ctx, g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return noted(ctx, err)
	}
	if u.retire != "" {
		if err := s.revokeAccessTokens(ctx, u.retire, u.issued); err != nil {
			s.logger.Error("retiring the access tokens of a rotated refresh token", "err", err)
		}
	}
	return nil
}

// Rollback drops the queued writes, none of which reached the database,
// and deletes the access tokens the failed request stored but never handed
// out.
func (s *Storage) Rollback(ctx context.Context) error {
	u := unitOf(ctx)
	if u == nil {
		return nil
	}
	u.writes = nil
	keys := make([]string, len(u.issued))
	for i, sig := range u.issued {
		keys[i] = accessKey(sig)
	}
	u.issued = nil
	return noted(ctx, s.ephemeral.Delete(ctx, keys...))
}

// writeGrants queues w in the request's unit of work, or runs it now
// outside one.
func (s *Storage) writeGrants(ctx context.Context, w func(context.Context, GrantStore) error) error {
	if u := unitOf(ctx); u != nil {
		u.writes = append(u.writes, w)
		return nil
	}
	return noted(ctx, w(ctx, s.grants))
}
