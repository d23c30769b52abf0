package mfa

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// MaskPhone shows the country code, the first three national digits and the
// last two, as the district's guide does: "+1 704 XXX XX12". Input that is
// not an E.164 number shows at most its last two digits.
func MaskPhone(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil || phonenumbers.Format(num, phonenumbers.E164) != e164 {
		return maskDigits(digitsOnly(e164))
	}
	national := phonenumbers.GetNationalSignificantNumber(num)
	prefix := "+" + strconv.Itoa(int(num.GetCountryCode())) + " "
	// Keep at least two digits hidden; short numbers show only the end.
	if len(national) < 7 {
		return prefix + maskDigits(national)
	}
	return prefix + national[:3] + " " + maskDigits(national[3:])
}

// maskDigits replaces all but the last two digits with X in groups of three,
// the last group joined to the two digits shown: "XXX XX12".
func maskDigits(digits string) string {
	if len(digits) <= 2 {
		return strings.Repeat("X", len(digits))
	}
	hidden := len(digits) - 2
	var b strings.Builder
	for i := 0; i < hidden; i += 3 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.Repeat("X", min(3, hidden-i)))
	}
	return b.String() + digits[hidden:]
}

func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// MaskEmail shows the first two characters of the local part (one when it
// has two or fewer) and the domain: "jd***@home.example".
func MaskEmail(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return "***"
	}
	local, domain := addr[:at], addr[at:]
	show := 2
	if utf8.RuneCountInString(local) <= 2 {
		show = 1
	}
	end := 0
	for range show {
		_, size := utf8.DecodeRuneInString(local[end:])
		end += size
	}
	return local[:end] + "***" + domain
}
