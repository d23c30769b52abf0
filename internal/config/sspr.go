package config

import "time"

// SSPR is self-service password reset.
type SSPR struct {
	Enabled bool `yaml:"enabled"`
	// MethodsRequired different methods, on different channels, prove a
	// reset (1 or 2). Administrators and the Help Desk always need two.
	MethodsRequired int `yaml:"methods_required"`
	// QuestionsToRegister (3–5) and QuestionsToAnswer (≤ registered).
	QuestionsToRegister int      `yaml:"questions_to_register"`
	QuestionsToAnswer   int      `yaml:"questions_to_answer"`
	CustomQuestions     []string `yaml:"custom_questions"` // up to 20, each ≤ 200 characters
	// Lockout after repeated failures.
	ProofFailures int      `yaml:"proof_failures"` // failed proofs in 24 h
	EmailsPer10m  int      `yaml:"emails_per_10m"` // emails in 10 minutes
	LockFor       Duration `yaml:"lock_for"`
}

// Lockout protects passwords from guessing.
type Lockout struct {
	Threshold int      `yaml:"threshold"` // wrong passwords in an hour before a lock
	Duration  Duration `yaml:"duration"`  // the first lock; each further one doubles
	Max       Duration `yaml:"max"`       // the longest lock
}

// Account is the My Account page.
type Account struct {
	// Freshness: changing security info needs a proof this recent.
	Freshness Duration `yaml:"freshness"`
}

func defaultSSPR() SSPR {
	return SSPR{Enabled: true, MethodsRequired: 2, CustomQuestions: []string{}, QuestionsToRegister: 3, QuestionsToAnswer: 3,
		ProofFailures: 5, EmailsPer10m: 10, LockFor: Duration{24 * time.Hour}}
}

func (s SSPR) validate(p *problems) {
	if s.MethodsRequired < 1 || s.MethodsRequired > 2 {
		p.add("sspr.methods_required", "must be 1 or 2 (got %d)", s.MethodsRequired)
	}
	if s.QuestionsToRegister < 3 || s.QuestionsToRegister > 5 {
		p.add("sspr.questions_to_register", "must be between 3 and 5 (got %d)", s.QuestionsToRegister)
	}
	if s.QuestionsToAnswer < 1 || s.QuestionsToAnswer > s.QuestionsToRegister {
		p.add("sspr.questions_to_answer", "must be between 1 and sspr.questions_to_register (got %d)", s.QuestionsToAnswer)
	}
	if len(s.CustomQuestions) > 20 {
		p.add("sspr.custom_questions", "at most 20 (got %d)", len(s.CustomQuestions))
	}
	for i, q := range s.CustomQuestions {
		if n := len([]rune(q)); n == 0 || n > 200 {
			p.add("sspr.custom_questions", "question %d must be 1–200 characters", i+1)
		}
	}
	if s.ProofFailures < 1 || s.EmailsPer10m < 1 {
		p.add("sspr", "proof_failures and emails_per_10m must be at least 1")
	}
	positive(p, "sspr.lock_for", s.LockFor)
}

func (l Lockout) validate(p *problems) {
	if l.Threshold < 1 {
		p.add("password.lockout.threshold", "must be at least 1 (got %d)", l.Threshold)
	}
	positive(p, "password.lockout.duration", l.Duration)
	if l.Max.Duration < l.Duration.Duration {
		p.add("password.lockout.max", "must be at least password.lockout.duration")
	}
}

// Audit is the audit log.
type Audit struct {
	// Retention is how long events are kept; 0 keeps them forever.
	Retention Duration `yaml:"retention"`
}
