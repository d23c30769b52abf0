package questions

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDefaults(t *testing.T) {
	qs := Defaults()
	if len(qs) != 30 || qs[0].ID != "q01" || qs[29].ID != "q30" {
		t.Fatalf("%d defaults, first %q, last %q", len(qs), qs[0].ID, qs[len(qs)-1].ID)
	}
	seen := map[string]bool{}
	for _, q := range qs {
		n := Normalize(q.Text)
		if seen[n] || !strings.HasSuffix(q.Text, "?") || utf8.RuneCountInString(q.Text) > MaxCustomLength {
			t.Errorf("bad or repeated question %+v", q)
		}
		seen[n] = true
		for _, banned := range []string{"school", "mascot", "teacher", "maiden"} {
			if strings.Contains(n, banned) {
				t.Errorf("%q mentions %q, which classmates or public records may reveal", q.Text, banned)
			}
		}
	}
	qs[0].Text = "changed"
	if Defaults()[0].Text == "changed" {
		t.Fatal("Defaults returns shared storage")
	}
}

func TestNewCatalog(t *testing.T) {
	c, err := NewCatalog([]string{"  What was the name of your first robot?  ", "Which bus did you ride?"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 32 {
		t.Fatalf("%d questions, want 32", len(c))
	}
	if q, ok := c.Find("c01"); !ok || q.Text != "What was the name of your first robot?" {
		t.Fatalf("Find(c01) = %+v, %v", q, ok)
	}
	if q, ok := c.Find("q02"); !ok || q.Text != "In what city were you born?" {
		t.Fatalf("Find(q02) = %+v, %v", q, ok)
	}
	if _, ok := c.Find("c03"); ok {
		t.Fatal("found c03")
	}

	twenty := make([]string, MaxCustom)
	for i := range twenty {
		twenty[i] = fmt.Sprintf("Custom question number %d?", i)
	}
	if c, err := NewCatalog(twenty); err != nil || c[len(c)-1].ID != "c20" {
		t.Fatalf("20 custom questions: %v", err)
	}
	tests := []struct {
		name   string
		custom []string
		want   string
	}{
		{"too many", append(twenty, "One more?"), "at most 20"},
		{"too long", []string{strings.Repeat("é", 201)}, "at most 200"},
		{"empty", []string{"Fine?", "  "}, "custom question 2 is empty"},
		{"repeats a default", []string{"what was the name of your FIRST pet?"}, "already"},
		{"repeated", []string{"Fine?", "fine?"}, "already"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewCatalog(tt.custom); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := NewCatalog([]string{strings.Repeat("é", 200)}); err != nil {
		t.Fatalf("200 characters refused: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Fluffy   the CAT ", "fluffy the cat"},
		{"Fluffy\tthe\n\u00a0cat", "fluffy the cat"},
		{"ＦＬＵＦＦＹ", "fluffy"},   // fullwidth
		{"Straße", "strasse"},  // full case folding
		{"Cafe\u0301", "café"}, // composed
		{"ℌello", "hello"},     // compatibility letter folded after NFKC
		{"ΣΊΣΥΦΟΣ", "σίσυφοσ"}, // final sigma folds like any sigma
		{"", ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func choices(pairs ...string) []Choice {
	var cs []Choice
	for i := 0; i < len(pairs); i += 2 {
		cs = append(cs, Choice{QuestionID: pairs[i], Answer: pairs[i+1]})
	}
	return cs
}

func TestValidate(t *testing.T) {
	c, err := NewCatalog([]string{"Which bus did you ride?"})
	if err != nil {
		t.Fatal(err)
	}
	const pet = `The answer to "What was the name of your first pet?"`
	tests := []struct {
		name    string
		choices []Choice
		want    []string
	}{
		{"fine", choices("q01", "Fluffy", "q02", "Springfield", "c01", "The 42"), nil},
		{"too few", choices("q01", "Fluffy", "q02", "Springfield"), []string{"Choose 3 different questions."}},
		{"too many", choices("q01", "Fluffy", "q02", "Springfield", "q03", "Bud", "q04", "Sam"), []string{"Choose 3 different questions."}},
		{"repeated question", choices("q01", "Fluffy", "q01", "Rex", "q02", "Springfield"), []string{"Choose 3 different questions."}},
		{"unknown question", choices("q01", "Fluffy", "q99", "Rex", "q02", "Springfield"), []string{"Choose 3 different questions."}},
		{"same answer after normalizing", choices("q01", "Fluffy", "q03", " FLUFFY ", "q02", "Springfield"),
			[]string{"No question can have the same answer. All answers must be unique."}},
		{"too short", choices("q01", "Al", "q02", "Springfield", "q03", "Bud"), []string{pet + " must be between 3 and 40 characters long."}},
		{"short after trimming", choices("q01", "  Al  ", "q02", "Springfield", "q03", "Bud"), []string{pet + " must be between 3 and 40 characters long."}},
		{"too long", choices("q01", strings.Repeat("ü", 41), "q02", "Springfield", "q03", "Bud"), []string{pet + " must be between 3 and 40 characters long."}},
		{"40 characters", choices("q01", strings.Repeat("ü", 40), "q02", "Springfield", "q03", "Bud"), nil},
		{"username", choices("q01", "Mr JDoe's dog", "q02", "Springfield", "q03", "Bud"), []string{pet + " must not contain your username."}},
		{"question words", choices("q01", "First pet name", "q02", "Springfield", "q03", "Bud"),
			[]string{pet + ` must not use words from the question ("name", "first").`}},
		{"short question words and parts of words are fine", choices("q01", "Pet Firstborn", "q02", "Springfield", "q03", "Bud"), nil},
		{"several problems", choices("q01", "x", "q01", "x"), []string{
			"Choose 3 different questions.",
			pet + " must be between 3 and 40 characters long.",
			"No question can have the same answer. All answers must be unique.",
		}},
		{"unknown question's answer still checked", choices("q01", "Fluffy", "zz", "ab", "q02", "Springfield"), []string{
			"Choose 3 different questions.",
			"Answer 2 must be between 3 and 40 characters long.",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Validate(c, "jdoe@district.example", tt.choices, 3)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("problems\n got %q\nwant %q", got, tt.want)
			}
		})
	}
	// A short username would refuse too many answers; it is not checked.
	if got := Validate(c, "al@district.example", choices("q01", "Sally", "q02", "Springfield", "q03", "Bud"), 3); got != nil {
		t.Fatalf("short username: %q", got)
	}
	if got := Validate(c, "jdoe", nil, 5); !slices.Equal(got, []string{"Choose 5 different questions."}) {
		t.Fatalf("no choices: %q", got)
	}
}
