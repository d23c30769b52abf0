package identity

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// RowError is one refused line of an import file.
type RowError struct {
	Line int
	Msg  string
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ImportFileError is a file the importer cannot read at all (a bad header,
// broken quoting): nothing in it is imported.
type ImportFileError struct{ Msg string }

func (e *ImportFileError) Error() string { return e.Msg }

// ImportReport tells what an import did, or (previewed) would do.
type ImportReport struct {
	Created, Updated, Unchanged int
	Rejected                    []RowError
	Rows                        []ImportRow // every row's outcome, in file order
}

// Row outcomes.
const (
	OutcomeCreate    = "create"
	OutcomeUpdate    = "update"
	OutcomeUnchanged = "unchanged"
	OutcomeReject    = "reject"
)

// ImportRow is the outcome of one row.
type ImportRow struct {
	Line     int
	Username string
	UserID   string        // the account the row creates or changes
	Outcome  string        // OutcomeCreate, OutcomeUpdate, OutcomeUnchanged or OutcomeReject
	Changes  []FieldChange // what a create sets or an update changes
	Message  string        // why a row was rejected: every problem, "; "-separated
	// Privileged is set when the row matches someone who holds a role.
	Privileged bool
}

// FieldChange is one field an import sets. A password's value is never
// shown, only that it is set.
type FieldChange struct {
	Field  string `json:"field"` // email, display_name, roles, groups or password
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// Sets reports whether the row sets field.
func (r ImportRow) Sets(field string) bool {
	return slices.ContainsFunc(r.Changes, func(c FieldChange) bool { return c.Field == field })
}

// ImportOptions choose how an import treats bad rows and passwords.
type ImportOptions struct {
	ContinueOnError bool // write the good rows even when some are rejected
	// ResetPasswords lets a password or password_hash cell replace the
	// password of an existing account, which must then change it; without
	// it those cells only set the password of new accounts, so re-running
	// a class list never undoes the passwords people chose since.
	ResetPasswords bool
}

// ErrImportRejected means at least one row was bad and nothing was written.
var ErrImportRejected = errors.New("the file has errors; nothing was imported")

var importColumns = map[string]bool{"username": true, "email": true, "display_name": true, "password": true, "password_hash": true, "roles": true, "groups": true}

// ImportPlan is a read and classified import file, ready to write.
type ImportPlan struct {
	Report *ImportReport
	opt    ImportOptions
	rows   []importRow // the rows that create or change an account
}

type importRow struct {
	user     User
	password string // hashed when written
}

// PlanImport reads an import file with a header row naming the columns
// username, email, display_name, and password or password_hash (roles and
// groups, separated by ";", are optional; without a column, each person
// keeps what they have). Rows are matched by username; a row that matches
// and changes nothing is unchanged. Nothing is written.
func (s *Service) PlanImport(ctx context.Context, r io.Reader, opt ImportOptions) (*ImportPlan, error) {
	// Spreadsheet exports often start with a byte-order mark, which would
	// otherwise make a quoted first header unparseable.
	br := bufio.NewReader(r)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\ufeff" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, &ImportFileError{Msg: "reading the header row: " + err.Error()}
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if !importColumns[h] {
			return nil, &ImportFileError{Msg: fmt.Sprintf("line 1: unknown column %q (expected username, email, display_name, password or password_hash, roles, groups)", h)}
		}
		if _, dup := col[h]; dup {
			return nil, &ImportFileError{Msg: fmt.Sprintf("line 1: column %q appears twice", h)}
		}
		col[h] = i
	}
	if _, ok := col["username"]; !ok {
		return nil, &ImportFileError{Msg: "line 1: the header has no username column"}
	}

	plan := &ImportPlan{Report: &ImportReport{}, opt: opt}
	report := plan.Report
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// Past broken quoting the reader's idea of where rows begin
			// is a guess: refuse the file rather than import guesses.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &ImportFileError{Msg: fmt.Sprintf("line %d: %v", pe.Line, pe.Err)}
			}
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		field := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		var problems []string
		if len(rec) != len(header) {
			problems = append(problems, fmt.Sprintf("expected %d fields, got %d", len(header), len(rec)))
		}
		u, more := s.check(NewUser{
			Username: field("username"), Email: field("email"), DisplayName: field("display_name"),
			Password: field("password"), PasswordHash: field("password_hash"), Roles: list(field("roles")),
			Groups: list(field("groups")),
		})
		problems = append(problems, more...)
		username := field("username")
		if u != nil {
			username = u.Username
			if first, dup := seen[u.Username]; dup {
				problems = append(problems, fmt.Sprintf("%s already appears on line %d", u.Username, first))
			} else {
				seen[u.Username] = line
			}
		}
		if len(problems) > 0 {
			msg := strings.Join(problems, "; ")
			report.Rejected = append(report.Rejected, RowError{Line: line, Msg: msg})
			report.Rows = append(report.Rows, ImportRow{Line: line, Username: username, Outcome: OutcomeReject, Message: msg})
			continue
		}
		u.Roles = slices.Compact(slices.Sorted(slices.Values(u.Roles)))
		// Without a column the store keeps what each person has; with one,
		// an empty cell clears it.
		for name, list := range map[string]*[]string{"roles": &u.Roles, "groups": &u.Groups} {
			if _, ok := col[name]; !ok {
				*list = nil
			} else if *list == nil {
				*list = []string{}
			}
		}
		existing, err := s.store.GetUserByUsername(ctx, u.Username)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		row, write := classify(line, u, existing, field("password"), opt.ResetPasswords)
		report.Rows = append(report.Rows, row)
		switch row.Outcome {
		case OutcomeCreate:
			report.Created++
		case OutcomeUpdate:
			report.Updated++
		case OutcomeUnchanged:
			report.Unchanged++
		}
		if write != nil {
			plan.rows = append(plan.rows, *write)
		}
	}
	return plan, nil
}

// classify compares a valid row with the account it matches (nil when
// new) and returns its outcome and what to write (nil when nothing).
func classify(line int, u *User, existing *User, password string, resetPasswords bool) (ImportRow, *importRow) {
	row := ImportRow{Line: line, Username: u.Username, UserID: u.ID}
	setsPassword := password != "" || u.PasswordHash != ""
	if existing == nil {
		row.Outcome = OutcomeCreate
		for _, c := range []FieldChange{{Field: "email", After: u.Email}, {Field: "display_name", After: u.DisplayName},
			{Field: "roles", After: strings.Join(u.Roles, ";")}, {Field: "groups", After: strings.Join(u.Groups, ";")}} {
			if c.After != "" {
				row.Changes = append(row.Changes, c)
			}
		}
		if setsPassword {
			row.Changes = append(row.Changes, FieldChange{Field: "password"})
		}
		return row, &importRow{user: *u, password: password}
	}
	row.UserID, row.Privileged = existing.ID, existing.Privileged()
	change := func(field, before, after string) {
		if before != after {
			row.Changes = append(row.Changes, FieldChange{Field: field, Before: before, After: after})
		}
	}
	change("email", existing.Email, u.Email)
	change("display_name", existing.DisplayName, u.DisplayName)
	if u.Roles != nil {
		change("roles", strings.Join(slices.Sorted(slices.Values(existing.Roles)), ";"), strings.Join(u.Roles, ";"))
	}
	if u.Groups != nil {
		change("groups", strings.Join(existing.Groups, ";"), strings.Join(u.Groups, ";"))
	}
	if setsPassword && resetPasswords {
		row.Changes = append(row.Changes, FieldChange{Field: "password"})
		u.MustChangePassword = true
	} else {
		u.PasswordHash, password = "", ""
	}
	if len(row.Changes) == 0 {
		row.Outcome = OutcomeUnchanged
		return row, nil
	}
	row.Outcome = OutcomeUpdate
	u.ID = existing.ID
	return row, &importRow{user: *u, password: password}
}

// WriteImport writes a plan's creates and changes in one transaction,
// with events, the audit record of each, so that the two land together.
// Unless the plan allows it, a rejected row stops the whole file
// (ErrImportRejected) and nothing is written.
func (s *Service) WriteImport(ctx context.Context, p *ImportPlan, events []audit.Event) error {
	if len(p.Report.Rejected) > 0 && !p.opt.ContinueOnError {
		p.Report.Created, p.Report.Updated = 0, 0 // the counts now tell what was written
		return ErrImportRejected
	}
	if len(p.rows) == 0 {
		return nil
	}
	users, err := s.hashAll(ctx, p.rows)
	if err != nil {
		return err
	}
	if _, _, err := s.store.UpsertUsers(ctx, users, events); err != nil {
		return fmt.Errorf("writing users: %w", err)
	}
	return nil
}

// hashAll hashes the rows' passwords side by side, as many at once as the
// hasher allows: argon2id is meant to be slow, and a class list can hold
// hundreds of rows.
func (s *Service) hashAll(ctx context.Context, rows []importRow) ([]User, error) {
	users := make([]User, len(rows))
	errs := make([]error, len(rows))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range cap(s.hasher.slots) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				users[i] = rows[i].user
				if rows[i].password != "" {
					users[i].PasswordHash, errs[i] = s.hasher.Hash(ctx, rows[i].password)
				}
			}
		}()
	}
	for i := range rows {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return users, errors.Join(errs...)
}

// list splits a ";"-separated cell, dropping empty entries.
func list(cell string) []string {
	var out []string
	for _, v := range strings.Split(cell, ";") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
