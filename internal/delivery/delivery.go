// Package delivery sends one-time codes and security notices by SMS, voice
// call and email, through Twilio, an SMTP relay or the development outbox.
package delivery

import (
	"context"
	"fmt"
	"io"
	"net/mail"

	"github.com/gatehouse/gatehouse/internal/config"
)

// Channel is how a message reaches a user.
type Channel string

const (
	SMS   Channel = "sms"
	Voice Channel = "voice"
	Email Channel = "email"
)

// Message is one outgoing message. Its JSON form is the outbox's.
type Message struct {
	Channel Channel `json:"channel"`
	To      string  `json:"to"`      // E.164 for sms and voice, an address for email
	Subject string  `json:"subject"` // email only
	Text    string  `json:"text"`    // the SMS text or the plain-text email body
	Speech  string  `json:"speech"`  // voice: what is read out
}

// Sender delivers messages. Send returns once the provider has accepted the
// message, which does not mean it has reached the user.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Router sends each message through the sender for its channel.
type Router struct {
	SMS, Voice, Email Sender
}

func (r Router) Send(ctx context.Context, m Message) error {
	var s Sender
	switch m.Channel {
	case SMS:
		s = r.SMS
	case Voice:
		s = r.Voice
	case Email:
		s = r.Email
	}
	if s == nil {
		return fmt.Errorf("delivery: no sender for channel %q", m.Channel)
	}
	return s.Send(ctx, m)
}

// New builds the Router that cfg describes. Every channel set to "outbox"
// shares one Outbox writing to cfg.OutboxFile, which also prints to stdout.
// district names the sender of email whose configured From has no name.
func New(cfg config.Delivery, district string, stdout io.Writer) (Sender, error) {
	var (
		r   Router
		ob  *Outbox
		tw  *Twilio
		err error
	)
	for _, c := range []struct {
		ch       Channel
		provider string
		dst      *Sender
	}{{SMS, cfg.SMS, &r.SMS}, {Voice, cfg.Voice, &r.Voice}, {Email, cfg.Email, &r.Email}} {
		switch {
		case c.provider == "outbox":
			if ob == nil {
				if ob, err = NewOutbox(cfg.OutboxFile, stdout); err != nil {
					return nil, err
				}
			}
			*c.dst = ob
		case c.provider == "twilio" && c.ch != Email:
			if tw == nil {
				tw = NewTwilio(TwilioOptions{
					BaseURL:    cfg.Twilio.BaseURL,
					AccountSID: cfg.Twilio.AccountSID,
					AuthToken:  cfg.Twilio.AuthToken,
					From:       cfg.Twilio.From,
				})
			}
			*c.dst = tw
		case c.provider == "smtp" && c.ch == Email:
			s := cfg.SMTP
			from, err := mail.ParseAddress(s.From)
			if err != nil {
				return nil, fmt.Errorf("delivery.smtp.from: %w", err)
			}
			if from.Name == "" {
				from.Name = district
			}
			if *c.dst, err = NewSMTP(SMTPOptions{
				Host:     s.Host,
				Port:     s.Port,
				Username: s.Username,
				Password: s.Password,
				From:     from.String(),
				Security: s.Security,
				CAFile:   s.CAFile,
			}); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("delivery.%s: unsupported provider %q", c.ch, c.provider)
		}
	}
	return r, nil
}
