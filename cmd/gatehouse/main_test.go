package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/redisstore"
)

// gatehouse runs the CLI in-process against a fresh SQLite data directory.
type gatehouse struct {
	t      *testing.T
	config string
}

func newGatehouse(t *testing.T) *gatehouse {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	// The cheapest argon2 settings the policy allows keep hashing fast.
	yaml := "data_dir: " + filepath.Join(dir, "data") + "\n" +
		"password: {argon2: {memory_kib: 19456, iterations: 1, parallelism: 1}}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return &gatehouse{t: t, config: cfg}
}

func (g *gatehouse) run(stdin string, args ...string) (string, error) {
	g.t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"--config", g.config}, args...))
	err := root.Execute()
	return out.String(), err
}

func (g *gatehouse) ok(args ...string) string {
	g.t.Helper()
	out, err := g.run("", args...)
	if err != nil {
		g.t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (g *gatehouse) json(v any, args ...string) {
	g.t.Helper()
	out := g.ok(append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		g.t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// events returns the audit trail, oldest first.
func (g *gatehouse) events() []audit.Event {
	g.t.Helper()
	cfg, err := config.Load(g.config, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		g.t.Fatal(err)
	}
	defer a.Close()
	events, err := a.Audit.List(context.Background(), audit.Filter{})
	if err != nil {
		g.t.Fatal(err)
	}
	slices.Reverse(events)
	return events
}

func TestClients(t *testing.T) {
	g := newGatehouse(t)
	var created map[string]any
	g.json(&created, "clients", "create", "--name", "Library portal",
		"--redirect-uri", "https://library.district.example/callback", "--require-mfa")
	id, _ := created["client_id"].(string)
	if id == "" || created["client_secret"] == "" || created["required_acr"] != "mfa" {
		t.Fatalf("clients create: %v", created)
	}
	for k := range created {
		if strings.Contains(strings.ToLower(k), "hash") {
			t.Errorf("clients create prints %s", k)
		}
	}

	out := g.ok("clients", "get", id)
	for _, want := range []string{id, "Library portal", "https://library.district.example/callback", "confidential"} {
		if !strings.Contains(out, want) {
			t.Errorf("clients get lacks %q:\n%s", want, out)
		}
	}
	if secret := created["client_secret"].(string); strings.Contains(out, secret) {
		t.Error("clients get shows the secret")
	}

	var updated map[string]any
	g.json(&updated, "clients", "update", id, "--description", "Checkouts")
	if updated["description"] != "Checkouts" || updated["name"] != "Library portal" || updated["required_acr"] != "mfa" {
		t.Errorf("update changed more than --description: %v", updated)
	}

	public := g.ok("clients", "create", "--name", "Demo", "--public", "--redirect-uri", "http://localhost:9090/callback")
	if strings.Contains(public, "client_secret") {
		t.Errorf("a public client got a secret:\n%s", public)
	}

	if _, err := g.run("", "clients", "get", "nope"); err == nil || err.Error() != "no such client: nope" {
		t.Errorf("clients get nope: %v", err)
	}
	if _, err := g.run("", "clients", "create", "--name", "Bad", "--redirect-uri", "http://example.com/cb"); err == nil || !strings.Contains(err.Error(), "must use https") {
		t.Errorf("an http redirect URI was accepted: %v", err)
	}

	var rotated map[string]string
	g.json(&rotated, "clients", "rotate-secret", id)
	if rotated["client_secret"] == "" || rotated["client_secret"] == created["client_secret"] {
		t.Errorf("rotate-secret: %v", rotated)
	}
	g.ok("clients", "disable", id)
	g.ok("clients", "enable", id)
	if out := g.ok("clients", "delete", id); !strings.Contains(out, "deleted client "+id+" (Library portal)") {
		t.Errorf("clients delete:\n%s", out)
	}

	var types []string
	for _, e := range g.events() {
		types = append(types, e.Type)
		if e.ActorID != "cli" || e.ClientID == "" {
			t.Errorf("event %s: actor %q, client %q", e.Type, e.ActorID, e.ClientID)
		}
		for k, v := range e.Details {
			if strings.Contains(v, rotated["client_secret"]) || strings.Contains(v, created["client_secret"].(string)) {
				t.Errorf("event %s records a secret in %s", e.Type, k)
			}
		}
	}
	want := []string{"client.created", "client.updated", "client.created", "client.secret_rotated",
		"client.disabled", "client.enabled", "client.deleted"}
	if !slices.Equal(types, want) {
		t.Errorf("audit events %v, want %v", types, want)
	}
}

func TestUsers(t *testing.T) {
	g := newGatehouse(t)
	out := g.ok("users", "create", "--username", "jdoe", "--name", "Jane Doe", "--email", "jane@district.example")
	if !strings.Contains(out, "Generated password for jdoe@district.example") || !strings.Contains(out, "must change password") {
		t.Errorf("users create without a password:\n%s", out)
	}
	if _, err := g.run("correct horse battery\n", "users", "create", "--username", "asmith", "--password-stdin"); err != nil {
		t.Fatal(err)
	}

	var u map[string]any
	g.json(&u, "users", "get", "JDoe")
	if u["username"] != "jdoe@district.example" || u["display_name"] != "Jane Doe" || u["disabled"] != false {
		t.Fatalf("users get: %v", u)
	}
	g.ok("users", "disable", "jdoe")
	g.json(&u, "users", "get", u["id"].(string))
	if u["disabled"] != true {
		t.Errorf("after disable: %v", u)
	}

	if _, err := g.run("", "users", "create", "--username", "bob", "--password", "short"); err == nil || !strings.Contains(err.Error(), "at least 12 characters") {
		t.Errorf("a short password was accepted: %v", err)
	}
	if _, err := g.run("", "users", "get", "nobody"); err == nil || err.Error() != "no such user: nobody" {
		t.Errorf("users get nobody: %v", err)
	}

	if _, err := g.run("a new staple battery\n", "users", "set-password", "asmith", "--password-stdin", "--must-change-password"); err != nil {
		t.Fatal(err)
	}
	g.json(&u, "users", "get", "asmith")
	if u["must_change_password"] != true {
		t.Errorf("after set-password --must-change-password: %v", u)
	}

	out = g.ok("users", "reset-password", "asmith")
	temp, ok := strings.CutPrefix(strings.SplitN(out, "\n", 2)[0], "Temporary password for asmith@district.example: ")
	if !ok || len(temp) < 12 {
		t.Errorf("users reset-password:\n%s", out)
	}

	g.json(&u, "users", "set-roles", "asmith", "--role", "helpdesk", "--role", "admin")
	if roles := u["roles"].([]any); len(roles) != 2 || roles[0] != "admin" || roles[1] != "helpdesk" {
		t.Errorf("set-roles admin, helpdesk: %v", u)
	}
	if out := g.ok("users", "set-roles", "asmith"); out != "roles of asmith@district.example: none\n" {
		t.Errorf("set-roles without --role: %q", out)
	}
	if _, err := g.run("", "users", "set-roles", "asmith", "--role", "janitor"); err == nil || !strings.Contains(err.Error(), `unknown role "janitor"`) {
		t.Errorf("an unknown role was accepted: %v", err)
	}

	// The embedded store lives inside the running server: the CLI says
	// where to go instead of pretending.
	_, err := g.run("", "users", "unlock", "asmith")
	if err == nil || !strings.Contains(err.Error(), "embedded store") || !strings.Contains(err.Error(), "admin API") {
		t.Errorf("unlock on the embedded store: %v", err)
	}
	// Signing out everywhere is a stamp in the database, which every
	// replica checks: the CLI reaches it on any store.
	if out := g.ok("users", "revoke-sessions", "asmith"); !strings.Contains(out, "signed asmith@district.example out everywhere") {
		t.Errorf("revoke-sessions on the embedded store: %q", out)
	}

	var types []string
	for _, e := range g.events() {
		types = append(types, e.Type)
		if e.ActorID != "cli" || e.SubjectID == "" {
			t.Errorf("event %s: actor %q, subject %q", e.Type, e.ActorID, e.SubjectID)
		}
		for k, v := range e.Details {
			if strings.Contains(v, "correct horse") || strings.Contains(v, "staple") || strings.Contains(v, temp) {
				t.Errorf("event %s records a password in %s", e.Type, k)
			}
		}
	}
	want := []string{"user.created", "user.created", "user.disabled", "user.password_set", "user.password_reset",
		"user.roles_changed", "user.roles_changed", "user.sessions_revoked"}
	if !slices.Equal(types, want) {
		t.Errorf("audit events %v, want %v", types, want)
	}
}

// TestUsersSharedRedis: with an external Redis the CLI ends browser
// sessions and clears lockouts itself.
func TestUsersSharedRedis(t *testing.T) {
	g := newGatehouse(t)
	emb, err := redisstore.StartEmbedded() // stands in for the production Redis
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	f, err := os.OpenFile(g.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("redis: {url: " + emb.URL() + ", key_prefix: \"gh:\"}\n")
	f.Close()

	g.ok("users", "create", "--username", "jdoe")
	var u map[string]any
	g.json(&u, "users", "get", "jdoe")
	id := u["id"].(string)

	rdb, err := redisstore.Connect(redisstore.Options{URL: emb.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	kv := redisstore.New(rdb, "gh:")
	if err := kv.Put(ctx, session.Key("tok"), []byte("{}"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := kv.AddToSet(ctx, session.IndexKey(id), session.Key("tok"), time.Hour); err != nil {
		t.Fatal(err)
	}
	locks := lockout.New(kv, lockout.Options{SignInThreshold: 1})
	from, err := locks.Attempt(ctx, "jdoe@district.example", "", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if until, err := locks.SignInFailed(ctx, "jdoe@district.example", from.Source); err != nil || until.IsZero() {
		t.Fatalf("locking jdoe: %v, %v", until, err)
	}

	g.ok("users", "revoke-sessions", "jdoe")
	if _, err := kv.Get(ctx, session.Key("tok")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session survived revoke-sessions: %v", err)
	}
	g.ok("users", "unlock", "jdoe")
	if until, err := locks.SignInLocked(ctx, "jdoe@district.example", from.Source); err != nil || !until.IsZero() {
		t.Errorf("still locked after unlock: %v, %v", until, err)
	}
}

func TestUsersImport(t *testing.T) {
	g := newGatehouse(t)
	csv := filepath.Join(t.TempDir(), "users.csv")
	rows := "username,display_name,password\n" +
		"alice,Alice Archer,correct horse battery\n" +
		"bad name!,Bad,correct horse battery\n" +
		"carol,Carol Cole,correct horse battery\n"
	if err := os.WriteFile(csv, []byte(rows), 0o600); err != nil {
		t.Fatal(err)
	}

	// A dry run that would reject a row says so, and fails, so a script
	// that checks a file first stops there.
	out, err := g.run("", "users", "import", "--dry-run", csv)
	if err == nil {
		t.Errorf("import --dry-run of a file with a bad row succeeded")
	}
	for _, want := range []string{"line 2: create alice@district.example; display_name \"Alice Archer\"; password set\n", "line 3: reject bad name!: ",
		"line 4: create carol@district.example", "would create 2, update 0, leave 0 unchanged, reject 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("import --dry-run lacks %q:\n%s", want, out)
		}
	}
	var preview struct {
		DryRun bool `json:"dry_run"`
		Rows   []struct{ Outcome string }
	}
	out, _ = g.run("", "users", "import", "--dry-run", csv, "--output", "json")
	if err := json.Unmarshal([]byte(out), &preview); err != nil || !preview.DryRun || len(preview.Rows) != 3 || preview.Rows[1].Outcome != "reject" {
		t.Errorf("import --dry-run --output json: %+v %v", preview, err)
	}
	if list := g.ok("users", "list"); strings.Contains(list, "alice") || strings.Count(list, "\n") != 1 {
		t.Fatalf("a dry run wrote users:\n%s", list)
	}

	out, err = g.run("", "users", "import", csv)
	if !errors.Is(err, identity.ErrImportRejected) || !strings.Contains(out, "line 3: ") {
		t.Fatalf("import with a bad row: err %v\n%s", err, out)
	}
	if list := g.ok("users", "list"); strings.Contains(list, "alice") {
		t.Fatalf("a rejected file wrote users:\n%s", list)
	}

	out = g.ok("users", "import", csv, "--continue-on-error")
	if !strings.Contains(out, "line 3: ") || !strings.Contains(out, "created 2, updated 0, unchanged 0, rejected 1") {
		t.Errorf("import --continue-on-error:\n%s", out)
	}
	var users []map[string]any
	g.json(&users, "users", "list", "--search", "district.example")
	if len(users) != 2 || users[0]["username"] != "alice@district.example" || users[1]["username"] != "carol@district.example" {
		t.Errorf("users after import: %v", users)
	}
	if ev := g.events(); len(ev) != 2 || ev[0].Type != "user.imported" || ev[1].Type != "user.imported" || ev[0].Details["outcome"] != "create" {
		t.Errorf("audit events %+v, want one user.imported for each person", ev)
	}

	out, _ = g.run("", "users", "import", "--dry-run", csv)
	if !strings.Contains(out, "line 2: unchanged alice@district.example\n") || !strings.Contains(out, "would create 0, update 0, leave 2 unchanged, reject 1") {
		t.Errorf("import --dry-run of an imported file:\n%s", out)
	}
}

func TestKeys(t *testing.T) {
	g := newGatehouse(t)
	var rotated []map[string]any
	g.json(&rotated, "keys", "rotate")
	if len(rotated) != 2 || rotated[0]["alg"] != "RS256" || rotated[1]["alg"] != "ES256" {
		t.Fatalf("keys rotate: %v", rotated)
	}
	// One key per algorithm, each rotated: the new ones pending, the old
	// ones still signing.
	var keys []map[string]any
	g.json(&keys, "keys", "list")
	states := map[string]int{}
	for _, k := range keys {
		states[k["alg"].(string)+" "+k["state"].(string)]++
	}
	if len(keys) != 4 || states["RS256 pending"] != 1 || states["RS256 active"] != 1 || states["ES256 pending"] != 1 || states["ES256 active"] != 1 {
		t.Errorf("keys after one rotation: %v", keys)
	}
	if out := g.ok("keys", "list"); !strings.HasPrefix(out, "KID") || strings.Count(out, "\n") != 5 {
		t.Errorf("keys list:\n%s", out)
	}
}

func TestMigrate(t *testing.T) {
	g := newGatehouse(t)
	var status []map[string]any
	g.json(&status, "migrate")
	if len(status) == 0 || status[0]["applied"] != true {
		t.Errorf("migrate: %v", status)
	}
}

func TestBadConfigAndOutput(t *testing.T) {
	g := newGatehouse(t)
	if err := os.WriteFile(g.config, []byte("listen: nowhere\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := g.run("", "users", "list"); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("bad listen address: %v", err)
	}
	if _, err := g.run("", "version", "--output", "yaml"); err == nil {
		t.Error("--output yaml was accepted")
	}
}

func TestHealthcheck(t *testing.T) {
	g := newGatehouse(t)
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	if _, err := g.run("", "healthcheck", "--url", srv.URL); err != nil {
		t.Errorf("healthcheck of a ready server: %v", err)
	}
	status = http.StatusServiceUnavailable
	if _, err := g.run("", "healthcheck", "--url", srv.URL); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("healthcheck of an unready server: %v", err)
	}
}

func TestReadyzURL(t *testing.T) {
	for listen, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080/readyz",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/readyz",
		"[::]:8080":      "http://127.0.0.1:8080/readyz",
		"10.0.0.5:9000":  "http://10.0.0.5:9000/readyz",
		"localhost:8080": "http://localhost:8080/readyz",
	} {
		if got, err := readyzURL(listen); err != nil || got != want {
			t.Errorf("readyzURL(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
}
