package questions

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/identity"
)

// testParams keep argon2id cheap in tests.
var testParams = identity.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

type fakeStore struct {
	mu      sync.Mutex
	answers map[string][]Answer
}

func (f *fakeStore) SaveAnswers(_ context.Context, userID string, answers []Answer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[userID] = slices.Clone(answers)
	return nil
}

func (f *fakeStore) ListAnswers(_ context.Context, userID string) ([]Answer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.answers[userID]), nil
}

func (f *fakeStore) DeleteAnswers(_ context.Context, userID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.answers, userID)
	return nil
}

func newTestService(t *testing.T) (*Service, *fakeStore) {
	t.Helper()
	c, err := NewCatalog([]string{"Which bus did you ride?"})
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStore{answers: map[string][]Answer{}}
	return NewService(st, c, identity.NewHasher(testParams, 0)), st
}

var good = choices("q01", "Fluffy the Cat", "q02", "Springfield", "c01", "The 42", "q03", "Bud")

func TestRegister(t *testing.T) {
	ctx := context.Background()
	s, st := newTestService(t)
	if err := s.Register(ctx, "u1", "jdoe", good, 4); err != nil {
		t.Fatal(err)
	}
	got, err := s.Registered(ctx, "u1")
	if err != nil || len(got) != 4 {
		t.Fatalf("Registered = %+v, %v", got, err)
	}
	if got[2].QuestionID != "c01" || got[2].QuestionText != "Which bus did you ride?" {
		t.Fatalf("answer 3 = %+v", got[2])
	}
	for i, a := range got {
		if strings.Contains(strings.ToLower(a.Hash), strings.ToLower(good[i].Answer)) || !strings.HasPrefix(a.Hash, "$argon2id$") {
			t.Fatalf("answer stored as %q", a.Hash)
		}
		if !identity.VerifyPassword(a.Hash, Normalize(good[i].Answer)) {
			t.Fatalf("hash of answer %d does not verify the normalized answer", i+1)
		}
	}

	// A refused registration keeps the old answers.
	err = s.Register(ctx, "u1", "jdoe", choices("q01", "x", "q02", "y", "q03", "z"), 3)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) == 0 || !strings.Contains(err.Error(), "between 3 and 40") {
		t.Fatalf("err = %v, want a ValidationError", err)
	}
	if len(st.answers["u1"]) != 4 {
		t.Fatal("a refused registration changed the answers")
	}
	for _, n := range []int{2, 6} {
		if err := s.Register(ctx, "u1", "jdoe", good, n); err == nil || errors.As(err, &ve) {
			t.Fatalf("required %d: %v, want a policy error", n, err)
		}
	}

	// Registering again replaces the set.
	if err := s.Register(ctx, "u1", "jdoe", good[:3], 3); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Registered(ctx, "u1"); len(got) != 3 {
		t.Fatalf("%d answers after re-registering 3", len(got))
	}
	if err := s.Remove(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Registered(ctx, "u1"); len(got) != 0 {
		t.Fatalf("%d answers after Remove", len(got))
	}
}

func TestDraw(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t)
	if _, err := s.Draw(ctx, "u1", 2); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("no answers: %v, want ErrNotRegistered", err)
	}
	if err := s.Register(ctx, "u1", "jdoe", good, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Draw(ctx, "u1", 5); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("too many: %v, want ErrNotRegistered", err)
	}
	if _, err := s.Draw(ctx, "u1", 0); err == nil {
		t.Fatal("drew 0 questions")
	}
	seen := map[string]int{}
	for range 200 {
		qs, err := s.Draw(ctx, "u1", 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) != 2 || qs[0].ID == qs[1].ID {
			t.Fatalf("drew %+v", qs)
		}
		for _, q := range qs {
			if q.Text == "" {
				t.Fatalf("drew %+v without text", q)
			}
			seen[q.ID]++
		}
	}
	// Each question is drawn half the time; missing one in 200 draws is
	// practically impossible unless the draw is broken.
	if len(seen) != 4 {
		t.Fatalf("drawn questions %v, want all 4", seen)
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t)
	if err := s.Register(ctx, "u1", "jdoe", good, 4); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		answers map[string]string
		want    bool
	}{
		{"right", map[string]string{"q01": "Fluffy the Cat", "c01": "The 42"}, true},
		{"right, typed differently", map[string]string{"q01": "  fluffy THE   cat", "c01": "the 42 "}, true},
		{"one wrong", map[string]string{"q01": "Fluffy the Cat", "c01": "The 43"}, false},
		{"answer to another question", map[string]string{"q01": "Springfield"}, false},
		{"unknown question", map[string]string{"q01": "Fluffy the Cat", "q09": "anything"}, false},
		{"nothing", map[string]string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := s.Check(ctx, "u1", tt.answers); err != nil || got != tt.want {
				t.Fatalf("Check = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if ok, err := s.Check(ctx, "nobody", map[string]string{"q01": "Fluffy the Cat"}); ok || err != nil {
		t.Fatalf("unregistered user: %v, %v", ok, err)
	}
}
