package console

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/admin"
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
	ResetPasswords  bool   `json:"reset_passwords"`
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
	reset := q.r.PostFormValue("reset_passwords") == "yes"
	report, err := c.svc.ImportUsers(q.r.Context(), q.actor, bytes.NewReader(data),
		admin.ImportOptions{DryRun: true, ImportOptions: identity.ImportOptions{ResetPasswords: reset}})
	var fileErr *identity.ImportFileError
	switch {
	case errors.As(err, &fileErr):
		retry(http.StatusUnprocessableEntity, "The file can't be read: "+fileErr.Msg+".")
		return
	case errors.Is(err, admin.ErrForbidden) && report != nil:
		retry(http.StatusForbidden, err.Error())
		return
	case err != nil:
		c.serviceError(q, "user", err)
		return
	}
	p := previewPage{Report: report, Count: report.Created + report.Updated}
	if p.Count > 0 && (len(report.Rejected) == 0 || skip) {
		p.ID = base64.RawURLEncoding.EncodeToString(secrets.RandomToken(32))
		pending := pendingImport{UserID: q.user.ID, ContinueOnError: skip, ResetPasswords: reset, CSV: data}
		if err := c.putJSON(q.r.Context(), importKey(p.ID), pending, importLifetime); err != nil {
			c.failFor(q, http.StatusServiceUnavailable, "Import unavailable", "We couldn't keep the file for confirmation. Try again in a moment.", err)
			return
		}
	}
	c.render(q.w, http.StatusOK, "import_preview", c.view(q, "Check the import", p))
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
	// The rights are checked again on this run: someone in the file may
	// have gained a role since the preview.
	report, err := c.svc.ImportUsers(ctx, q.actor, bytes.NewReader(p.CSV), admin.ImportOptions{
		ImportOptions: identity.ImportOptions{ContinueOnError: p.ContinueOnError, ResetPasswords: p.ResetPasswords}})
	if errors.Is(err, admin.ErrForbidden) && report != nil {
		c.failFor(q, http.StatusForbidden, "Not imported", err.Error(), nil)
		return
	}
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
