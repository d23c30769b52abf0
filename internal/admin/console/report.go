package console

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/admin"
)

// The registration report: administrators and the Help Desk (a Help Desk
// limited to some groups counts only the people it serves; the service
// decides).

type reportRow struct {
	admin.GroupReport
	Percent int // registered, of the group's users
}

func (c *Console) registrationReport(q *request) {
	groups, err := c.svc.RegistrationReport(q.r.Context(), q.actor)
	if err != nil {
		c.serviceError(q, "report", err)
		return
	}
	rows := make([]reportRow, len(groups))
	for i, g := range groups {
		rows[i] = reportRow{GroupReport: g}
		if g.Users > 0 {
			rows[i].Percent = g.Registered * 100 / g.Users
		}
	}
	c.render(q.w, http.StatusOK, "registration", c.view(q, "Registration report", rows))
}
