package adminapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is an answer other than success: the API's error body, with the
// HTTP status it came with.
type Error struct {
	Status   int      `json:"-"`
	Code     string   `json:"code"` // stable: unauthorized, forbidden, not_found, invalid, import_rejected, bad_request, unavailable, internal
	Message  string   `json:"message"`
	Problems []string `json:"problems,omitempty"` // every problem of an invalid request
	// RetryAfter is how long a 503 asks the caller to wait before trying
	// again; zero when it named no time.
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("gatehouse admin api: %d", e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if len(e.Problems) > 0 {
		msg += " (" + strings.Join(e.Problems, "; ") + ")"
	}
	return msg
}

// Temporary reports whether the same call may succeed later unchanged: the
// server, or the storage behind it, could not answer.
func (e *Error) Temporary() bool {
	return e.Status == http.StatusServiceUnavailable || e.Status == http.StatusBadGateway || e.Status == http.StatusGatewayTimeout
}

// IsNotFound reports whether err is the API saying that what was asked for
// does not exist. A server that could not answer is not that: a 5xx never
// reads as "not found".
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
