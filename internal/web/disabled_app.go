package web

import (
	"net/http"

	"github.com/ory/fosite"
)

// disabledApp answers a sign-in request from an application the district
// has disabled. The protocol hides a disabled client (fosite says it "does
// not exist"), which would send people and app owners after the wrong
// problem; the person is told the app is off and whom to ask. True when it
// wrote the page.
func (h *Handler) disabledApp(w http.ResponseWriter, r *http.Request, rfc *fosite.RFC6749Error) bool {
	id := r.FormValue("client_id")
	if rfc.ErrorField != fosite.ErrInvalidClient.ErrorField || id == "" {
		return false
	}
	c, err := h.clients.GetClient(r.Context(), id)
	if err != nil || !c.Disabled {
		return false
	}
	p := h.page("App disabled")
	p.Message = c.Name + " is turned off, so nobody can sign in to it right now. This isn't a problem with your account or password."
	p.Detail = "To ask when it will be back, contact the Help Desk"
	if h.opt.HelpDeskURL != "" {
		p.Detail += " at " + h.opt.HelpDeskURL
	}
	p.Detail += "."
	h.pages.render(w, http.StatusForbidden, "error", p)
	return true
}
