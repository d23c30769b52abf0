package questions

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"

	"github.com/gatehouse/gatehouse/internal/identity"
)

// Answer is a registered answer: only its argon2id hash is kept. The
// question's text is copied so a custom question the district later edits
// or removes still reads as the user answered it.
type Answer struct {
	QuestionID   string
	QuestionText string
	Hash         string // argon2id PHC string of the normalized answer
}

// Store keeps each user's registered answers.
type Store interface {
	// SaveAnswers replaces the user's answers in one transaction.
	SaveAnswers(ctx context.Context, userID string, answers []Answer) error
	ListAnswers(ctx context.Context, userID string) ([]Answer, error)
	DeleteAnswers(ctx context.Context, userID string) error
}

// Service registers and checks security answers.
type Service struct {
	store   Store
	catalog Catalog
	hasher  *identity.Hasher
}

// NewService returns a Service over st offering catalog's questions, hashing
// answers with hasher (the one passwords use, so both share its bound).
func NewService(st Store, catalog Catalog, hasher *identity.Hasher) *Service {
	return &Service{store: st, catalog: catalog, hasher: hasher}
}

// Catalog is the questions users may choose from.
func (s *Service) Catalog() Catalog { return s.catalog }

// Register replaces the user's answers with choices, which must pass
// Validate (a *ValidationError otherwise). required is the district's
// policy, MinRequired to MaxRequired.
func (s *Service) Register(ctx context.Context, userID, username string, choices []Choice, required int) error {
	if required < MinRequired || required > MaxRequired {
		return fmt.Errorf("questions: %d required answers is outside the policy (%d to %d)", required, MinRequired, MaxRequired)
	}
	if problems := Validate(s.catalog, username, choices, required); len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	answers := make([]Answer, len(choices))
	for i, ch := range choices {
		q, _ := s.catalog.Find(ch.QuestionID)
		hash, err := s.hasher.Hash(ctx, Normalize(ch.Answer))
		if err != nil {
			return err
		}
		answers[i] = Answer{QuestionID: q.ID, QuestionText: q.Text, Hash: hash}
	}
	return s.store.SaveAnswers(ctx, userID, answers)
}

// Registered returns the user's answers (hashes only).
func (s *Service) Registered(ctx context.Context, userID string) ([]Answer, error) {
	return s.store.ListAnswers(ctx, userID)
}

// Remove deletes the user's answers.
func (s *Service) Remove(ctx context.Context, userID string) error {
	return s.store.DeleteAnswers(ctx, userID)
}

// Draw picks m of the user's registered questions at random. A reset
// draws again after a wrong answer, so guessing cannot focus on one
// question. ErrNotRegistered when the user has fewer than m.
func (s *Service) Draw(ctx context.Context, userID string, m int) ([]Question, error) {
	if m < 1 {
		return nil, fmt.Errorf("questions: cannot draw %d questions", m)
	}
	answers, err := s.store.ListAnswers(ctx, userID)
	if err != nil {
		return nil, err
	}
	if len(answers) < m {
		return nil, ErrNotRegistered
	}
	perm := mrand.New(cryptoSource{}).Perm(len(answers))
	qs := make([]Question, m)
	for i := range qs {
		a := answers[perm[i]]
		qs[i] = Question{ID: a.QuestionID, Text: a.QuestionText}
	}
	return qs, nil
}

// cryptoSource feeds math/rand/v2 (for its unbiased Perm) from crypto/rand,
// so the draw cannot be predicted.
type cryptoSource struct{}

func (cryptoSource) Uint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails: it crashes the program instead
	return binary.LittleEndian.Uint64(b[:])
}

// Check reports whether answers (question ID to answer, for the drawn
// questions) are all right. It runs every verification, an unknown ID
// against a dummy hash, so its timing does not tell which answer was wrong.
// No answers at all is never right.
func (s *Service) Check(ctx context.Context, userID string, answers map[string]string) (bool, error) {
	registered, err := s.store.ListAnswers(ctx, userID)
	if err != nil {
		return false, err
	}
	hashes := make(map[string]string, len(registered))
	for _, a := range registered {
		hashes[a.QuestionID] = a.Hash
	}
	ok := len(answers) > 0
	for id, answer := range answers {
		match, err := s.hasher.Verify(ctx, hashes[id], Normalize(answer))
		if err != nil {
			return false, err
		}
		ok = ok && match
	}
	return ok, nil
}
