package console

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/secrets"
)

// Import: upload, preview every row with nothing written, then confirm.
// The file waits in Redis between the two, so any replica can take the
// confirmation and the browser never uploads it twice.

// pendingImport is an uploaded file awaiting confirmation.
type pendingImport struct {
	UserID          string `json:"user_id"` // only its uploader may confirm it
	ContinueOnError bool   `json:"continue_on_error"`
	CSV             []byte `json:"csv"`
}

func importKey(id string) string { return "admin-import:" + digest(id) }

type previewPage struct {
	ID     string // empty when nothing can be imported
	Report *identity.ImportReport
	Count  int // users the confirmation would write
}

func (c *Console) importPage(q *request) {
	c.render(q.w, http.StatusOK, "import", c.view(q, "Import users", nil))
}

func (c *Console) importPreview(q *request) {
	retry := func(status int, msg string) {
		v := c.view(q, "Import users", nil)
		v.Error = msg
		c.render(q.w, status, "import", v)
	}
	file, _, err := q.r.FormFile("file")
	if err != nil {
		retry(http.StatusUnprocessableEntity, "Choose a CSV file to upload.")
		return
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxUpload+1))
	if err != nil || len(data) > maxUpload {
		retry(http.StatusRequestEntityTooLarge, "The file is larger than 32 MB. Split it and import the parts.")
		return
	}
	skip := q.r.PostFormValue("continue_on_error") == "yes"
	report, err := c.svc.ImportUsers(q.r.Context(), q.actor, bytes.NewReader(data), true, false)
	switch {
	case err != nil && fileProblem(err):
		retry(http.StatusUnprocessableEntity, "The file can't be read: "+err.Error()+".")
		return
	case err != nil:
		c.serviceError(q, "user", err)
		return
	}
	if c.refusedForHelpdesk(q, data, report, func(msg string) { retry(http.StatusForbidden, msg) }) {
		return
	}
	p := previewPage{Report: report, Count: report.Created + report.Updated}
	if p.Count > 0 && (len(report.Rejected) == 0 || skip) {
		p.ID = base64.RawURLEncoding.EncodeToString(secrets.RandomToken(32))
		pending := pendingImport{UserID: q.user.ID, ContinueOnError: skip, CSV: data}
		if err := c.putJSON(q.r.Context(), importKey(p.ID), pending, importLifetime); err != nil {
			c.failFor(q, http.StatusServiceUnavailable, "Import unavailable", "We couldn't keep the file for confirmation. Try again in a moment.", err)
			return
		}
	}
	c.render(q.w, http.StatusOK, "import_preview", c.view(q, "Check the import", p))
}

// fileProblem tells a file the importer could not parse, which the person
// can fix, from a failure of Gatehouse's own.
func fileProblem(err error) bool {
	var pe *csv.ParseError
	return errors.As(err, &pe) || errors.Is(err, io.EOF) || strings.HasPrefix(err.Error(), "line ")
}

type resultPage struct {
	Report  *identity.ImportReport
	Written bool
}

func (c *Console) importConfirm(q *request) {
	ctx := q.r.Context()
	var p pendingImport
	raw, err := c.kv.Take(ctx, importKey(q.r.PostFormValue("import")))
	if err == nil {
		err = json.Unmarshal(raw, &p)
	}
	if err != nil || p.UserID != q.user.ID {
		v := c.view(q, "Import users", nil)
		v.Error = "That preview has expired or was already imported. Upload the file again."
		c.render(q.w, http.StatusGone, "import", v)
		return
	}
	if !q.isAdmin() { // someone in the file may have gained a role since the preview
		preview, err := c.svc.ImportUsers(ctx, q.actor, bytes.NewReader(p.CSV), true, false)
		if err != nil {
			c.serviceError(q, "user", err)
			return
		}
		if c.refusedForHelpdesk(q, p.CSV, preview, func(msg string) { c.failFor(q, http.StatusForbidden, "Not imported", msg, nil) }) {
			return
		}
	}
	report, err := c.svc.ImportUsers(ctx, q.actor, bytes.NewReader(p.CSV), false, p.ContinueOnError)
	if err != nil && !errors.Is(err, identity.ErrImportRejected) {
		c.serviceError(q, "user", err)
		return
	}
	v := c.view(q, "Import finished", resultPage{Report: report, Written: err == nil})
	if err != nil {
		v.Title, v.Error = "Nothing was imported", "The file changed meaning since the preview: some rows are now refused. Nothing was written; upload it again to see why."
	}
	c.render(q.w, http.StatusOK, "import_result", v)
}

// refusedForHelpdesk refuses a file that goes beyond what the Help Desk
// may do, through refuse, and reports whether it did. An import writes each
// row's roles and groups and replaces the password of every person it
// matches, so from the Help Desk it could grant a role or take over an
// administrator's account, which admin.Service refuses them everywhere else.
func (c *Console) refusedForHelpdesk(q *request, data []byte, report *identity.ImportReport, refuse func(string)) bool {
	if q.isAdmin() {
		return false
	}
	problem, err := c.svc.ImportProblem(q.r.Context(), q.actor, data, report)
	switch {
	case err != nil:
		c.serviceError(q, "user", err)
	case problem != "":
		refuse(problem)
	}
	return err != nil || problem != ""
}
