package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDeliveryDefaults(t *testing.T) {
	d := Default().Delivery
	if d.SMS != "outbox" || d.Voice != "outbox" || d.Email != "outbox" {
		t.Errorf("providers = %q, %q, %q; want outbox everywhere", d.SMS, d.Voice, d.Email)
	}
	if d.Twilio.BaseURL != "https://api.twilio.com" || d.SMTP.Port != 587 || d.SMTP.Security != "starttls" {
		t.Errorf("twilio base_url %q, smtp port %d, security %q", d.Twilio.BaseURL, d.SMTP.Port, d.SMTP.Security)
	}
}

func TestDeliveryValidation(t *testing.T) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, selfSignedPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	passwordFile := filepath.Join(dir, "smtp_password")
	if err := os.WriteFile(passwordFile, []byte("s3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const twilio = "delivery:\n  sms: twilio\n  voice: twilio\n  twilio:\n    account_sid: AC123\n    auth_token: s3cret-token\n    from: '+17045550100'\n"

	tests := []struct {
		name    string
		yaml    string
		env     []string
		check   func(t *testing.T, c *Config)
		wantErr []string
	}{
		{
			name: "twilio for both phone channels",
			yaml: twilio,
		},
		{
			name: "twilio selected without credentials",
			yaml: "delivery: {voice: twilio, twilio: {base_url: ''}}\n",
			wantErr: []string{
				`delivery.twilio.base_url: required when delivery.sms or delivery.voice is "twilio"`,
				"delivery.twilio.account_sid: required",
				"delivery.twilio.auth_token: required",
				"delivery.twilio.from: required",
			},
		},
		{
			name: "twilio problems do not echo the token or base_url",
			yaml: "delivery: {sms: twilio, twilio: {base_url: 'ftp://u:s3cret@x', auth_token: s3cret-token, from: '7045550100'}}\n",
			wantErr: []string{
				"delivery.twilio.base_url: must be an absolute http(s) URL",
				"delivery.twilio.account_sid: required",
				`delivery.twilio.from: must be an E.164 number such as +17045550100 (got "7045550100")`,
			},
		},
		{
			name:    "twilio over plain http to a remote host",
			yaml:    twilio + "    base_url: http://api.twilio.example\n",
			wantErr: []string{"delivery.twilio.base_url: must use https"},
		},
		{
			name: "twilio over plain http to a local double",
			yaml: twilio + "    base_url: http://127.0.0.1:9999/\n",
		},
		{
			name: "unused twilio settings are not checked",
			yaml: "delivery: {twilio: {base_url: '', from: 'x'}}\n",
		},
		{
			name: "unknown providers",
			yaml: "delivery: {sms: smtp, voice: pigeon, email: twilio}\n",
			wantErr: []string{
				`delivery.sms: must be "outbox" or "twilio" (got "smtp")`,
				`delivery.voice: must be "outbox" or "twilio" (got "pigeon")`,
				`delivery.email: must be "outbox" or "smtp" (got "twilio")`,
			},
		},
		{
			name: "smtp from the environment, password from a file",
			env: []string{
				"GATEHOUSE_DELIVERY_EMAIL=smtp",
				"GATEHOUSE_DELIVERY_SMTP_HOST=smtp.district.example",
				"GATEHOUSE_DELIVERY_SMTP_PORT=465",
				"GATEHOUSE_DELIVERY_SMTP_SECURITY=tls",
				"GATEHOUSE_DELIVERY_SMTP_FROM=Gatehouse <no-reply@district.example>",
				"GATEHOUSE_DELIVERY_SMTP_USERNAME=gatehouse",
				"GATEHOUSE_DELIVERY_SMTP_PASSWORD_FILE=" + passwordFile,
				"GATEHOUSE_DELIVERY_SMTP_CA_FILE=" + caFile,
			},
			check: func(t *testing.T, c *Config) {
				s := c.Delivery.SMTP
				if s.Password != "s3cret-pw" || s.Port != 465 || s.CAFile != caFile || s.From != "Gatehouse <no-reply@district.example>" {
					t.Errorf("smtp = %+v", s)
				}
			},
		},
		{
			name: "smtp selected without settings",
			yaml: "delivery: {email: smtp, smtp: {port: 0, password: s3cret-pw}}\n",
			wantErr: []string{
				`delivery.smtp.host: required when delivery.email is "smtp"`,
				"delivery.smtp.port: must be between 1 and 65535 (got 0)",
				`delivery.smtp.from: required when delivery.email is "smtp"`,
				"delivery.smtp.username: required when delivery.smtp.password is set",
			},
		},
		{
			name: "smtp bad values",
			yaml: "delivery: {email: smtp, smtp: {host: 'mail:25', port: 70000, from: 'no-reply', username: u, security: ssl}}\n",
			wantErr: []string{
				"delivery.smtp.host: must be a host name or IPv4 address, without a port",
				"delivery.smtp.port: must be between 1 and 65535 (got 70000)",
				`delivery.smtp.from: must be an address such as "Gatehouse <no-reply@district.example>" (got "no-reply")`,
				"delivery.smtp.password: required when delivery.smtp.username is set",
				`delivery.smtp.security: must be "starttls", "tls" or "none" (got "ssl")`,
			},
		},
		{
			name:    "smtp without TLS to a remote relay",
			yaml:    "delivery: {email: smtp, smtp: {host: smtp.district.example, security: none, from: a@b.example}}\n",
			wantErr: []string{`delivery.smtp.security: "none" is only allowed when delivery.smtp.host is localhost or 127.0.0.1`},
		},
		{
			name: "smtp without TLS to a local relay",
			yaml: "delivery: {email: smtp, smtp: {host: localhost, port: 25, security: none, from: a@b.example}}\n",
		},
		{
			name:    "ca_file checked even while email uses the outbox",
			yaml:    "delivery: {smtp: {ca_file: '" + filepath.Join(dir, "missing.pem") + "'}}\n",
			wantErr: []string{"delivery.smtp.ca_file: open " + filepath.Join(dir, "missing.pem")},
		},
		{
			name:    "ca_file without certificates",
			yaml:    "delivery: {smtp: {ca_file: '" + notPEM + "'}}\n",
			wantErr: []string{"delivery.smtp.ca_file: holds no PEM certificate"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = filepath.Join(t.TempDir(), "config.yaml")
				if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(path, tt.env)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded, want error containing %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
			if n := strings.Count(err.Error(), "\n  "); len(tt.wantErr) > 1 && n != len(tt.wantErr) {
				t.Errorf("error has %d problems, want %d: %q", n, len(tt.wantErr), err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error echoes a secret: %q", err)
			}
		})
	}
}

func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
