package systemtest

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/pkg/adminapi"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// TestAdminAPIOutageAnswers503: with Redis or the database down, the admin
// API and its token endpoint answer 503 with Retry-After, never "not
// found" nor "unauthorized"; the typed client says when to retry.
func TestAdminAPIOutageAnswers503(t *testing.T) {
	c := newCluster(t)
	mini := stoppableRedis(t, c)
	gh := c.start()
	gh.createUser(t, "teacher")
	ctx := t.Context()
	api := adminAPI(t, gh, assurance.ScopeUsersRead)
	if _, err := api.GetUser(ctx, "teacher"); err != nil {
		t.Fatal(err)
	}
	later := adminAPI(t, gh, assurance.ScopeUsersRead)
	wantRetry := func(what string, err error) {
		t.Helper()
		if e := apiError(err); e == nil || e.Status != http.StatusServiceUnavailable || e.RetryAfter <= 0 || !e.Temporary() || adminapi.IsNotFound(err) {
			t.Errorf("%s: %v; want a 503 with Retry-After", what, err)
		}
	}

	mini.Close()
	_, err := api.GetUser(ctx, "teacher")
	wantRetry("checking a token with Redis down", err)
	_, err = later.GetUser(ctx, "teacher")
	wantRetry("getting a token with Redis down", err)
	if err := mini.Restart(); err != nil {
		t.Fatal(err)
	}

	gh.App.DB.Close()
	_, err = api.GetUser(ctx, "teacher")
	wantRetry("with the database down", err)
}
