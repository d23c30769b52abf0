package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ClientSource looks clients up.
type ClientSource interface {
	GetClient(ctx context.Context, id string) (*clients.Client, error)
}

// Storage implements every storage interface the composed fosite handlers
// type-assert; the assertions below turn a missing method into a compile
// error instead of a panic at boot.
type Storage struct {
	clients   ClientSource
	ephemeral store.KV
	grants    GrantStore
	box       *secrets.Box
	codeTTL   time.Duration
	now       func() time.Time
	logger    *slog.Logger
	// raceWindow is how long after a rotation the old refresh token is taken
	// for a concurrent refresh that lost (tabs or app instances refreshing
	// together, the later ones queued behind the first) rather than a
	// replay: still refused, but the grant and the winner's tokens live.
	raceWindow time.Duration
}

var (
	_ fosite.Storage                     = (*Storage)(nil)
	_ oauth2.CoreStorage                 = (*Storage)(nil)
	_ oauth2.TokenRevocationStorage      = (*Storage)(nil)
	_ openid.OpenIDConnectRequestStorage = (*Storage)(nil)
	_ pkce.PKCERequestStorage            = (*Storage)(nil)
)

// NewStorage returns the fosite storage adapter.
func NewStorage(cs ClientSource, eph store.KV, grants GrantStore, box *secrets.Box, codeTTL time.Duration, logger *slog.Logger) *Storage {
	return &Storage{clients: cs, ephemeral: eph, grants: grants, box: box, codeTTL: codeTTL, now: time.Now, logger: logger}
}

// Key layout. Braces are Redis Cluster hash tags: a code and its "used"
// marker land in one slot, so both are read in one MGET.
func codeKey(sig string) string        { return "code:{" + sig + "}" }
func codeUsedKey(sig string) string    { return "code:{" + sig + "}:used" }
func pkceKey(sig string) string        { return "pkce:" + sig }
func oidcKey(code string) string       { return "oidc:" + hashKey(code) }
func accessKey(sig string) string      { return "at:" + sig }
func accessByRequest(id string) string { return "at-req:" + id }
func jtiKey(jti string) string         { return "jti:" + hashKey(jti) }

// hashKey keeps raw codes and client-chosen values out of key names.
func hashKey(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

type requestStateKey struct{}

// requestState lives as long as one request.
type requestState struct {
	started time.Time
	clients map[string]*Client
	outage  error
}

// WithRequestCache gives one request its own client cache: fosite asks for
// the client up to five times while handling one token request. The cache
// lives only as long as the request, so a disabled client or a raised
// assurance level applies to the very next request. It also keeps the
// request's first storage failure for StorageOutage.
func WithRequestCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestStateKey{}, &requestState{started: time.Now(), clients: map[string]*Client{}})
}

// StorageOutage returns the first storage failure met while handling the
// request. fosite turns some into "not found" (an introspected token that
// could not be looked up reads as inactive) and ignores others (a revocation
// that did not reach Redis still answers 200), so the endpoints check here
// before answering "no" or "done".
func StorageOutage(ctx context.Context) error {
	if st, _ := ctx.Value(requestStateKey{}).(*requestState); st != nil {
		return st.outage
	}
	return nil
}

// noted remembers err for StorageOutage when it is a storage failure, and
// returns it.
func noted(ctx context.Context, err error) error {
	if st, _ := ctx.Value(requestStateKey{}).(*requestState); st != nil && st.outage == nil && store.Unavailable(err) {
		st.outage = err
	}
	return err
}

// GetClient returns an enabled client; a disabled one does not exist for
// the protocol, so its secrets and tokens stop working at once.
func (s *Storage) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	st, _ := ctx.Value(requestStateKey{}).(*requestState)
	if st != nil {
		if c, ok := st.clients[id]; ok {
			return c, nil
		}
	}
	c, err := s.clients.GetClient(ctx, id)
	noted(ctx, err)
	if errors.Is(err, store.ErrNotFound) || err == nil && c.Disabled {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	cl, err := newClient(c)
	if err != nil {
		return nil, err
	}
	if st != nil {
		st.clients[id] = cl
	}
	return cl, nil
}

// ClientAssertionJWTValid refuses a private_key_jwt assertion ID seen before.
func (s *Storage) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	_, err := s.ephemeral.Get(ctx, jtiKey(jti))
	noted(ctx, err)
	switch {
	case err == nil:
		return fosite.ErrJTIKnown
	case errors.Is(err, store.ErrNotFound):
		return nil
	}
	return err
}

// SetClientAssertionJWT remembers an assertion ID until it expires.
func (s *Storage) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	ttl := time.Until(exp)
	if ttl <= 0 {
		return nil
	}
	ok, err := s.ephemeral.PutIfAbsent(ctx, jtiKey(jti), []byte{1}, ttl)
	if err == nil && !ok {
		return fosite.ErrJTIKnown
	}
	return noted(ctx, err)
}

// record is a fosite request as stored: the client by ID, the session as JSON.
type record struct {
	ID              string          `json:"id"`
	RequestedAt     time.Time       `json:"requested_at"`
	ClientID        string          `json:"client_id"`
	Scopes          []string        `json:"scopes"`
	GrantedScopes   []string        `json:"granted_scopes"`
	Audience        []string        `json:"audience,omitempty"`
	GrantedAudience []string        `json:"granted_audience,omitempty"`
	Form            url.Values      `json:"form,omitempty"`
	Session         json.RawMessage `json:"session"`
}

// secretFormFields never reach storage.
var secretFormFields = []string{"client_secret", "client_assertion", "password", "code_verifier", "refresh_token", "code"}

func encode(r fosite.Requester) ([]byte, error) {
	sess, err := json.Marshal(r.GetSession())
	if err != nil {
		return nil, err
	}
	form := url.Values{}
	for k, v := range r.GetRequestForm() {
		form[k] = v
	}
	for _, k := range secretFormFields {
		delete(form, k)
	}
	return json.Marshal(record{
		ID: r.GetID(), RequestedAt: r.GetRequestedAt(), ClientID: r.GetClient().GetID(),
		Scopes: r.GetRequestedScopes(), GrantedScopes: r.GetGrantedScopes(),
		Audience: r.GetRequestedAudience(), GrantedAudience: r.GetGrantedAudience(),
		Form: form, Session: sess,
	})
}

// decode rebuilds a request, unmarshalling the session into the prototype
// fosite passes in (fosite's sessions are interfaces).
func (s *Storage) decode(ctx context.Context, data []byte, session fosite.Session) (*fosite.Request, error) {
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("decoding stored request: %w", err)
	}
	client, err := s.GetClient(ctx, rec.ClientID)
	if err != nil {
		return nil, err
	}
	if session == nil {
		session = NewSession()
	}
	if err := json.Unmarshal(rec.Session, session); err != nil {
		return nil, fmt.Errorf("decoding stored session: %w", err)
	}
	req := fosite.NewRequest()
	req.ID, req.RequestedAt, req.Client, req.Session = rec.ID, rec.RequestedAt, client, session
	req.RequestedScope, req.GrantedScope = rec.Scopes, rec.GrantedScopes
	req.RequestedAudience, req.GrantedAudience = rec.Audience, rec.GrantedAudience
	if rec.Form != nil {
		req.Form = rec.Form
	}
	return req, nil
}

func (s *Storage) put(ctx context.Context, key string, r fosite.Requester, ttl time.Duration) error {
	data, err := encode(r)
	if err != nil {
		return err
	}
	return noted(ctx, s.ephemeral.Put(ctx, key, data, ttl))
}

func (s *Storage) get(ctx context.Context, key string, session fosite.Session) (fosite.Requester, error) {
	data, err := s.ephemeral.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, noted(ctx, err)
	}
	return s.decode(ctx, data, session)
}

// Authorization codes live for the code lifespan; the "used" marker outlives
// it a little so a replay just after expiry is still recognised.
func (s *Storage) CreateAuthorizeCodeSession(ctx context.Context, sig string, r fosite.Requester) error {
	return s.put(ctx, codeKey(sig), r, s.codeTTL)
}

func (s *Storage) GetAuthorizeCodeSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	data, used, err := s.ephemeral.GetTwo(ctx, codeKey(sig), codeUsedKey(sig))
	if err != nil {
		return nil, noted(ctx, err)
	}
	if data == nil {
		return nil, fosite.ErrNotFound
	}
	req, err := s.decode(ctx, data, session)
	if err != nil {
		return nil, err
	}
	if used != nil {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession marks a code used atomically: of two
// concurrent redemptions only one wins.
func (s *Storage) InvalidateAuthorizeCodeSession(ctx context.Context, sig string) error {
	ok, err := s.ephemeral.PutIfAbsent(ctx, codeUsedKey(sig), []byte{1}, 2*s.codeTTL)
	if err == nil && !ok {
		return fosite.ErrInvalidatedAuthorizeCode
	}
	return noted(ctx, err)
}

func (s *Storage) CreatePKCERequestSession(ctx context.Context, sig string, r fosite.Requester) error {
	return s.put(ctx, pkceKey(sig), r, s.codeTTL)
}

func (s *Storage) GetPKCERequestSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, pkceKey(sig), session)
}

func (s *Storage) DeletePKCERequestSession(ctx context.Context, sig string) error {
	return noted(ctx, s.ephemeral.Delete(ctx, pkceKey(sig)))
}

func (s *Storage) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.put(ctx, oidcKey(code), r, s.codeTTL)
}

func (s *Storage) GetOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) (fosite.Requester, error) {
	return s.get(ctx, oidcKey(code), r.GetSession())
}

func (s *Storage) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return noted(ctx, s.ephemeral.Delete(ctx, oidcKey(code)))
}

func (s *Storage) CreateAccessTokenSession(ctx context.Context, sig string, r fosite.Requester) error {
	ttl := r.GetSession().GetExpiresAt(fosite.AccessToken).Sub(s.now())
	if ttl <= 0 {
		return errors.New("access token session already expired")
	}
	// Indexed first, so a token that exists can always be found to revoke.
	if err := noted(ctx, s.ephemeral.AddToSet(ctx, accessByRequest(r.GetID()), sig, ttl)); err != nil {
		return err
	}
	if u := unitOf(ctx); u != nil {
		u.issued = append(u.issued, sig)
	}
	return s.put(ctx, accessKey(sig), r, ttl)
}

func (s *Storage) GetAccessTokenSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, accessKey(sig), session)
}

func (s *Storage) DeleteAccessTokenSession(ctx context.Context, sig string) error {
	return noted(ctx, s.ephemeral.Delete(ctx, accessKey(sig)))
}

// RevokeAccessToken deletes every access token of one grant.
func (s *Storage) RevokeAccessToken(ctx context.Context, requestID string) error {
	return s.revokeAccessTokens(ctx, requestID, nil)
}

// revokeAccessTokens deletes the grant's access tokens except those in
// keep. The index is trimmed only after the tokens are gone, so a failed
// revocation can be retried.
func (s *Storage) revokeAccessTokens(ctx context.Context, requestID string, keep []string) error {
	index := accessByRequest(requestID)
	sigs, err := s.ephemeral.SetMembers(ctx, index)
	if err != nil {
		return noted(ctx, err)
	}
	sigs = slices.DeleteFunc(sigs, func(sig string) bool { return slices.Contains(keep, sig) })
	keys := make([]string, len(sigs))
	for i, sig := range sigs {
		keys[i] = accessKey(sig)
	}
	if err := s.ephemeral.Delete(ctx, keys...); err != nil {
		return noted(ctx, err)
	}
	return noted(ctx, s.ephemeral.RemoveFromSet(ctx, index, sigs...))
}

func (s *Storage) CreateRefreshTokenSession(ctx context.Context, sig, accessSig string, r fosite.Requester) error {
	data, err := encode(r)
	if err != nil {
		return err
	}
	t := &RefreshToken{
		Signature: sig, RequestID: r.GetID(), ClientID: r.GetClient().GetID(), Subject: r.GetSession().GetSubject(),
		AccessSignature: accessSig, Active: true, RequestedAt: r.GetRequestedAt(),
		ExpiresAt: r.GetSession().GetExpiresAt(fosite.RefreshToken), Data: s.box.Seal(data, []byte(sig)),
	}
	return s.writeGrants(ctx, func(ctx context.Context, g GrantStore) error { return g.CreateRefreshToken(ctx, t) })
}

// SetRefreshRaceWindow sets how long after a rotation the old refresh
// token passes for a lost concurrent refresh (tokens.refresh_race_window).
func (s *Storage) SetRefreshRaceWindow(d time.Duration) { s.raceWindow = d }

// GetRefreshTokenSession returns inactive (rotated) tokens with
// fosite.ErrInactiveToken, which makes fosite revoke the whole grant as a
// replay. A token rotated after this request began, or less than the race
// window before, was not replayed: the request raced the
// rotation and lost. It is refused as not found, which revokes nothing.
// Replicas compare their clocks here; their skew (milliseconds under NTP)
// is small beside the window.
func (s *Storage) GetRefreshTokenSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	t, err := s.grants.GetRefreshToken(ctx, sig)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, noted(ctx, err)
	}
	data, err := s.box.Open(t.Data, []byte(sig))
	if err != nil {
		return nil, err
	}
	req, err := s.decode(ctx, data, session)
	if err != nil {
		return nil, err
	}
	if t.Active {
		return req, nil
	}
	if st, _ := ctx.Value(requestStateKey{}).(*requestState); st != nil && t.RotatedAt != nil &&
		t.RotatedAt.After(st.started.Add(-s.raceWindow)) {
		return nil, fmt.Errorf("%w: rotated by a concurrent refresh", fosite.ErrNotFound)
	}
	return req, fosite.ErrInactiveToken
}

func (s *Storage) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	return s.writeGrants(ctx, func(ctx context.Context, g GrantStore) error {
		if err := g.DeleteRefreshToken(ctx, sig); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
}

// RotateRefreshToken retires the presented refresh token (kept, inactive, to
// detect reuse) and the access tokens issued with it. Losing the race to a
// concurrent refresh with the same token is a serialization failure, and
// undoes the successor's write that shares its transaction. Within a unit
// of work the access tokens go only once the rotation commits, and the
// winner's new one stays: a loser must not revoke what the winner issued.
func (s *Storage) RotateRefreshToken(ctx context.Context, requestID, sig string) error {
	err := s.writeGrants(ctx, func(ctx context.Context, g GrantStore) error {
		err := g.DeactivateRefreshToken(ctx, sig)
		switch {
		case errors.Is(err, store.ErrConflict):
			return fosite.ErrSerializationFailure
		case errors.Is(err, store.ErrNotFound): // revoked meanwhile
			return fosite.ErrNotFound
		}
		return err
	})
	if err != nil {
		return err
	}
	if u := unitOf(ctx); u != nil {
		u.retire = requestID
		return nil
	}
	return s.RevokeAccessToken(ctx, requestID)
}

// RevokeRefreshToken revokes one grant: its access tokens first, then its
// refresh tokens, so when Redis fails the refresh token is still there for
// the retry to find the access tokens by.
func (s *Storage) RevokeRefreshToken(ctx context.Context, requestID string) error {
	if err := s.RevokeAccessToken(ctx, requestID); err != nil {
		return err
	}
	return s.writeGrants(ctx, func(ctx context.Context, g GrantStore) error { return g.RevokeGrant(ctx, requestID) })
}
