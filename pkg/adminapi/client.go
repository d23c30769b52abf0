// Package adminapi is a typed client for Gatehouse's admin API, served
// under /admin/api/v1 of the issuer, and the types the API reads and
// writes: Gatehouse encodes and decodes these very types, so the client
// and the server cannot drift apart.
//
// A district tool (a SIS sync, a help-desk script) registers a
// confidential client with the client_credentials grant and only the
// admin scopes it needs (pkg/assurance names them; Routes says which route
// needs which), then calls the API through New. No person's sign-in ever
// gets a token the API accepts.
//
// Every failure the API answers is an *Error with its status and stable
// code. A 503 means the server or its storage could not answer; it is
// never an answer about the thing asked for, and Error.RetryAfter says
// when to try again. IsNotFound is true only for a real 404.
//
// The package imports nothing of Gatehouse's but pkg/assurance.
package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Config is how a tool reaches Gatehouse and proves who it is.
type Config struct {
	// BaseURL is Gatehouse's issuer URL, e.g. https://sso.district.example.
	BaseURL      string
	ClientID     string
	ClientSecret string
	// Scopes are the admin scopes to ask for: those of the routes the tool
	// calls, within what its client was registered with.
	Scopes []string
	// TokenURL defaults to BaseURL + "/oauth2/token".
	TokenURL string
	// HTTPClient sends every request, token requests included; nil means
	// http.DefaultClient.
	HTTPClient *http.Client
}

// Client calls the admin API. Its methods are safe for concurrent use.
type Client struct {
	// BaseURL is Gatehouse's issuer URL; the API is at BaseURL + Prefix.
	BaseURL string
	// HTTPClient authorizes each request itself (New gives it
	// client-credentials tokens, fetched and renewed as needed).
	HTTPClient *http.Client
}

// New returns a Client that authenticates with the OAuth2
// client_credentials grant at Gatehouse's token endpoint, sending the
// client's secret in the Authorization header.
func New(cfg Config) *Client {
	base := cfg.HTTPClient
	if base == nil {
		base = http.DefaultClient
	}
	baseURL := strings.TrimSuffix(cfg.BaseURL, "/")
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = baseURL + "/oauth2/token"
	}
	cc := &clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: tokenURL,
		Scopes: cfg.Scopes, AuthStyle: oauth2.AuthStyleInHeader}
	// The token source outlives any one call, so its context is not one
	// call's; it only carries the HTTP client.
	hc := cc.Client(context.WithValue(context.Background(), oauth2.HTTPClient, base))
	hc.Timeout = base.Timeout
	return &Client{BaseURL: baseURL, HTTPClient: hc}
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 1 << 20

// call is one request: a JSON body (or raw one with its type), and where
// the JSON answer goes.
type call struct {
	method, path string
	query        url.Values
	in           any
	raw          io.Reader
	rawType      string
	out          any
}

func (c *Client) send(ctx context.Context, cl call) (*http.Response, error) {
	u := c.BaseURL + Prefix + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	body, contentType := cl.raw, cl.rawType
	if cl.in != nil {
		b, err := json.Marshal(cl.in)
		if err != nil {
			return nil, err
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return nil, tokenError(re)
		}
		return nil, err
	}
	return resp, nil
}

// do sends cl and decodes a success into cl.out; any other answer is an
// *Error.
func (c *Client) do(ctx context.Context, cl call) error {
	resp, err := c.send(ctx, cl)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return errorFrom(resp, raw)
	}
	if cl.out == nil {
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(cl.out); err != nil {
		return fmt.Errorf("gatehouse admin api: %s %s: reading the answer: %w", cl.method, cl.path, err)
	}
	return nil
}

// errorFrom reads an error answer. A body that is not the API's (a proxy's
// page) still gives the status, so a 502 is never mistaken for anything
// the API said.
func errorFrom(resp *http.Response, raw []byte) *Error {
	var body ErrorBody
	if json.Unmarshal(raw, &body) != nil || body.Error.Code == "" {
		body.Error = Error{Message: http.StatusText(resp.StatusCode)}
	}
	e := body.Error
	e.Status = resp.StatusCode
	e.RetryAfter = retryAfter(resp.Header, time.Now())
	return &e
}

// tokenError is a refusal from the token endpoint, as an *Error.
func tokenError(re *oauth2.RetrieveError) *Error {
	e := &Error{Code: re.ErrorCode, Message: "token endpoint: " + re.ErrorDescription}
	if re.ErrorDescription == "" {
		e.Message = "token endpoint: " + strings.TrimSpace(string(re.Body))
	}
	if re.Response != nil {
		e.Status = re.Response.StatusCode
		e.RetryAfter = retryAfter(re.Response.Header, time.Now())
	}
	return e
}

func clientPath(id string, rest ...string) string {
	return "/clients/" + url.PathEscape(id) + strings.Join(rest, "")
}

func userPath(ref string, rest ...string) string {
	return "/users/" + url.PathEscape(ref) + strings.Join(rest, "")
}

func policyPath(name string, rest ...string) string {
	return "/policies/" + url.PathEscape(name) + strings.Join(rest, "")
}

// ListClients lists every registered application (gatehouse:clients).
func (c *Client) ListClients(ctx context.Context) ([]Application, error) {
	var out ApplicationList
	err := c.do(ctx, call{method: "GET", path: "/clients", out: &out})
	return out.Items, err
}

// CreateClient registers an application (gatehouse:clients); a
// confidential one comes back with its secret, shown only this once.
func (c *Client) CreateClient(ctx context.Context, in ApplicationInput) (*Application, error) {
	var out Application
	if err := c.do(ctx, call{method: "POST", path: "/clients", in: in, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetClient returns an application by its client ID (gatehouse:clients).
func (c *Client) GetClient(ctx context.Context, id string) (*Application, error) {
	var out Application
	if err := c.do(ctx, call{method: "GET", path: clientPath(id), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateClient changes the fields of in that are set (gatehouse:clients).
func (c *Client) UpdateClient(ctx context.Context, id string, in ApplicationInput) (*Application, error) {
	var out Application
	if err := c.do(ctx, call{method: "PATCH", path: clientPath(id), in: in, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteClient removes an application and ends its grants
// (gatehouse:clients).
func (c *Client) DeleteClient(ctx context.Context, id string) error {
	return c.do(ctx, call{method: "DELETE", path: clientPath(id)})
}

// RotateClientSecret gives a confidential client a new secret
// (gatehouse:clients).
func (c *Client) RotateClientSecret(ctx context.Context, id string) (*RotatedSecret, error) {
	var out RotatedSecret
	if err := c.do(ctx, call{method: "POST", path: clientPath(id, "/rotate-secret"), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DisableClient stops an application's secrets and tokens from working
// (gatehouse:clients).
func (c *Client) DisableClient(ctx context.Context, id string) error {
	return c.do(ctx, call{method: "POST", path: clientPath(id, "/disable")})
}

// EnableClient undoes DisableClient (gatehouse:clients).
func (c *Client) EnableClient(ctx context.Context, id string) error {
	return c.do(ctx, call{method: "POST", path: clientPath(id, "/enable")})
}

// UserQuery finds people.
type UserQuery struct {
	Search string // matches name, username or email; empty: everyone
	Limit  int    // page size; zero: the server's (100), at most 1000
	Offset int
}

// ListUsers returns one page of people (gatehouse:users.read); follow
// UserList.NextOffset for the next.
func (c *Client) ListUsers(ctx context.Context, q UserQuery) (*UserList, error) {
	v := url.Values{}
	if q.Search != "" {
		v.Set("search", q.Search)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	var out UserList
	if err := c.do(ctx, call{method: "GET", path: "/users", query: v, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateUser creates a person (gatehouse:users.write; giving a role also
// needs gatehouse:users.roles).
func (c *Client) CreateUser(ctx context.Context, in UserInput) (*User, error) {
	var out User
	if err := c.do(ctx, call{method: "POST", path: "/users", in: in, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ImportOptions shape an import.
type ImportOptions struct {
	// DryRun reports what each row would do and writes nothing.
	DryRun bool
	// ContinueOnError writes the good rows even when some are rejected;
	// otherwise one bad row rejects the whole file.
	ContinueOnError bool
	// ResetPasswords also replaces existing accounts' passwords.
	ResetPasswords bool
}

// ImportUsers creates or updates people from a CSV file whose header row
// names its columns: username (required), email, display_name, password or
// password_hash, roles and groups (";"-separated). Rows match by username,
// so importing a file twice changes nothing (gatehouse:users.import; a
// roles or groups column also needs gatehouse:users.roles or
// gatehouse:users.groups).
//
// When rows were rejected and so nothing was written, the result comes
// back with an *Error whose Code is "import_rejected": the rows say why.
func (c *Client) ImportUsers(ctx context.Context, csv io.Reader, opt ImportOptions) (*ImportResult, error) {
	v := url.Values{}
	for name, on := range map[string]bool{"dry_run": opt.DryRun, "continue_on_error": opt.ContinueOnError, "reset_passwords": opt.ResetPasswords} {
		if on {
			v.Set(name, "true")
		}
	}
	resp, err := c.send(ctx, call{method: "POST", path: "/users/import", query: v, raw: csv, rawType: "text/csv"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var probe struct {
		Error *Error `json:"error"`
	}
	if resp.StatusCode == http.StatusUnprocessableEntity && json.Unmarshal(raw, &probe) == nil && probe.Error == nil {
		var out ImportResult
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, errorFrom(resp, raw)
		}
		return &out, &Error{Status: resp.StatusCode, Code: "import_rejected",
			Message: fmt.Sprintf("%d rows were rejected, so nothing was written", out.Rejected)}
	}
	if resp.StatusCode/100 != 2 {
		return nil, errorFrom(resp, raw)
	}
	var out ImportResult
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("gatehouse admin api: POST /users/import: reading the answer: %w", err)
	}
	return &out, nil
}

// GetUser returns a person by ID or username (gatehouse:users.read).
func (c *Client) GetUser(ctx context.Context, ref string) (*User, error) {
	var out User
	if err := c.do(ctx, call{method: "GET", path: userPath(ref), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteUser removes a person (gatehouse:users.write).
func (c *Client) DeleteUser(ctx context.Context, ref string) error {
	return c.do(ctx, call{method: "DELETE", path: userPath(ref)})
}

// SetRoles replaces a person's roles; none takes every role away
// (gatehouse:users.roles).
func (c *Client) SetRoles(ctx context.Context, ref string, roles []string) (*User, error) {
	var out User
	if err := c.do(ctx, call{method: "PUT", path: userPath(ref, "/roles"), in: RolesInput{Roles: orEmpty(roles)}, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetGroups replaces a person's groups (gatehouse:users.groups).
func (c *Client) SetGroups(ctx context.Context, ref string, groups []string) (*User, error) {
	var out User
	if err := c.do(ctx, call{method: "PUT", path: userPath(ref, "/groups"), in: GroupsInput{Groups: orEmpty(groups)}, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// orEmpty sends "no roles" as [], never null.
func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// UserPolicy is the policy a person signs in under (gatehouse:users.read).
func (c *Client) UserPolicy(ctx context.Context, ref string) (*EffectivePolicy, error) {
	var out EffectivePolicy
	if err := c.do(ctx, call{method: "GET", path: userPath(ref, "/policy"), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DisableUser stops a person signing in and ends their sessions
// (gatehouse:users.write).
func (c *Client) DisableUser(ctx context.Context, ref string) error {
	return c.do(ctx, call{method: "POST", path: userPath(ref, "/disable")})
}

// EnableUser undoes DisableUser (gatehouse:users.write).
func (c *Client) EnableUser(ctx context.Context, ref string) error {
	return c.do(ctx, call{method: "POST", path: userPath(ref, "/enable")})
}

// ResetPassword gives a person a temporary password they must change at
// their next sign-in, and returns it (gatehouse:users.write).
func (c *Client) ResetPassword(ctx context.Context, ref string) (string, error) {
	var out TemporaryPassword
	err := c.do(ctx, call{method: "POST", path: userPath(ref, "/reset-password"), out: &out})
	return out.Password, err
}

// ResetMethods removes a person's security methods, so they register again
// at their next sign-in (gatehouse:users.write).
func (c *Client) ResetMethods(ctx context.Context, ref string) error {
	return c.do(ctx, call{method: "POST", path: userPath(ref, "/reset-methods")})
}

// RevokeSessions signs a person out everywhere (gatehouse:users.write).
func (c *Client) RevokeSessions(ctx context.Context, ref string) error {
	return c.do(ctx, call{method: "POST", path: userPath(ref, "/revoke-sessions")})
}

// Unlock lifts a lockout after too many failed sign-ins
// (gatehouse:users.write).
func (c *Client) Unlock(ctx context.Context, ref string) error {
	return c.do(ctx, call{method: "POST", path: userPath(ref, "/unlock")})
}

// IssueAccessCode gives a person a one-time sign-in code
// (gatehouse:users.write).
func (c *Client) IssueAccessCode(ctx context.Context, ref string) (*AccessCode, error) {
	var out AccessCode
	if err := c.do(ctx, call{method: "POST", path: userPath(ref, "/access-code"), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuditQuery narrows the audit log.
type AuditQuery struct {
	User  string // the person acted upon, by ID
	Type  string // e.g. "user.disabled"
	Since time.Time
	Until time.Time
	Limit int // zero: the server's (100), at most 1000
}

func (q AuditQuery) values() url.Values {
	v := url.Values{}
	for name, s := range map[string]string{"user": q.User, "type": q.Type} {
		if s != "" {
			v.Set(name, s)
		}
	}
	for name, t := range map[string]time.Time{"since": q.Since, "until": q.Until} {
		if !t.IsZero() {
			v.Set(name, t.Format(time.RFC3339))
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// ListAudit returns audit events, newest first (gatehouse:audit.read).
func (c *Client) ListAudit(ctx context.Context, q AuditQuery) ([]AuditEvent, error) {
	var out AuditList
	err := c.do(ctx, call{method: "GET", path: "/audit", query: q.values(), out: &out})
	return out.Items, err
}

// ExportAudit writes audit events to w as CSV, for a spreadsheet
// (gatehouse:audit.read).
func (c *Client) ExportAudit(ctx context.Context, q AuditQuery, w io.Writer) error {
	v := q.values()
	v.Set("format", "csv")
	resp, err := c.send(ctx, call{method: "GET", path: "/audit", query: v})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return errorFrom(resp, raw)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// ListPolicies lists every sign-in policy (gatehouse:policies).
func (c *Client) ListPolicies(ctx context.Context) ([]Policy, error) {
	var out PolicyList
	err := c.do(ctx, call{method: "GET", path: "/policies", out: &out})
	return out.Items, err
}

// SavePolicy creates or replaces a policy (gatehouse:policies).
func (c *Client) SavePolicy(ctx context.Context, name string, in PolicyInput) (*Policy, error) {
	var out Policy
	if err := c.do(ctx, call{method: "PUT", path: policyPath(name), in: in, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeletePolicy removes a group policy; the default cannot be
// (gatehouse:policies).
func (c *Client) DeletePolicy(ctx context.Context, name string) error {
	return c.do(ctx, call{method: "DELETE", path: policyPath(name)})
}

// PolicyVersions is a policy's history, newest first (gatehouse:policies).
func (c *Client) PolicyVersions(ctx context.Context, name string) ([]PolicyVersion, error) {
	var out PolicyVersionList
	err := c.do(ctx, call{method: "GET", path: policyPath(name, "/versions"), out: &out})
	return out.Items, err
}

// RegistrationReport counts, per group, who has registered their methods
// (gatehouse:users.read).
func (c *Client) RegistrationReport(ctx context.Context) ([]GroupReport, error) {
	var out RegistrationReport
	err := c.do(ctx, call{method: "GET", path: "/reports/registration", out: &out})
	return out.Items, err
}

// OpenAPI returns the API's OpenAPI document, which Gatehouse serves
// to anyone.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.do(ctx, call{method: "GET", path: "/openapi.json", out: &out}); err != nil {
		return nil, err
	}
	return out, nil
}
