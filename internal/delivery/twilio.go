package delivery

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TwilioOptions configures NewTwilio.
type TwilioOptions struct {
	BaseURL    string // e.g. https://api.twilio.com
	AccountSID string
	AuthToken  string
	From       string // E.164 sender number
	// HTTPClient defaults to one with a 10 s timeout.
	HTTPClient *http.Client
}

// Twilio sends SMS and voice calls through Twilio's REST API.
type Twilio struct {
	o TwilioOptions
}

func NewTwilio(o TwilioOptions) *Twilio {
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &Twilio{o: o}
}

// Send creates a Message (sms) or a Call (voice). Errors never contain the
// auth token: it travels only in the Authorization header.
func (t *Twilio) Send(ctx context.Context, m Message) error {
	form := url.Values{"To": {m.To}, "From": {t.o.From}}
	var resource string
	switch m.Channel {
	case SMS:
		resource = "Messages.json"
		form.Set("Body", m.Text)
	case Voice:
		resource = "Calls.json"
		form.Set("Twiml", twiml(m.Speech))
	default:
		return fmt.Errorf("twilio: cannot send %q messages", m.Channel)
	}
	endpoint := t.o.BaseURL + "/2010-04-01/Accounts/" + url.PathEscape(t.o.AccountSID) + "/" + resource
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("twilio %s: %w", m.Channel, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(t.o.AccountSID, t.o.AuthToken)
	resp, err := t.o.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("twilio %s: %w", m.Channel, err)
	}
	defer resp.Body.Close()
	// Read (a bounded amount of) the body so the connection can be reused.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err == nil && json.Unmarshal(body, &e) == nil && (e.Code != 0 || e.Message != "") {
		return fmt.Errorf("twilio %s: HTTP %s: error %d: %s", m.Channel, resp.Status, e.Code, e.Message)
	}
	return fmt.Errorf("twilio %s: HTTP %s", m.Channel, resp.Status)
}

// twiml says the speech twice, so someone who answers late still hears it.
func twiml(speech string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(speech)) // a strings.Builder never fails
	s := b.String()
	return `<Response><Say>` + s + `</Say><Pause length="1"/><Say>` + s + `</Say></Response>`
}
