package console

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store"
)

// A page that shows a secret (a new client secret, a temporary password,
// an access code) is reached by a redirect after the POST that made it, so
// reloading it never repeats the action. What it shows is kept for a few
// minutes under the console session that asked, sealed with a key derived
// from that session's cookie (Redis never holds it readable), and read
// once: a reload finds it gone.

const resultLifetime = 5 * time.Minute

// oneTimeResult is a result page waiting to be shown: Secret for a client
// secret, Password for a temporary password or access code.
type oneTimeResult struct {
	Title    string        `json:"title"`
	Secret   *secretPage   `json:"secret,omitempty"`
	Password *passwordPage `json:"password,omitempty"`
}

func resultKey(sessionToken, id string) string {
	return "admin-result:" + digest(sessionToken) + ":" + id
}

func resultBox(sessionToken string) (*secrets.Box, error) {
	return secrets.NewBox(secrets.Derive([]byte(sessionToken), "console-result"))
}

// showOnce keeps res for its page and sends the browser there.
func (c *Console) showOnce(q *request, res oneTimeResult) {
	plain, err := json.Marshal(res)
	box, boxErr := resultBox(q.session)
	if err = errors.Join(err, boxErr); err == nil {
		id := base64.RawURLEncoding.EncodeToString(secrets.RandomToken(16))
		if err = c.kv.Put(q.r.Context(), resultKey(q.session, id), box.Seal(plain, []byte(id)), resultLifetime); err == nil {
			http.Redirect(q.w, q.r, Prefix+"/result/"+id, http.StatusSeeOther)
			return
		}
	}
	// The action is done; only its result is lost. Say so, rather than
	// invite a repeat that would make yet another secret.
	c.failFor(q, http.StatusServiceUnavailable, "Done, but not shown",
		"That was done, but its result couldn't be kept to show you. Don't repeat it from here: open the page again and reset or rotate once more to get a new one.", err)
}

// showResult shows a kept result, once.
func (c *Console) showResult(q *request) {
	id := q.r.PathValue("id")
	sealed, err := c.kv.Take(q.r.Context(), resultKey(q.session, id))
	if errors.Is(err, store.ErrNotFound) {
		c.failFor(q, http.StatusGone, "Already shown",
			"This page showed a secret, password or code once, and it is gone now: reloading can't show it again, and nothing was done again. If it was lost, reset or rotate it once more.", nil)
		return
	}
	var res oneTimeResult
	if err == nil {
		var box *secrets.Box
		if box, err = resultBox(q.session); err == nil {
			var plain []byte
			if plain, err = box.Open(sealed, []byte(id)); err == nil {
				err = json.Unmarshal(plain, &res)
			}
		}
	}
	switch {
	case err != nil:
		c.failFor(q, http.StatusServiceUnavailable, "Result unavailable", "We couldn't load this result. Try again in a moment.", err)
	case res.Secret != nil:
		c.render(q.w, http.StatusOK, "client_secret", c.view(q, res.Title, *res.Secret))
	case res.Password != nil:
		c.render(q.w, http.StatusOK, "user_password", c.view(q, res.Title, *res.Password))
	default:
		c.failFor(q, http.StatusInternalServerError, "Result unavailable", "We couldn't load this result.", errors.New("an empty console result"))
	}
}
