package delivery

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Outbox is the embedded default sender. It delivers nothing: it appends
// each message, one-time codes included and in clear, to a JSON-lines file
// and prints a summary, because developers and the browser tests read codes
// from there. It is not for production; the file is private to its owner.
type Outbox struct {
	path   string
	stdout io.Writer
	mu     sync.Mutex // one message per line, even from concurrent sends
}

// OutboxEntry is one line of the outbox file.
type OutboxEntry struct {
	Time time.Time `json:"time"`
	Message
}

// NewOutbox creates path (mode 0600, its directory 0700) if it is missing,
// so a bad path fails at startup. A nil stdout prints nothing.
func NewOutbox(path string, stdout io.Writer) (*Outbox, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if stdout == nil {
		stdout = io.Discard
	}
	return &Outbox{path: path, stdout: stdout}, nil
}

// Send reopens the file each time so that deleting it (to clear old codes)
// works while the server runs.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	line, err := json.Marshal(OutboxEntry{Time: time.Now().UTC(), Message: m})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	_, err = fmt.Fprintln(o.stdout, summary(m))
	return err
}

// summary is one line: "[outbox] sms to +17045550112: <text>".
func summary(m Message) string {
	body := m.Text
	switch {
	case m.Channel == Voice:
		body = m.Speech
	case m.Subject != "":
		body = m.Subject + " | " + body
	}
	return fmt.Sprintf("[outbox] %s to %s: %s", m.Channel, m.To, strings.Join(strings.Fields(body), " "))
}

// ReadOutbox returns the entries in the outbox file at path, oldest first;
// a missing file has none. Tests use it to find the codes sent.
func ReadOutbox(path string) ([]OutboxEntry, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var entries []OutboxEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var e OutboxEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return entries, nil
}
