package storetest

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/questions"
	"github.com/gatehouse/gatehouse/internal/store"
)

func testSecurityAnswers(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	createUser(t, db, "u1")
	createUser(t, db, "u2")

	if got, err := db.ListAnswers(ctx, "u1"); err != nil || len(got) != 0 {
		t.Fatalf("ListAnswers before registering = %+v, %v", got, err)
	}
	answers := []questions.Answer{
		{QuestionID: "q02", QuestionText: "In what city were you born?", Hash: "$argon2id$b"},
		{QuestionID: "c01", QuestionText: "Which bus did you ride?", Hash: "$argon2id$a"},
	}
	if err := db.SaveAnswers(ctx, "u1", answers); err != nil {
		t.Fatal(err)
	}
	other := []questions.Answer{{QuestionID: "q01", QuestionText: "What was the name of your first pet?", Hash: "$argon2id$o"}}
	if err := db.SaveAnswers(ctx, "u2", other); err != nil {
		t.Fatal(err)
	}
	got, err := db.ListAnswers(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, got, []questions.Answer{answers[1], answers[0]}) // by question ID

	// Saving replaces the whole set.
	if err := db.SaveAnswers(ctx, "u1", answers[:1]); err != nil {
		t.Fatal(err)
	}
	got, _ = db.ListAnswers(ctx, "u1")
	mustEqual(t, got, answers[:1])

	// A failing save leaves the old set: here a question repeated in it.
	err = db.SaveAnswers(ctx, "u1", []questions.Answer{answers[1], answers[1]})
	mustIs(t, err, store.ErrAlreadyExists)
	got, _ = db.ListAnswers(ctx, "u1")
	mustEqual(t, got, answers[:1])

	mustIs(t, db.SaveAnswers(ctx, "nobody", answers), store.ErrNotFound)

	if err := db.DeleteAnswers(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.ListAnswers(ctx, "u1"); len(got) != 0 {
		t.Fatalf("answers after delete: %+v", got)
	}
	if err := db.DeleteAnswers(ctx, "u1"); err != nil {
		t.Fatalf("deleting no answers: %v", err)
	}

	// Deleting the user deletes their answers.
	if err := db.DeleteUser(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	createUser(t, db, "u2")
	if got, _ := db.ListAnswers(ctx, "u2"); len(got) != 0 {
		t.Fatalf("answers survived their user: %+v", got)
	}
}
