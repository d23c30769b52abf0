package delivery

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// smsMax is one SMS segment of GSM-7 characters; longer texts are split
// and billed per part.
const smsMax = 160

// CodeMessage builds the text for a one-time code on a channel. An unknown
// channel gets a message without content, which Router refuses.
func CodeMessage(ch Channel, district, to, code string, ttl time.Duration) Message {
	m := Message{Channel: ch, To: to}
	expiry := "It expires in " + humanDuration(ttl) + "."
	switch ch {
	case SMS:
		m.Text = "Use verification code " + code + " for your " + district + " account. " + expiry
		if utf8.RuneCountInString(m.Text) > smsMax {
			m.Text = "Use verification code " + code + ". " + expiry
		}
	case Voice:
		digits := spell(code)
		m.Speech = "This is " + district + ". Your verification code is " + digits + " Again, your code is " + digits
	case Email:
		m.Subject = "Your " + district + " verification code"
		m.Text = "Your " + district + " verification code is:\n\n    " + code + "\n\n" +
			expiry + " Don't share it with anyone.\n\n" +
			"If you didn't request this code, you can ignore this email. " +
			"Someone may have typed your email address by mistake.\n"
	}
	return m
}

// NoticeMessage builds a security notice, such as "a sign-in method was
// added to your account", on a channel.
func NoticeMessage(ch Channel, district, to, text string) Message {
	m := Message{Channel: ch, To: to}
	switch ch {
	case SMS:
		m.Text = district + ": " + text
	case Voice:
		m.Speech = "This is " + district + ". " + text
	case Email:
		m.Subject = "Security notice for your " + district + " account"
		m.Text = text + "\n\n" + district + "\n"
	}
	return m
}

// spell separates the characters of code ("1. 2. 3.") so text-to-speech
// reads digits one by one instead of as a number.
func spell(code string) string {
	parts := make([]string, 0, len(code))
	for _, r := range code {
		parts = append(parts, string(r)+".")
	}
	return strings.Join(parts, " ")
}

// humanDuration writes d in the largest whole unit: "5 minutes", "1 hour",
// "90 seconds".
func humanDuration(d time.Duration) string {
	n, unit := int64(d/time.Second), "second"
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		n, unit = int64(d/time.Hour), "hour"
	case d >= time.Minute && d%time.Minute == 0:
		n, unit = int64(d/time.Minute), "minute"
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s", n, unit)
}
