// Package questions holds the security questions a user answers for
// self-service password reset. They prove little on their own, so they are
// used for that reset only and never count as a second factor.
package questions

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Question is one question a user may choose.
type Question struct {
	ID   string
	Text string
}

// defaults avoid questions whose answers are public or guessable by
// classmates and staff (school, mascot, teachers, mother's maiden name).
var defaults = []string{
	"What was the name of your first pet?",
	"In what city were you born?",
	"What was your childhood nickname?",
	"What is the first name of your favorite childhood friend?",
	"What was the make and model of your first car?",
	"In what city did your parents meet?",
	"What was your favorite food as a child?",
	"What was the first concert you attended?",
	"In what city was your mother born?",
	"In what city was your father born?",
	"What was the name of the street you grew up on?",
	"What was the name of your favorite stuffed animal or toy?",
	"What was the first thing you bought with your own money?",
	"What is the middle name of your oldest sibling?",
	"In what city or town did your grandparents live?",
	"What was the first movie you saw in a theater?",
	"What did you want to be when you grew up?",
	"Where did you go on your first vacation?",
	"What was the first video game you played?",
	"What was your favorite cartoon as a child?",
	"What was your favorite board game as a child?",
	"What was the first thing you learned to cook?",
	"In what city does your nearest sibling live?",
	"What is the first name of your oldest cousin?",
	"What was your favorite holiday tradition as a child?",
	"What was your favorite flavor of ice cream as a child?",
	"What was the name of your favorite babysitter?",
	"What was your favorite song as a child?",
	"In what city did you have your first job?",
	"What is the name of the first beach or lake you remember visiting?",
}

// Defaults returns the predefined questions, IDs "q01" to "q30".
func Defaults() []Question {
	qs := make([]Question, len(defaults))
	for i, text := range defaults {
		qs[i] = Question{ID: fmt.Sprintf("q%02d", i+1), Text: text}
	}
	return qs
}

// Limits on the district's own questions.
const (
	MaxCustom       = 20
	MaxCustomLength = 200 // characters
)

// Catalog is every question users may choose from.
type Catalog []Question

// NewCatalog is the predefined questions followed by custom, the district's
// own (IDs "c01" to "c20", in the order given).
func NewCatalog(custom []string) (Catalog, error) {
	if len(custom) > MaxCustom {
		return nil, fmt.Errorf("questions: %d custom questions; at most %d are allowed", len(custom), MaxCustom)
	}
	c := Catalog(Defaults())
	seen := map[string]bool{}
	for _, q := range c {
		seen[Normalize(q.Text)] = true
	}
	for i, text := range custom {
		text = strings.TrimSpace(text)
		switch n := utf8.RuneCountInString(text); {
		case n == 0:
			return nil, fmt.Errorf("questions: custom question %d is empty", i+1)
		case n > MaxCustomLength:
			return nil, fmt.Errorf("questions: custom question %d is %d characters long; at most %d are allowed", i+1, n, MaxCustomLength)
		case seen[Normalize(text)]:
			// A repeat would let a user answer the same question twice.
			return nil, fmt.Errorf("questions: custom question %d (%q) is already in the list", i+1, text)
		}
		seen[Normalize(text)] = true
		c = append(c, Question{ID: fmt.Sprintf("c%02d", i+1), Text: text})
	}
	return c, nil
}

// Find returns the question with id.
func (c Catalog) Find(id string) (Question, bool) {
	i := slices.IndexFunc(c, func(q Question) bool { return q.ID == id })
	if i < 0 {
		return Question{}, false
	}
	return c[i], true
}

// Choice is one question a user chose and their answer, in clear.
type Choice struct {
	QuestionID string
	Answer     string
}

// Normalize makes an answer compare equal however it is typed at reset:
// NFKC, case folded, runs of white space made one space, trimmed. NFKC runs
// again after folding, which can leave a string unnormalized.
func Normalize(answer string) string {
	s := norm.NFKC.String(cases.Fold().String(norm.NFKC.String(answer)))
	return strings.Join(strings.Fields(s), " ")
}

// Policy limits.
const (
	MinRequired     = 3
	MaxRequired     = 5
	MinAnswerLength = 3  // characters of the normalized answer
	MaxAnswerLength = 40 // characters of the normalized answer
	minWordLength   = 4  // question words shorter than this may appear in answers
	minNameLength   = 3  // usernames shorter than this may appear in answers
)

// Validate returns every problem with a registration of exactly required
// answers for username, each a sentence to show the user; none when it is
// acceptable.
func Validate(c Catalog, username string, choices []Choice, required int) []string {
	var problems []string
	add := func(p string) {
		if !slices.Contains(problems, p) {
			problems = append(problems, p)
		}
	}
	chosen := map[string]bool{}
	for _, ch := range choices {
		if _, known := c.Find(ch.QuestionID); !known || chosen[ch.QuestionID] {
			add(fmt.Sprintf("Choose %d different questions.", required))
		}
		chosen[ch.QuestionID] = true
	}
	if len(choices) != required {
		add(fmt.Sprintf("Choose %d different questions.", required))
	}

	local, _, _ := strings.Cut(username, "@")
	local = Normalize(local)
	answered := map[string]bool{}
	for i, ch := range choices {
		q, known := c.Find(ch.QuestionID)
		label := fmt.Sprintf("Answer %d", i+1)
		if known {
			label = fmt.Sprintf("The answer to \"%s\"", q.Text)
		}
		a := Normalize(ch.Answer)
		if n := utf8.RuneCountInString(a); n < MinAnswerLength || n > MaxAnswerLength {
			add(fmt.Sprintf("%s must be between %d and %d characters long.", label, MinAnswerLength, MaxAnswerLength))
		}
		if a != "" && answered[a] {
			add("No question can have the same answer. All answers must be unique.")
		}
		answered[a] = true
		if utf8.RuneCountInString(local) >= minNameLength && strings.Contains(a, local) {
			add(fmt.Sprintf("%s must not contain your username.", label))
		}
		if known {
			if used := sharedWords(q.Text, a); len(used) > 0 {
				add(fmt.Sprintf("%s must not use words from the question (\"%s\").", label, strings.Join(used, "\", \"")))
			}
		}
	}
	return problems
}

// sharedWords returns the words of at least minWordLength letters that the
// normalized answer takes whole from the question. Whole words, so
// "seafood" may answer a question about food.
func sharedWords(question, answer string) []string {
	answerWords := words(answer)
	var used []string
	for _, w := range words(Normalize(question)) {
		if utf8.RuneCountInString(w) >= minWordLength && slices.Contains(answerWords, w) && !slices.Contains(used, w) {
			used = append(used, w)
		}
	}
	return used
}

func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// ValidationError lists why a registration was refused.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, " ") }

// ErrNotRegistered means the user has fewer registered questions than asked
// for.
var ErrNotRegistered = errors.New("questions: not enough security questions registered")
