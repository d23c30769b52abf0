package delivery_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/delivery"
)

func TestOutbox(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "outbox.jsonl")
	var stdout bytes.Buffer
	o, err := delivery.NewOutbox(path, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode(), err, want)
		}
	}

	sent := []delivery.Message{
		delivery.CodeMessage(delivery.SMS, "Example District", "+17045550112", "123456", 5*time.Minute),
		delivery.CodeMessage(delivery.Voice, "Example District", "+17045550113", "654321", 5*time.Minute),
		delivery.CodeMessage(delivery.Email, "Example District", "jdoe@district.example", "111222", 10*time.Minute),
	}
	before := time.Now().Add(-time.Second)
	for _, m := range sent {
		if err := o.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}

	got, err := delivery.ReadOutbox(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sent) {
		t.Fatalf("ReadOutbox returned %d entries, want %d", len(got), len(sent))
	}
	for i, e := range got {
		if e.Message != sent[i] {
			t.Errorf("entry %d = %+v, want %+v", i, e.Message, sent[i])
		}
		if e.Time.Before(before) || e.Time.After(time.Now()) {
			t.Errorf("entry %d time = %v", i, e.Time)
		}
	}

	// The file format is what other tools read: one object per line.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != len(sent) {
		t.Fatalf("file has %d lines, want %d:\n%s", len(lines), len(sent), raw)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range first {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"channel", "speech", "subject", "text", "time", "to"}; !slices.Equal(keys, want) {
		t.Errorf("line keys = %q, want %q", keys, want)
	}
	if first["channel"] != "sms" || first["to"] != "+17045550112" {
		t.Errorf("first line = %s", lines[0])
	}

	wantStdout := "[outbox] sms to +17045550112: Use verification code 123456 for your Example District account. It expires in 5 minutes.\n" +
		"[outbox] voice to +17045550113: This is Example District. Your verification code is 6. 5. 4. 3. 2. 1. Again, your code is 6. 5. 4. 3. 2. 1.\n" +
		"[outbox] email to jdoe@district.example: Your Example District verification code | Your Example District verification code is: 111222 It expires in 10 minutes."
	if !strings.HasPrefix(stdout.String(), wantStdout) || strings.Count(stdout.String(), "\n") != len(sent) {
		t.Errorf("stdout =\n%s\nwant one line per message starting\n%s", stdout.String(), wantStdout)
	}
}

func TestOutboxConcurrentSends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	o, err := delivery.NewOutbox(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Large enough that unsynchronised writes would interleave.
			text := strings.Repeat(fmt.Sprintf("%c", 'A'+i%26), 32<<10)
			if err := o.Send(context.Background(), delivery.Message{Channel: delivery.SMS, To: fmt.Sprint(i), Text: text}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("line %d is not one JSON object: %.80s…", lines, sc.Bytes())
		}
	}
	if lines != n {
		t.Fatalf("%d lines, want %d", lines, n)
	}

	got, err := delivery.ReadOutbox(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range got {
		var i int
		fmt.Sscan(e.To, &i)
		if e.Text != strings.Repeat(fmt.Sprintf("%c", 'A'+i%26), 32<<10) {
			t.Errorf("message to %s has the wrong text", e.To)
		}
		seen[e.To] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct messages, want %d", len(seen), n)
	}
}

func TestOutboxFileRemoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	if got, err := delivery.ReadOutbox(path); got != nil || err != nil {
		t.Errorf("ReadOutbox of a missing file = %v, %v; want nothing", got, err)
	}
	o, err := delivery.NewOutbox(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := delivery.Message{Channel: delivery.SMS, To: "+17045550112", Text: "old"}
	if err := o.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	m.Text = "new"
	if err := o.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got, err := delivery.ReadOutbox(path)
	if err != nil || len(got) != 1 || got[0].Text != "new" {
		t.Errorf("after removal ReadOutbox = %+v, %v; want only the new message", got, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("recreated file mode = %v, %v", fi.Mode(), err)
	}
}

func TestNewOutboxBadPath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := delivery.NewOutbox(filepath.Join(file, "outbox.jsonl"), nil); err == nil {
		t.Error("NewOutbox under a regular file succeeded")
	}
}
