package delivery_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/gatehouse/gatehouse/internal/delivery"
)

// relay is an in-process SMTP server that records what it receives.
type relay struct {
	user, pass string // AUTH PLAIN credentials, required when user is set
	rejectRcpt bool

	mu       sync.Mutex
	authed   bool
	tls      bool // whether MAIL FROM arrived over TLS
	mailFrom string
	rcptTo   []string
	data     []byte
}

func (r *relay) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &relaySession{r: r, c: c}, nil
}

type relaySession struct {
	r      *relay
	c      *smtp.Conn
	authed bool
}

func (s *relaySession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *relaySession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.r.user || password != s.r.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	if s.r.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	_, isTLS := s.c.TLSConnectionState()
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.authed, s.r.tls, s.r.mailFrom = s.authed, isTLS, from
	return nil
}

func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.r.rejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.rcptTo = append(s.r.rcptTo, to)
	return nil
}

func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.data = b
	return err
}

func (s *relaySession) Reset()        {}
func (s *relaySession) Logout() error { return nil }

// start serves r on 127.0.0.1; with tlsConfig it offers STARTTLS and
// accepts AUTH only after it.
func (r *relay) start(t *testing.T, tlsConfig *tls.Config) (port int) {
	t.Helper()
	srv := smtp.NewServer(r)
	srv.Domain = "relay.test"
	srv.TLSConfig = tlsConfig
	srv.AllowInsecureAuth = tlsConfig == nil
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// certFor returns a TLS config for a self-signed 127.0.0.1 certificate and
// a CA file trusting it.
func certFor(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, caFile
}

func TestSMTP(t *testing.T) {
	serverTLS, caFile := certFor(t)
	for _, tt := range []struct {
		security  string
		tlsConfig *tls.Config
		caFile    string
	}{
		{security: "none"},
		{security: "starttls", tlsConfig: serverTLS, caFile: caFile},
	} {
		t.Run(tt.security, func(t *testing.T) {
			r := &relay{user: "gatehouse", pass: "pw-s3cret"}
			port := r.start(t, tt.tlsConfig)
			s, err := delivery.NewSMTP(delivery.SMTPOptions{
				Host:     "127.0.0.1",
				Port:     port,
				Username: "gatehouse",
				Password: "pw-s3cret",
				From:     "Example District <no-reply@district.example>",
				Security: tt.security,
				CAFile:   tt.caFile,
			})
			if err != nil {
				t.Fatal(err)
			}
			m := delivery.CodeMessage(delivery.Email, "Example District", "jdoe@district.example", "482913", 10*time.Minute)
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}

			r.mu.Lock()
			defer r.mu.Unlock()
			if !r.authed || r.tls != (tt.security == "starttls") {
				t.Errorf("authenticated %v, over TLS %v", r.authed, r.tls)
			}
			if r.mailFrom != "no-reply@district.example" || len(r.rcptTo) != 1 || r.rcptTo[0] != "jdoe@district.example" {
				t.Errorf("envelope from %q to %q", r.mailFrom, r.rcptTo)
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(r.data)))
			if err != nil {
				t.Fatalf("%v in\n%s", err, r.data)
			}
			subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			for header, want := range map[string]string{
				"Subject": "Your Example District verification code",
				"From":    `"Example District" <no-reply@district.example>`,
				"To":      "<jdoe@district.example>",
			} {
				got := msg.Header.Get(header)
				if header == "Subject" {
					got = subject
				}
				if got != want {
					t.Errorf("%s = %q, want %q", header, got, want)
				}
			}
			if ct := msg.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || !strings.Contains(strings.ToLower(ct), "utf-8") {
				t.Errorf("Content-Type = %q", ct)
			}
			if _, err := msg.Header.Date(); err != nil {
				t.Errorf("Date: %v", err)
			}
			if id := msg.Header.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@district.example>") {
				t.Errorf("Message-ID = %q", id)
			}
			var body io.Reader = msg.Body
			if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
				body = quotedprintable.NewReader(body)
			}
			text, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.ReplaceAll(m.Text, "\n", "\r\n"); string(text) != want {
				t.Errorf("body =\n%q\nwant\n%q", text, want)
			}
		})
	}
}

func TestSMTPUntrustedCertificate(t *testing.T) {
	serverTLS, _ := certFor(t)
	r := &relay{}
	port := r.start(t, serverTLS)
	s, err := delivery.NewSMTP(delivery.SMTPOptions{Host: "127.0.0.1", Port: port, From: "no-reply@district.example", Security: "starttls"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), delivery.Message{Channel: delivery.Email, To: "jdoe@district.example", Subject: "s", Text: "t"})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("Send to a relay with an untrusted certificate = %v, want an unknown authority error", err)
	}
}

func TestSMTPRecipientRejected(t *testing.T) {
	r := &relay{rejectRcpt: true}
	port := r.start(t, nil)
	s, err := delivery.NewSMTP(delivery.SMTPOptions{Host: "localhost", Port: port, From: "no-reply@district.example", Security: "none"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), delivery.Message{Channel: delivery.Email, To: "nobody@district.example", Subject: "s", Text: "t"})
	if err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("Send = %v, want an error carrying the 550", err)
	}
}

func TestSMTPAuthFailureHidesPassword(t *testing.T) {
	r := &relay{user: "gatehouse", pass: "right"}
	port := r.start(t, nil)
	s, err := delivery.NewSMTP(delivery.SMTPOptions{
		Host: "127.0.0.1", Port: port, Username: "gatehouse", Password: "wr0ng-s3cret",
		From: "no-reply@district.example", Security: "none",
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), delivery.Message{Channel: delivery.Email, To: "jdoe@district.example", Subject: "s", Text: "t"})
	if err == nil || strings.Contains(err.Error(), "wr0ng-s3cret") {
		t.Errorf("Send with a wrong password = %v", err)
	}
}

func TestNewSMTPRefuses(t *testing.T) {
	ok := delivery.SMTPOptions{Host: "smtp.district.example", Port: 587, From: "no-reply@district.example", Security: "starttls"}
	for name, change := range map[string]func(o *delivery.SMTPOptions){
		"none to a remote host": func(o *delivery.SMTPOptions) { o.Security = "none" },
		"none to a LAN address": func(o *delivery.SMTPOptions) { o.Host, o.Security = "10.0.0.5", "none" },
		"unknown security":      func(o *delivery.SMTPOptions) { o.Security = "ssl" },
		"bad from":              func(o *delivery.SMTPOptions) { o.From = "no-reply" },
		"IPv6 literal":          func(o *delivery.SMTPOptions) { o.Host = "::1" },
		"port out of range":     func(o *delivery.SMTPOptions) { o.Port = 70000 },
		"missing CA file":       func(o *delivery.SMTPOptions) { o.CAFile = filepath.Join(t.TempDir(), "missing.pem") },
	} {
		o := ok
		change(&o)
		if _, err := delivery.NewSMTP(o); err == nil {
			t.Errorf("%s: NewSMTP succeeded", name)
		}
	}
	if _, err := delivery.NewSMTP(ok); err != nil {
		t.Errorf("NewSMTP(%+v) = %v", ok, err)
	}
	s, _ := delivery.NewSMTP(ok)
	if err := s.Send(context.Background(), delivery.Message{Channel: delivery.SMS, To: "+17045550112"}); err == nil {
		t.Error("SMTP sent an SMS")
	}
}
