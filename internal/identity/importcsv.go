package identity

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/internal/store"
)

// RowError is one refused line of an import file.
type RowError struct {
	Line int
	Msg  string
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ImportReport tells what an import did, or (previewed) would do.
type ImportReport struct {
	Created, Updated int
	Rejected         []RowError
	Rows             []ImportRow // every row's outcome, in file order
}

// ImportRow is the outcome of one row.
type ImportRow struct {
	Line     int
	Username string
	Outcome  string // "create", "update" or "reject"
	Message  string // why a row was rejected
}

// ErrImportRejected means at least one row was bad and nothing was written.
var ErrImportRejected = errors.New("the file has errors; nothing was imported")

var importColumns = map[string]bool{"username": true, "email": true, "display_name": true, "password": true, "password_hash": true, "roles": true, "groups": true}

// Import upserts users from CSV with a header row naming the columns
// username, email, display_name, and password or password_hash (roles and
// groups, separated by ";", are optional; a file without a groups column
// leaves groups as they are). Rows are matched by username, so running
// the same file twice changes nothing. Unless continueOnError is set, one bad
// row rejects the whole file; either way the good rows land in one
// transaction, never half-written.
func (s *Service) Import(ctx context.Context, r io.Reader, continueOnError bool) (*ImportReport, error) {
	report, rows, err := s.readImport(ctx, r)
	if err != nil {
		return nil, err
	}
	if len(report.Rejected) > 0 && !continueOnError {
		return report, ErrImportRejected
	}
	if len(rows) == 0 {
		return report, nil
	}
	users, err := s.hashAll(ctx, rows)
	if err != nil {
		return report, err
	}
	report.Created, report.Updated, err = s.store.UpsertUsers(ctx, users)
	if err != nil {
		return report, fmt.Errorf("writing users: %w", err)
	}
	return report, nil
}

// Preview reads an import file and reports every row's outcome (create,
// update or reject) without writing anything.
func (s *Service) Preview(ctx context.Context, r io.Reader) (*ImportReport, error) {
	report, _, err := s.readImport(ctx, r)
	if err != nil {
		return nil, err
	}
	for _, row := range report.Rows {
		switch row.Outcome {
		case "create":
			report.Created++
		case "update":
			report.Updated++
		}
	}
	return report, nil
}

type importRow struct {
	user     User
	password string // hashed after every row is read
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

// readImport parses and validates the file, classifying every row.
func (s *Service) readImport(ctx context.Context, r io.Reader) (*ImportReport, []importRow, error) {
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
		return nil, nil, fmt.Errorf("reading the header row: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if !importColumns[h] {
			return nil, nil, fmt.Errorf("line 1: unknown column %q (expected username, email, display_name, password or password_hash, roles, groups)", h)
		}
		if _, dup := col[h]; dup {
			return nil, nil, fmt.Errorf("line 1: column %q appears twice", h)
		}
		col[h] = i
	}
	if _, ok := col["username"]; !ok {
		return nil, nil, errors.New("line 1: the header has no username column")
	}

	report := &ImportReport{}
	reject := func(line int, username, msg string) {
		report.Rejected = append(report.Rejected, RowError{Line: line, Msg: msg})
		report.Rows = append(report.Rows, ImportRow{Line: line, Username: username, Outcome: "reject", Message: msg})
	}
	var rows []importRow
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				reject(pe.Line, "", pe.Err.Error())
				continue
			}
			return nil, nil, err
		}
		line, _ := cr.FieldPos(0)
		field := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if len(rec) != len(header) {
			reject(line, field("username"), fmt.Sprintf("expected %d fields, got %d", len(header), len(rec)))
			continue
		}
		u, err := s.build(NewUser{
			Username: field("username"), Email: field("email"), DisplayName: field("display_name"),
			Password: field("password"), PasswordHash: field("password_hash"), Roles: list(field("roles")),
			Groups: list(field("groups")),
		})
		if err != nil {
			reject(line, field("username"), err.Error())
			continue
		}
		// Without a column the store keeps what each person has; with one,
		// an empty cell clears it.
		for name, list := range map[string]*[]string{"roles": &u.Roles, "groups": &u.Groups} {
			if _, ok := col[name]; !ok {
				*list = nil
			} else if *list == nil {
				*list = []string{}
			}
		}
		if first, dup := seen[u.Username]; dup {
			reject(line, u.Username, fmt.Sprintf("%s already appears on line %d", u.Username, first))
			continue
		}
		seen[u.Username] = line
		outcome := "create"
		if _, err := s.store.GetUserByUsername(ctx, u.Username); err == nil {
			outcome = "update"
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		report.Rows = append(report.Rows, ImportRow{Line: line, Username: u.Username, Outcome: outcome})
		rows = append(rows, importRow{user: *u, password: field("password")})
	}
	return report, rows, nil
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
