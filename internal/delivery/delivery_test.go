package delivery_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/delivery"
)

// recorder is a Sender that keeps what it is given.
type recorder struct{ got []delivery.Message }

func (r *recorder) Send(_ context.Context, m delivery.Message) error {
	r.got = append(r.got, m)
	return nil
}

func TestRouter(t *testing.T) {
	sms, voice, email := &recorder{}, &recorder{}, &recorder{}
	r := delivery.Router{SMS: sms, Voice: voice, Email: email}
	for _, ch := range []delivery.Channel{delivery.SMS, delivery.Voice, delivery.Email} {
		if err := r.Send(context.Background(), delivery.Message{Channel: ch, To: string(ch)}); err != nil {
			t.Fatal(err)
		}
	}
	for ch, rec := range map[delivery.Channel]*recorder{delivery.SMS: sms, delivery.Voice: voice, delivery.Email: email} {
		if len(rec.got) != 1 || rec.got[0].Channel != ch {
			t.Errorf("%s sender got %+v", ch, rec.got)
		}
	}
	if err := r.Send(context.Background(), delivery.Message{Channel: "fax"}); err == nil {
		t.Error("unknown channel accepted")
	}
	if err := (delivery.Router{SMS: sms}).Send(context.Background(), delivery.Message{Channel: delivery.Email}); err == nil {
		t.Error("channel without a sender accepted")
	}
}

func TestNewDefaultsShareOneOutbox(t *testing.T) {
	cfg := config.Default().Delivery
	cfg.OutboxFile = filepath.Join(t.TempDir(), "outbox.jsonl")
	var stdout bytes.Buffer
	s, err := delivery.New(cfg, "Example District", &stdout)
	if err != nil {
		t.Fatal(err)
	}
	r := s.(delivery.Router)
	if _, ok := r.SMS.(*delivery.Outbox); !ok || r.Voice != r.SMS || r.Email != r.SMS {
		t.Fatalf("router = %#v, want one Outbox for every channel", r)
	}
	for _, ch := range []delivery.Channel{delivery.SMS, delivery.Voice, delivery.Email} {
		if err := s.Send(context.Background(), delivery.CodeMessage(ch, "Example District", "dest", "123456", time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := delivery.ReadOutbox(cfg.OutboxFile)
	if err != nil || len(entries) != 3 {
		t.Errorf("outbox holds %d entries, %v; want 3", len(entries), err)
	}
	if n := strings.Count(stdout.String(), "[outbox] "); n != 3 {
		t.Errorf("stdout has %d summaries:\n%s", n, stdout.String())
	}
}

func TestNewProviders(t *testing.T) {
	cfg := config.Default().Delivery
	cfg.OutboxFile = filepath.Join(t.TempDir(), "outbox.jsonl")
	cfg.SMS, cfg.Voice, cfg.Email = "twilio", "twilio", "smtp"
	cfg.Twilio = config.Twilio{BaseURL: "https://api.twilio.com", AccountSID: testSID, AuthToken: testToken, From: testFrom}
	cfg.SMTP = config.SMTP{Host: "smtp.district.example", Port: 587, From: "no-reply@district.example", Security: "starttls"}
	s, err := delivery.New(cfg, "Example District", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := s.(delivery.Router)
	if _, ok := r.SMS.(*delivery.Twilio); !ok || r.Voice != r.SMS {
		t.Errorf("sms %T, voice %T; want one Twilio", r.SMS, r.Voice)
	}
	if _, ok := r.Email.(*delivery.SMTP); !ok {
		t.Errorf("email %T, want SMTP", r.Email)
	}

	for name, change := range map[string]func(c *config.Delivery){
		"twilio for email":      func(c *config.Delivery) { c.Email = "twilio" },
		"smtp for sms":          func(c *config.Delivery) { c.SMS = "smtp" },
		"unknown provider":      func(c *config.Delivery) { c.Voice = "pigeon" },
		"smtp without TLS away": func(c *config.Delivery) { c.SMTP.Security = "none" },
		"smtp bad from":         func(c *config.Delivery) { c.SMTP.From = "nobody" },
	} {
		c := cfg
		change(&c)
		if _, err := delivery.New(c, "Example District", nil); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// A From without a display name gets the district's.
func TestNewSMTPNamesTheDistrict(t *testing.T) {
	r := &relay{}
	cfg := config.Default().Delivery
	cfg.OutboxFile = filepath.Join(t.TempDir(), "outbox.jsonl")
	cfg.Email = "smtp"
	cfg.SMTP = config.SMTP{Host: "127.0.0.1", Port: r.start(t, nil), From: "no-reply@district.example", Security: "none"}
	s, err := delivery.New(cfg, "Example District", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), delivery.Message{Channel: delivery.Email, To: "jdoe@district.example", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if want := "From: \"Example District\" <no-reply@district.example>\r\n"; !strings.Contains(string(r.data), want) {
		t.Errorf("message lacks %q:\n%s", want, r.data)
	}
}
