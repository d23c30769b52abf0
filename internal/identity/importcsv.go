package identity

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// RowError is one refused line of an import file.
type RowError struct {
	Line int
	Msg  string
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ImportReport tells what an import did.
type ImportReport struct {
	Created, Updated int
	Rejected         []RowError
}

// ErrImportRejected means at least one row was bad and nothing was written.
var ErrImportRejected = errors.New("the file has errors; nothing was imported")

var importColumns = map[string]bool{"username": true, "email": true, "display_name": true, "password": true, "password_hash": true, "roles": true}

// Import upserts users from CSV with a header row naming the columns
// username, email, display_name, and password or password_hash (roles,
// separated by ";", is optional). Rows are matched by username, so running
// the same file twice changes nothing. Unless continueOnError is set, one bad
// row rejects the whole file; either way the good rows land in one
// transaction, never half-written.
func (s *Service) Import(ctx context.Context, r io.Reader, continueOnError bool) (*ImportReport, error) {
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
		return nil, fmt.Errorf("reading the header row: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if !importColumns[h] {
			return nil, fmt.Errorf("line 1: unknown column %q (expected username, email, display_name, password or password_hash, roles)", h)
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("line 1: column %q appears twice", h)
		}
		col[h] = i
	}
	if _, ok := col["username"]; !ok {
		return nil, errors.New("line 1: the header has no username column")
	}

	report := &ImportReport{}
	var users []User
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				report.Rejected = append(report.Rejected, RowError{Line: pe.Line, Msg: pe.Err.Error()})
				continue
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
		if len(rec) != len(header) {
			report.Rejected = append(report.Rejected, RowError{line, fmt.Sprintf("expected %d fields, got %d", len(header), len(rec))})
			continue
		}
		var roles []string
		if v := field("roles"); v != "" {
			for _, r := range strings.Split(v, ";") {
				if r = strings.TrimSpace(r); r != "" {
					roles = append(roles, r)
				}
			}
		}
		u, err := s.build(NewUser{
			Username: field("username"), Email: field("email"), DisplayName: field("display_name"),
			Password: field("password"), PasswordHash: field("password_hash"), Roles: roles,
		})
		if err != nil {
			report.Rejected = append(report.Rejected, RowError{line, err.Error()})
			continue
		}
		if first, dup := seen[u.Username]; dup {
			report.Rejected = append(report.Rejected, RowError{line, fmt.Sprintf("%s already appears on line %d", u.Username, first)})
			continue
		}
		seen[u.Username] = line
		users = append(users, *u)
	}
	if len(report.Rejected) > 0 && !continueOnError {
		return report, ErrImportRejected
	}
	if len(users) == 0 {
		return report, nil
	}
	report.Created, report.Updated, err = s.store.UpsertUsers(ctx, users)
	if err != nil {
		return report, fmt.Errorf("writing users: %w", err)
	}
	return report, nil
}
