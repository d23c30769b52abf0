package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/store"
)

func newMethods(userID string) []mfa.Method {
	return []mfa.Method{
		{ID: userID + "-app", UserID: userID, Kind: mfa.App, Secret: []byte("sealed totp secret"), Factor: mfa.FactorApp,
			IsDefault: true, CreatedAt: t0},
		{ID: userID + "-phone", UserID: userID, Kind: mfa.Phone, Phone: "+17045550112", Factor: mfa.FactorSMS,
			CreatedAt: t0.Add(time.Minute)},
		{ID: userID + "-email", UserID: userID, Kind: mfa.Email, Email: "mary@home.example", Factor: mfa.FactorEmail,
			CreatedAt: t0.Add(2 * time.Minute)},
	}
}

func createMethods(t *testing.T, db Store, userID string) []mfa.Method {
	t.Helper()
	ms := newMethods(userID)
	for i := range ms {
		must(t, db.CreateMethod(t.Context(), &ms[i]))
	}
	return ms
}

func testMethods(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	createUser(t, db, "u1")
	createUser(t, db, "u2")
	if got, err := db.ListMethods(ctx, "u1"); err != nil || len(got) != 0 {
		t.Fatalf("ListMethods before any = %+v, %v", got, err)
	}
	ms := createMethods(t, db, "u1")
	other := createMethods(t, db, "u2")
	for i := range ms {
		if !ms[i].CreatedAt.Equal(stored(t0.Add(time.Duration(i)*time.Minute))) || ms[i].CreatedAt.Location() != time.UTC {
			t.Fatalf("CreatedAt normalised to %v", ms[i].CreatedAt)
		}
	}
	got, err := db.ListMethods(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, got, ms)

	dup := newMethods("u1")[0]
	mustIs(t, db.CreateMethod(ctx, &dup), store.ErrAlreadyExists)
	orphan := newMethods("nobody")[0]
	mustIs(t, db.CreateMethod(ctx, &orphan), store.ErrNotFound)

	// A method is deleted only by its owner.
	mustIs(t, db.DeleteMethod(ctx, "u2", ms[1].ID), store.ErrNotFound)
	mustIs(t, db.DeleteMethod(ctx, "u1", "missing"), store.ErrNotFound)
	must(t, db.DeleteMethod(ctx, "u1", ms[1].ID))
	got, _ = db.ListMethods(ctx, "u1")
	mustEqual(t, got, []mfa.Method{ms[0], ms[2]})
	got, _ = db.ListMethods(ctx, "u2")
	mustEqual(t, got, other)

	// Deleting the user deletes their methods.
	must(t, db.DeleteUser(ctx, "u2"))
	createUser(t, db, "u2")
	if got, _ := db.ListMethods(ctx, "u2"); len(got) != 0 {
		t.Fatalf("methods survived their user: %+v", got)
	}
}

func testDefaultMethod(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	createUser(t, db, "u1")
	createUser(t, db, "u2")
	ms := createMethods(t, db, "u1")
	other := createMethods(t, db, "u2")

	must(t, db.SetDefaultMethod(ctx, "u1", ms[2].ID))
	got, _ := db.ListMethods(ctx, "u1")
	for _, m := range got {
		if m.IsDefault != (m.ID == ms[2].ID) {
			t.Fatalf("after SetDefaultMethod(%s): %s IsDefault = %v", ms[2].ID, m.ID, m.IsDefault)
		}
	}
	// Another person's method, or none: nothing changes.
	mustIs(t, db.SetDefaultMethod(ctx, "u1", other[1].ID), store.ErrNotFound)
	mustIs(t, db.SetDefaultMethod(ctx, "u1", "missing"), store.ErrNotFound)
	if again, _ := db.ListMethods(ctx, "u1"); !equalMethods(again, got) {
		t.Fatalf("a refused SetDefaultMethod changed the methods: %+v", again)
	}
	if got, _ := db.ListMethods(ctx, "u2"); !equalMethods(got, other) {
		t.Fatalf("another user's methods changed: %+v", got)
	}
}

func equalMethods(a, b []mfa.Method) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].IsDefault != b[i].IsDefault {
			return false
		}
	}
	return true
}

func testResetMethods(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	createUser(t, db, "u1")
	createUser(t, db, "u2")
	createMethods(t, db, "u1")
	other := createMethods(t, db, "u2")
	prompted := t0.Add(-time.Hour)
	must(t, db.SaveState(ctx, &mfa.State{UserID: "u1", Skips: 2, FirstPromptedAt: &prompted}))

	must(t, db.ResetMethods(ctx, "u1", t0, audit.Event{Type: "mfa.methods_reset", SubjectID: "u1"}))
	if got, _ := db.ListMethods(ctx, "u1"); len(got) != 0 {
		t.Fatalf("methods left after ResetMethods: %+v", got)
	}
	st, err := db.GetState(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	// The reset is recorded beside the state already kept.
	wantPrompted, wantReset := stored(prompted), stored(t0)
	mustEqual(t, *st, mfa.State{UserID: "u1", Skips: 2, FirstPromptedAt: &wantPrompted, MethodsResetAt: &wantReset})
	if got, _ := db.ListMethods(ctx, "u2"); len(got) != len(other) {
		t.Fatalf("ResetMethods of u1 touched u2: %+v", got)
	}
	mustIs(t, db.ResetMethods(ctx, "nobody", t0, audit.Event{Type: "mfa.methods_reset"}), store.ErrNotFound)
}

func testMFAState(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	createUser(t, db, "u1")
	st, err := db.GetState(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, *st, mfa.State{UserID: "u1"})
	// Unlike a user, a state never stored is a zero State, not ErrNotFound.
	if st, err := db.GetState(ctx, "nobody"); err != nil || st.UserID != "nobody" || st.Skips != 0 {
		t.Fatalf("GetState(nobody) = %+v, %v", st, err)
	}

	prompted := t0
	must(t, db.SaveState(ctx, &mfa.State{UserID: "u1", Skips: 1, FirstPromptedAt: &prompted}))
	st, _ = db.GetState(ctx, "u1")
	want := stored(t0)
	mustEqual(t, *st, mfa.State{UserID: "u1", Skips: 1, FirstPromptedAt: &want})
	// Saving replaces every field, nil ones included.
	must(t, db.SaveState(ctx, &mfa.State{UserID: "u1", Skips: 3}))
	st, _ = db.GetState(ctx, "u1")
	mustEqual(t, *st, mfa.State{UserID: "u1", Skips: 3})

	mustIs(t, db.SaveState(ctx, &mfa.State{UserID: "nobody", Skips: 1}), store.ErrNotFound)
}

// The registration report reads every user's kinds of method and state at
// once.
func testRegistrations(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	if counts, err := db.MethodKindCounts(ctx); err != nil || len(counts) != 0 {
		t.Fatalf("MethodKindCounts of an empty store = %v, %v", counts, err)
	}
	if states, err := db.ListStates(ctx); err != nil || len(states) != 0 {
		t.Fatalf("ListStates of an empty store = %v, %v", states, err)
	}
	for _, id := range []string{"u1", "u2", "u3"} {
		createUser(t, db, id)
	}
	createMethods(t, db, "u1")
	// Two phones are one kind.
	for _, m := range []mfa.Method{
		{ID: "u2-phone", UserID: "u2", Kind: mfa.Phone, Phone: "+17045550112", Factor: mfa.FactorSMS},
		{ID: "u2-phone2", UserID: "u2", Kind: mfa.Phone, Phone: "+17045550113", Factor: mfa.FactorVoice},
	} {
		must(t, db.CreateMethod(ctx, &m))
	}
	counts, err := db.MethodKindCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, counts, map[string]int{"u1": 3, "u2": 1})

	prompted := t0
	must(t, db.SaveState(ctx, &mfa.State{UserID: "u1", Skips: 1, FirstPromptedAt: &prompted}))
	must(t, db.SaveState(ctx, &mfa.State{UserID: "u3", Skips: 2}))
	states, err := db.ListStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := stored(t0)
	mustEqual(t, states, map[string]mfa.State{"u1": {UserID: "u1", Skips: 1, FirstPromptedAt: &want}, "u3": {UserID: "u3", Skips: 2}})
}
