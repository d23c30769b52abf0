package delivery_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/delivery"
)

func TestCodeMessage(t *testing.T) {
	long := strings.Repeat("Very Long Name ", 10) + "School District"
	tests := []struct {
		name     string
		ch       delivery.Channel
		district string
		ttl      time.Duration
		want     delivery.Message
	}{
		{
			name: "sms", ch: delivery.SMS, district: "Example School District", ttl: 5 * time.Minute,
			want: delivery.Message{Channel: delivery.SMS, To: "dest", Text: "Use verification code 123456 for your Example School District account. It expires in 5 minutes."},
		},
		{
			name: "sms with a district name too long for one segment", ch: delivery.SMS, district: long, ttl: time.Minute,
			want: delivery.Message{Channel: delivery.SMS, To: "dest", Text: "Use verification code 123456. It expires in 1 minute."},
		},
		{
			name: "voice spells the digits", ch: delivery.Voice, district: "Example School District", ttl: 5 * time.Minute,
			want: delivery.Message{Channel: delivery.Voice, To: "dest", Speech: "This is Example School District. Your verification code is 1. 2. 3. 4. 5. 6. Again, your code is 1. 2. 3. 4. 5. 6."},
		},
		{
			name: "email", ch: delivery.Email, district: "Example School District", ttl: 90 * time.Second,
			want: delivery.Message{
				Channel: delivery.Email, To: "dest", Subject: "Your Example School District verification code",
				Text: "Your Example School District verification code is:\n\n    123456\n\n" +
					"It expires in 90 seconds. Don't share it with anyone.\n\n" +
					"If you didn't request this code, you can ignore this email. Someone may have typed your email address by mistake.\n",
			},
		},
		{
			name: "email in hours", ch: delivery.Email, district: "D", ttl: 2 * time.Hour,
			want: delivery.Message{
				Channel: delivery.Email, To: "dest", Subject: "Your D verification code",
				Text: "Your D verification code is:\n\n    123456\n\nIt expires in 2 hours. Don't share it with anyone.\n\n" +
					"If you didn't request this code, you can ignore this email. Someone may have typed your email address by mistake.\n",
			},
		},
		{
			name: "unknown channel has no content", ch: "fax", district: "D", ttl: time.Minute,
			want: delivery.Message{Channel: "fax", To: "dest"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := delivery.CodeMessage(tt.ch, tt.district, "dest", "123456", tt.ttl)
			if got != tt.want {
				t.Errorf("CodeMessage =\n%+v\nwant\n%+v", got, tt.want)
			}
			if n := utf8.RuneCountInString(got.Text); tt.ch == delivery.SMS && n > 160 {
				t.Errorf("SMS is %d characters", n)
			}
		})
	}
}

func TestNoticeMessage(t *testing.T) {
	const text = "A phone number was added to your account. If this wasn't you, contact your school's help desk."
	for ch, want := range map[delivery.Channel]delivery.Message{
		delivery.SMS:   {Channel: delivery.SMS, To: "dest", Text: "Example District: " + text},
		delivery.Voice: {Channel: delivery.Voice, To: "dest", Speech: "This is Example District. " + text},
		delivery.Email: {Channel: delivery.Email, To: "dest", Subject: "Security notice for your Example District account", Text: text + "\n\nExample District\n"},
	} {
		if got := delivery.NoticeMessage(ch, "Example District", "dest", text); got != want {
			t.Errorf("NoticeMessage(%s) =\n%+v\nwant\n%+v", ch, got, want)
		}
	}
}
