package account

import (
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/wording"
)

// recoveryView is what My Account shows of the recovery codes: how many
// are left, never the codes.
type recoveryView struct {
	Left, Of int
	// LastUsed is set after a code signed the person in: the page asks
	// them to review their methods (a lost phone is why codes get used)
	// until they get a new set.
	LastUsed string
	// CanGet offers codes: only to someone with a method to fall back
	// from, as codes are a backup, never the only way in.
	CanGet bool
	// Replaces names the set the form replaces (see setName).
	Replaces string
}

// setName names a person's current set of codes, for the form that
// replaces it: the page showing new codes is a POST's answer, and a reload
// posting again must not void the codes just saved.
func setName(st mfa.RecoveryStatus) string {
	if st.Made == nil {
		return "none"
	}
	return strconv.FormatInt(st.Made.UnixMicro(), 10)
}

func recoveryOf(st mfa.RecoveryStatus, hasMethods bool) *recoveryView {
	v := &recoveryView{Left: st.Left, Of: mfa.RecoveryCodeCount, CanGet: hasMethods, Replaces: setName(st)}
	if st.LastUsed != nil {
		v.LastUsed = st.LastUsed.Format("January 2, 2006")
	}
	return v
}

type recoveryPage struct {
	httpx.Layout
	Username string
	Recovery *wording.RecoveryCodes
}

// newRecoveryCodes makes a new set of codes, voiding the old one, after
// the same fresh proof as any change to security info, and shows them
// this once.
func (h *Handler) newRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	_, u, ok := h.form(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	methods, err := h.MFA.Methods(ctx, u.ID)
	var before mfa.RecoveryStatus
	if err == nil {
		before, err = h.MFA.RecoveryCodes(ctx, u.ID)
	}
	if err != nil {
		h.unavailable(w, r, msgNotLoaded, err)
		return
	}
	switch {
	case len(methods) == 0:
		h.render(w, r, u, http.StatusUnprocessableEntity, "Add a security method first: recovery codes are a backup for it.", "", false)
		return
	case r.PostFormValue("replaces") != setName(before):
		h.render(w, r, u, http.StatusConflict, "Your recovery codes were already replaced, and codes are shown only once. "+
			"If you didn't save the new ones, get new codes again.", "", false)
		return
	}
	codes, err := h.MFA.NewRecoveryCodes(ctx, u.ID, u.ID, httpx.ClientIP(r))
	if err != nil {
		h.unavailable(w, r, "We couldn't make your recovery codes. Try again in a moment.", err)
		return
	}
	// Voiding a set is told everywhere: someone else doing it would lock
	// the owner out of their backup.
	if before.Left > 0 || before.LastUsed != nil {
		h.MFA.Notify(ctx, u.ID, u.Email, methods, "", wording.NoticeCodes)
	}
	view := wording.NewRecoveryCodes(codes, h.Site.District, u.Username)
	view.DoneLink = "/account?notice=codes"
	h.pages.Render(w, http.StatusOK, "recovery_codes",
		recoveryPage{Layout: h.FormLayout(w, r, "Recovery codes"), Username: u.Username, Recovery: view})
}
