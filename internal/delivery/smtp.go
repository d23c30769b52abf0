package delivery

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	netmail "net/mail"
	"os"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// SMTPOptions configures NewSMTP.
type SMTPOptions struct {
	Host string
	Port int
	// Username enables SMTP AUTH; empty sends without authenticating.
	Username, Password string
	From               string // e.g. "Gatehouse <no-reply@district.example>"
	// Security is "starttls" (required STARTTLS), "tls" (implicit TLS) or
	// "none" (localhost or 127.0.0.1 only).
	Security string
	// CAFile is a PEM bundle trusted in addition to the system roots.
	CAFile string
}

// SMTP sends email through a relay.
type SMTP struct {
	client *mail.Client // safe for concurrent sends: each dials its own connection
	from   *netmail.Address
}

func NewSMTP(o SMTPOptions) (*SMTP, error) {
	from, err := netmail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: from: %w", err)
	}
	if o.Host == "" || strings.Contains(o.Host, ":") {
		// go-mail joins host and port with a bare colon, breaking IPv6 literals.
		return nil, fmt.Errorf("smtp: host must be a host name or IPv4 address (got %q)", o.Host)
	}
	tlsConfig := &tls.Config{ServerName: o.Host, MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		if tlsConfig.RootCAs, err = caPool(o.CAFile); err != nil {
			return nil, err
		}
	}
	opts := []mail.Option{mail.WithPort(o.Port), mail.WithTimeout(10 * time.Second), mail.WithTLSConfig(tlsConfig)}
	auth := mail.SMTPAuthAutoDiscover // the strongest mechanism both sides support
	switch o.Security {
	case "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		// Without TLS the codes and the password cross the network in
		// clear; on loopback there is no network, e.g. a local relay that
		// forwards over TLS.
		if o.Host != "localhost" && o.Host != "127.0.0.1" {
			return nil, fmt.Errorf("smtp: security \"none\" is only allowed with host localhost or 127.0.0.1 (got %q)", o.Host)
		}
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
		// go-mail's discovery skips PLAIN without TLS, but allows PLAIN to
		// localhost and 127.0.0.1 when asked for it.
		auth = mail.SMTPAuthPlain
	default:
		return nil, fmt.Errorf("smtp: security must be starttls, tls or none (got %q)", o.Security)
	}
	if o.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(o.Username), mail.WithPassword(o.Password))
	}
	client, err := mail.NewClient(o.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return &SMTP{client: client, from: from}, nil
}

func caPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("smtp: ca file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("smtp: ca file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// Send sends m as a text/plain UTF-8 email over a new connection.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if m.Channel != Email {
		return fmt.Errorf("smtp: cannot send %q messages", m.Channel)
	}
	msg := mail.NewMsg()
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	// go-mail's own Message-ID would carry this server's host name.
	msg.SetMessageIDWithValue(rand.Text() + "@" + s.from.Address[strings.LastIndexByte(s.from.Address, '@')+1:])
	// RFC 3834: keeps vacation responders from answering.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if err := s.client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}
