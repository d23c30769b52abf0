package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Policies: admins only. Every page reads the list through the service,
// so the service's role check guards the blank forms too.

var policyNotices = map[string]string{
	"deleted": "The policy was deleted. Within a few seconds every Gatehouse server gives its groups the next matching policy, or the default.",
}

// numberField is one whole-number setting of a policy: its form name, its
// words, and where it lives in policy.Policy.
type numberField struct {
	Key, Label, Hint string
	at               func(*policy.Policy) *int
}

var numberFields = []numberField{
	{"required_methods", "Methods to register", "0 to 3. Asked for in the registration order below.", func(p *policy.Policy) *int { return &p.RequiredMethods }},
	{"grace_skips", "Skips allowed", "How many times “Skip setup” may be used; 0 for none.", func(p *policy.Policy) *int { return &p.Grace.Skips }},
	{"grace_days", "Days allowed", "Days from the first prompt; 0 for no limit in days.", func(p *policy.Policy) *int { return &p.Grace.Days }},
	{"remember_device_days", "Remember a device for (days)", "0 to 365; 0 turns “Don't ask again on this device” off.", func(p *policy.Policy) *int { return &p.RememberDeviceDays }},
	{"sends_per_user", "Codes sent per person", "Per hour; at least 1.", func(p *policy.Policy) *int { return &p.Limits.SendsPerUser }},
	{"sends_per_ip", "Codes sent per network address", "Per hour; at least 1.", func(p *policy.Policy) *int { return &p.Limits.SendsPerIP }},
	{"sends_per_destination", "Codes sent per phone number or email", "Per hour; at least 1.", func(p *policy.Policy) *int { return &p.Limits.SendsPerDestination }},
	{"sends_per_country", "Codes sent per country", "Per hour; at least 1.", func(p *policy.Policy) *int { return &p.Limits.SendsPerCountry }},
	{"verifies_per_user", "Code attempts per person", "Per hour; at least 1.", func(p *policy.Policy) *int { return &p.Limits.VerifiesPerUser }},
	{"verifies_per_ip", "Code attempts per network address", "Per hour; at least 1.", func(p *policy.Policy) *int { return &p.Limits.VerifiesPerIP }},
	{"sspr_methods_required", "Methods to prove", "1 or 2, each on a different channel. Administrators and the Help Desk always prove two.", func(p *policy.Policy) *int { return &p.SSPR.MethodsRequired }},
	{"sspr_questions_to_register", "Security questions to set up", "3 to 5. Used only for password reset, never for sign-in.", func(p *policy.Policy) *int { return &p.SSPR.QuestionsToRegister }},
	{"sspr_questions_to_answer", "Security questions to answer", "At least 1, and no more than are set up.", func(p *policy.Policy) *int { return &p.SSPR.QuestionsToAnswer }},
}

// The choices the form offers, in the words people see.
var (
	policyFactors = []choice{{"app", "Authenticator app"}, {"sms", "Text message"}, {"voice", "Phone call"}, {"email", "Email"}}
	policyKinds   = []choice{{"app", "Authenticator app"}, {"phone", "Phone"}, {"email", "Email"}}
)

type choice struct{ Value, Label string }

// problemFields names, for each prefix of the service's problems, the
// field's words and the input a problem links to.
var problemFields = map[string]choice{
	"name":                 {"name", "Name"},
	"groups":               {"groups", "Groups"},
	"allowed_methods":      {"factor_app", "Allowed methods"},
	"required_methods":     {"required_methods", "Methods to register"},
	"registration_order":   {"order_1", "Registration order"},
	"grace":                {"grace_skips", "Putting setup off"},
	"remember_device_days": {"remember_device_days", "Remember a device"},
	"limits":               {"sends_per_user", "Code limits"},
	"sspr":                 {"sspr_enabled", "Password reset"},
}

// problem is one refusal, linked to the field it is about.
type problem struct{ Field, Text string }

// policyForm is the policy form as typed: numbers stay text, so a refused
// form comes back exactly as it was sent.
type policyForm struct {
	Name             string
	IsNew, IsDefault bool
	Version          string // the version the form was opened at
	Priority, Groups string
	RequireMFA       bool
	Factors          []string
	Order            []string // one per select, "" for none
	Numbers          map[string]string
	Deadline         string // 2027-03-09, or empty
	ResendCooldown   string // seconds
	Countries        string
	BlockedDomains   string
	SSPREnabled      bool
	invalid          map[string]bool // fields with a problem listed
}

func formFromRecord(r policy.Record) policyForm {
	p := r.Policy
	f := policyForm{Name: r.Name, IsDefault: r.Name == policy.DefaultName, Version: strconv.FormatInt(r.Version, 10),
		Priority: strconv.Itoa(r.Priority), Groups: strings.Join(r.Groups, ", "), RequireMFA: p.RequireMFA,
		Order: make([]string, len(policyKinds)), Numbers: map[string]string{},
		ResendCooldown: strconv.Itoa(int(p.Limits.ResendCooldown / time.Second)),
		Countries:      strings.Join(p.AllowedCountries, ", "), BlockedDomains: strings.Join(p.BlockedEmailDomains, ", "),
		SSPREnabled: p.SSPR.Enabled}
	for _, fa := range p.AllowedFactors {
		f.Factors = append(f.Factors, string(fa))
	}
	for i, k := range p.RegistrationOrder {
		if i < len(f.Order) {
			f.Order[i] = string(k)
		}
	}
	for _, n := range numberFields {
		f.Numbers[n.Key] = strconv.Itoa(*n.at(&p))
	}
	if !p.Grace.Deadline.IsZero() {
		f.Deadline = p.Grace.Deadline.UTC().Format(time.DateOnly)
	}
	return f
}

func readPolicyForm(r *http.Request) policyForm {
	v := r.PostForm
	f := policyForm{Name: strings.TrimSpace(v.Get("name")), Version: v.Get("version"),
		Priority: strings.TrimSpace(v.Get("priority")), Groups: v.Get("groups"), RequireMFA: v.Get("require_mfa") == "yes",
		Factors: v["allowed_methods"], Numbers: map[string]string{}, Deadline: strings.TrimSpace(v.Get("grace_deadline")),
		ResendCooldown: strings.TrimSpace(v.Get("resend_cooldown")), Countries: v.Get("allowed_countries"),
		BlockedDomains: v.Get("blocked_email_domains"), SSPREnabled: v.Get("sspr_enabled") == "yes"}
	for i := range policyKinds {
		f.Order = append(f.Order, v.Get(fmt.Sprintf("order_%d", i+1)))
	}
	for _, n := range numberFields {
		f.Numbers[n.Key] = strings.TrimSpace(v.Get(n.Key))
	}
	return f
}

// record turns the form into a record over base, which keeps anything
// the form doesn't show. Problems are what can't even be read; the
// service judges the rest.
func (f *policyForm) record(base policy.Record) (policy.Record, []problem) {
	var problems []problem
	f.invalid = map[string]bool{}
	refuse := func(field, text string) {
		problems = append(problems, problem{field, text})
		f.invalid[field] = true
	}
	whole := func(field, label, raw string, dst *int) {
		n, err := strconv.Atoi(raw)
		if err != nil {
			refuse(field, label+": enter a whole number, such as 2.")
			return
		}
		*dst = n
	}
	r := base
	p := &r.Policy
	if base.Name != policy.DefaultName {
		r.Name = f.Name
		whole("priority", "Priority", f.Priority, &r.Priority)
		r.Groups = splitList(f.Groups)
	}
	p.RequireMFA = f.RequireMFA
	p.AllowedFactors = nil
	for _, fa := range f.Factors {
		p.AllowedFactors = append(p.AllowedFactors, mfa.Factor(fa))
	}
	p.RegistrationOrder = nil
	for _, k := range f.Order {
		switch {
		case k == "":
		case slices.Contains(p.RegistrationOrder, mfa.Kind(k)):
			refuse("order_1", fmt.Sprintf("Registration order: choose each method once (%s is chosen twice).", k))
		default:
			p.RegistrationOrder = append(p.RegistrationOrder, mfa.Kind(k))
		}
	}
	for _, n := range numberFields {
		whole(n.Key, n.Label, f.Numbers[n.Key], n.at(p))
	}
	var cooldown int
	whole("resend_cooldown", "Wait before sending another code", f.ResendCooldown, &cooldown)
	if cooldown < 0 {
		refuse("resend_cooldown", "Wait before sending another code: 0 seconds or more.")
	}
	p.Limits.ResendCooldown = time.Duration(cooldown) * time.Second
	p.Grace.Deadline = time.Time{}
	if f.Deadline != "" {
		d, err := time.Parse(time.DateOnly, f.Deadline)
		if err != nil {
			refuse("grace_deadline", "Deadline: enter a date such as 2027-03-09, or leave it empty.")
		}
		p.Grace.Deadline = d
	}
	p.AllowedCountries = nil
	for _, c := range splitList(f.Countries) {
		c = strings.ToUpper(c)
		if len(c) != 2 || strings.TrimFunc(c, func(r rune) bool { return r >= 'A' && r <= 'Z' }) != "" {
			refuse("allowed_countries", fmt.Sprintf("Countries: %q is not a two-letter country code such as US.", c))
		}
		p.AllowedCountries = append(p.AllowedCountries, c)
	}
	p.BlockedEmailDomains = nil
	for _, d := range splitList(f.BlockedDomains) {
		p.BlockedEmailDomains = append(p.BlockedEmailDomains, strings.ToLower(strings.TrimPrefix(d, "@")))
	}
	p.SSPR.Enabled = f.SSPREnabled
	return r, problems
}

// splitList reads a list typed with commas, spaces or one per line.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
}

// policyFormPage is the form with what it needs to show.
type policyFormPage struct {
	Form     policyForm
	Problems []problem
	Factors  []choice
	Kinds    []choice
	// Saved describes the stored version being edited; empty for a new one.
	Saved string
}

// formField is one input as the template shows it.
type formField struct {
	Key, Label, Hint, Value string
	Invalid                 bool
}

// Number is the input for the setting key.
func (p policyFormPage) Number(key string) (formField, error) {
	for _, n := range numberFields {
		if n.Key == key {
			return formField{Key: key, Label: n.Label, Hint: n.Hint, Value: p.Form.Numbers[key], Invalid: p.Form.invalid[key]}, nil
		}
	}
	return formField{}, fmt.Errorf("no policy setting %q", key)
}

// Order is the registration order's selects, one per method kind.
func (p policyFormPage) Order() []formField {
	out := make([]formField, len(policyKinds))
	for i := range out {
		key := fmt.Sprintf("order_%d", i+1)
		out[i] = formField{Key: key, Label: ordinals[i], Value: p.Form.Order[i], Invalid: p.Form.invalid[key]}
	}
	return out
}

var ordinals = []string{"First", "Second", "Third"}

// Invalid reports whether a field has a problem listed.
func (p policyFormPage) Invalid(field string) bool { return p.Form.invalid[field] }

func (c *Console) policyFormPage(q *request, f policyForm, saved *policy.Record, problems []problem) policyFormPage {
	p := policyFormPage{Form: f, Problems: problems, Factors: policyFactors, Kinds: policyKinds}
	if saved != nil {
		p.Saved = fmt.Sprintf("Version %d, saved by %s on %s.", saved.Version, c.actorName(q, saved.UpdatedBy),
			saved.UpdatedAt.UTC().Format("2 January 2006 at 15:04 UTC"))
	}
	return p
}

func policyTitle(f policyForm) string {
	switch {
	case f.IsNew:
		return "New group policy"
	case f.IsDefault:
		return "Default policy"
	}
	return "Policy " + f.Name
}

// actorName is who saved a policy, in words.
func (c *Console) actorName(q *request, id string) string {
	switch {
	case id == "config":
		return "the configuration file"
	case id == "cli":
		return "the server CLI"
	case strings.HasPrefix(id, "client:"):
		return "an API client (" + strings.TrimPrefix(id, "client:") + ")"
	}
	if u, err := c.svc.GetUser(q.r.Context(), q.actor, id); err == nil {
		return strings.TrimSuffix(u.Username, "@"+c.svc.Users.Domain())
	}
	return id
}

// policies lists the stored policies in the order they are tried: group
// policies by priority, the default last.
func (c *Console) policies(q *request) ([]policy.Record, bool) {
	list, err := c.svc.ListPolicies(q.r.Context(), q.actor)
	if err != nil {
		c.serviceError(q, "policy", err)
		return nil, false
	}
	slices.SortStableFunc(list, func(a, b policy.Record) int {
		switch {
		case a.Name == policy.DefaultName:
			return 1
		case b.Name == policy.DefaultName:
			return -1
		}
		return b.Priority - a.Priority
	})
	return list, true
}

func findPolicy(list []policy.Record, name string) *policy.Record {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// policyNamed loads the policy in the address, or shows not found.
func (c *Console) policyNamed(q *request) ([]policy.Record, *policy.Record, bool) {
	list, ok := c.policies(q)
	if !ok {
		return nil, nil, false
	}
	rec := findPolicy(list, q.r.PathValue("name"))
	if rec == nil {
		c.serviceError(q, "policy", store.ErrNotFound)
		return nil, nil, false
	}
	return list, rec, true
}

type policyRow struct {
	policy.Record
	By string
}

func (c *Console) listPolicies(q *request) {
	list, ok := c.policies(q)
	if !ok {
		return
	}
	rows := make([]policyRow, len(list))
	for i, r := range list {
		rows[i] = policyRow{Record: r, By: c.actorName(q, r.UpdatedBy)}
	}
	v := c.view(q, "Policies", rows)
	v.Notice = policyNotices[q.r.URL.Query().Get("done")]
	c.render(q.w, http.StatusOK, "policies", v)
}

// policyVersionRow is one line of a policy's history.
type policyVersionRow struct {
	admin.PolicyVersion
	By      string
	Created bool // the first version, or the first after a deletion
}

// policyHistory lists every version of a policy, deletions included, with
// what each changed; a deleted policy's history stays readable.
func (c *Console) policyHistory(q *request) {
	name := q.r.PathValue("name")
	versions, err := c.svc.PolicyHistory(q.r.Context(), q.actor, name)
	if err != nil {
		c.serviceError(q, "policy", err)
		return
	}
	rows := make([]policyVersionRow, len(versions))
	for i, v := range versions {
		rows[i] = policyVersionRow{PolicyVersion: v, By: c.actorName(q, v.UpdatedBy),
			Created: i == len(versions)-1 || versions[i+1].Deleted}
	}
	c.render(q.w, http.StatusOK, "policy_history", c.view(q, "History of "+versions[0].Name, rows))
}

// newPolicy offers a group policy that starts as a copy of the default,
// tried before every existing one.
func (c *Console) newPolicy(q *request) {
	list, ok := c.policies(q)
	if !ok {
		return
	}
	base := policy.Record{Priority: 10}
	for _, r := range list {
		if r.Name == policy.DefaultName {
			base.Policy = r.Policy
		} else {
			base.Priority = max(base.Priority, r.Priority+10)
		}
	}
	f := formFromRecord(base)
	f.IsNew, f.Version = true, ""
	c.render(q.w, http.StatusOK, "policy_form", c.view(q, policyTitle(f), c.policyFormPage(q, f, nil, nil)))
}

func (c *Console) createPolicy(q *request) {
	list, ok := c.policies(q)
	if !ok {
		return
	}
	f := readPolicyForm(q.r)
	f.IsNew = true
	var base policy.Record
	if def := findPolicy(list, policy.DefaultName); def != nil {
		base.Policy = def.Policy
	}
	rec, problems := f.record(base)
	// Saving replaces a policy of the same name: a new one must not.
	if existing := findPolicy(list, strings.ToLower(f.Name)); existing != nil {
		problems = append(problems, problem{"name", fmt.Sprintf("Name: a policy called “%s” already exists. Choose another name, or edit that policy.", existing.Name)})
		f.invalid["name"] = true
	}
	c.savePolicy(q, f, rec, problems, nil)
}

func (c *Console) editPolicy(q *request) {
	_, rec, ok := c.policyNamed(q)
	if !ok {
		return
	}
	f := formFromRecord(*rec)
	v := c.view(q, policyTitle(f), c.policyFormPage(q, f, rec, nil))
	if q.r.URL.Query().Get("done") == "saved" {
		v.Notice = fmt.Sprintf("Saved as version %d. Every Gatehouse server applies it within a few seconds; nothing needs restarting.", rec.Version)
	}
	c.render(q.w, http.StatusOK, "policy_form", v)
}

func (c *Console) updatePolicy(q *request) {
	_, current, ok := c.policyNamed(q)
	if !ok {
		return
	}
	f := readPolicyForm(q.r)
	f.Name, f.IsDefault = current.Name, current.Name == policy.DefaultName
	rec, problems := f.record(*current)
	// Another administrator saved since this form was opened: saving now
	// would silently undo their change, so show it first. The form takes
	// the new version, so saving again is a deliberate overwrite.
	if v := strconv.FormatInt(current.Version, 10); f.Version != v {
		problems = append(problems, problem{"", fmt.Sprintf("Someone else saved this policy since you opened it (now version %d, by %s). Your changes are below; save again to replace theirs, or open the policy again to start from theirs.",
			current.Version, c.actorName(q, current.UpdatedBy))})
		f.Version = v
	}
	c.savePolicy(q, f, rec, problems, current)
}

// savePolicy saves rec unless the form already has problems; refused, the
// form comes back with every problem and every value as typed.
func (c *Console) savePolicy(q *request, f policyForm, rec policy.Record, problems []problem, current *policy.Record) {
	var saved *policy.Record
	if len(problems) == 0 {
		var err error
		saved, err = c.svc.SavePolicy(q.r.Context(), q.actor, rec)
		var pe *admin.PolicyError
		switch {
		case errors.As(err, &pe):
			for _, text := range pe.Problems {
				pr := serviceProblem(text)
				problems = append(problems, pr)
				f.invalid[pr.Field] = true
			}
		case err != nil:
			c.serviceError(q, "policy", err)
			return
		}
	}
	if len(problems) > 0 {
		v := c.view(q, policyTitle(f), c.policyFormPage(q, f, current, problems))
		v.Error = "The policy can't be saved yet, and nothing was changed. Fix these problems:"
		c.render(q.w, http.StatusUnprocessableEntity, "policy_form", v)
		return
	}
	http.Redirect(q.w, q.r, policyPath(saved.Name)+"/edit?done=saved", http.StatusSeeOther)
}

// serviceProblem words a problem from the service ("grace: …") for the
// form, linked to its field.
func serviceProblem(text string) problem {
	prefix, rest, ok := strings.Cut(text, ": ")
	if f, known := problemFields[prefix]; ok && known {
		return problem{f.Value, f.Label + ": " + rest}
	}
	return problem{"", text}
}

func (c *Console) confirmDeletePolicy(q *request) {
	_, rec, ok := c.policyNamed(q)
	if !ok || c.isDefault(q, rec.Name) {
		return
	}
	c.render(q.w, http.StatusOK, "policy_delete", c.view(q, "Delete policy "+rec.Name+"?", rec))
}

func (c *Console) deletePolicy(q *request) {
	name := q.r.PathValue("name")
	if c.isDefault(q, name) {
		return
	}
	if err := c.svc.DeletePolicy(q.r.Context(), q.actor, name); err != nil {
		c.serviceError(q, "policy", err)
		return
	}
	http.Redirect(q.w, q.r, Prefix+"/policies?done=deleted", http.StatusSeeOther)
}

// isDefault refuses to delete the default policy: everyone no group policy
// matches would have none.
func (c *Console) isDefault(q *request, name string) bool {
	if name != policy.DefaultName {
		return false
	}
	c.failFor(q, http.StatusConflict, "The default can't be deleted",
		"The default policy applies to everyone no group policy matches, so it can't be deleted. Edit it instead.", nil)
	return true
}

func policyPath(name string) string { return Prefix + "/policies/" + url.PathEscape(name) }
