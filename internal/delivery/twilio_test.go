package delivery_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/delivery"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "tok-s3cret-0123456789"
	testFrom  = "+17045550100"
)

// fakeTwilio asserts that every request is exactly wantPath with wantForm,
// then answers status and body.
func fakeTwilio(t *testing.T, wantPath string, wantForm url.Values, status int, body string) *delivery.Twilio {
	t.Helper()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.Method != http.MethodPost || r.URL.Path != wantPath || r.URL.RawQuery != "" {
			t.Errorf("request %s %s, want POST %s", r.Method, r.URL, wantPath)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type = %q", ct)
		}
		if user, pass, ok := r.BasicAuth(); !ok || user != testSID || pass != testToken {
			t.Errorf("basic auth = %q, %q, %v", user, pass, ok)
		}
		b, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(b))
		if err != nil {
			t.Errorf("body %q: %v", b, err)
		}
		if len(form) != len(wantForm) {
			t.Errorf("form has fields %v, want %v", form, wantForm)
		}
		for k, want := range wantForm {
			if got := form[k]; len(got) != 1 || got[0] != want[0] {
				t.Errorf("form %s = %q, want %q", k, got, want[0])
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(func() {
		srv.Close()
		if calls != 1 {
			t.Errorf("Twilio received %d requests, want 1", calls)
		}
	})
	return delivery.NewTwilio(delivery.TwilioOptions{
		BaseURL:    srv.URL + "/", // a trailing slash must not double up
		AccountSID: testSID,
		AuthToken:  testToken,
		From:       testFrom,
		HTTPClient: srv.Client(),
	})
}

func TestTwilioSMS(t *testing.T) {
	m := delivery.CodeMessage(delivery.SMS, "Example District", "+17045550112", "123456", 5*time.Minute)
	tw := fakeTwilio(t, "/2010-04-01/Accounts/"+testSID+"/Messages.json", url.Values{
		"To":   {"+17045550112"},
		"From": {testFrom},
		"Body": {"Use verification code 123456 for your Example District account. It expires in 5 minutes."},
	}, http.StatusCreated, `{"sid":"SM123","status":"queued"}`)
	if err := tw.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func TestTwilioVoice(t *testing.T) {
	m := delivery.CodeMessage(delivery.Voice, "A&B <District>", "+17045550112", "4821", 5*time.Minute)
	const say = "This is A&amp;B &lt;District&gt;. Your verification code is 4. 8. 2. 1. Again, your code is 4. 8. 2. 1."
	tw := fakeTwilio(t, "/2010-04-01/Accounts/"+testSID+"/Calls.json", url.Values{
		"To":    {"+17045550112"},
		"From":  {testFrom},
		"Twiml": {`<Response><Say>` + say + `</Say><Pause length="1"/><Say>` + say + `</Say></Response>`},
	}, http.StatusCreated, `{"sid":"CA123","status":"queued"}`)
	if err := tw.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func TestTwilioError(t *testing.T) {
	m := delivery.Message{Channel: delivery.SMS, To: "+1555", Text: "hi"}
	tw := fakeTwilio(t, "/2010-04-01/Accounts/"+testSID+"/Messages.json", url.Values{
		"To": {"+1555"}, "From": {testFrom}, "Body": {"hi"},
	}, http.StatusBadRequest, `{"code":21211,"message":"The 'To' number is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`)
	err := tw.Send(context.Background(), m)
	if err == nil {
		t.Fatal("Send succeeded on a 400")
	}
	for _, want := range []string{"400", "21211", "The 'To' number is not a valid phone number."} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error %q contains the auth token", err)
	}
}

func TestTwilioErrorWithoutJSON(t *testing.T) {
	m := delivery.Message{Channel: delivery.SMS, To: "+17045550112", Text: "hi"}
	tw := fakeTwilio(t, "/2010-04-01/Accounts/"+testSID+"/Messages.json", url.Values{
		"To": {"+17045550112"}, "From": {testFrom}, "Body": {"hi"},
	}, http.StatusBadGateway, "<html>bad gateway</html>")
	if err := tw.Send(context.Background(), m); err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("Send = %v, want an error naming the status", err)
	}
}

func TestTwilioRefusesEmail(t *testing.T) {
	tw := delivery.NewTwilio(delivery.TwilioOptions{BaseURL: "http://127.0.0.1:1", AccountSID: testSID, AuthToken: testToken, From: testFrom})
	if err := tw.Send(context.Background(), delivery.Message{Channel: delivery.Email, To: "a@b.example"}); err == nil {
		t.Error("Twilio sent an email")
	}
}
