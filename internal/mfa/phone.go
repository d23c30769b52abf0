package mfa

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Country is one country a person may choose for their phone number.
type Country struct {
	Region string // "US"
	Name   string // "United States"
	Dial   string // "+1"
}

// Countries lists the allowed regions sorted by English name. A region
// without a country calling code cannot be offered and is left out.
func Countries(allowed []string) []Country {
	out := make([]Country, 0, len(allowed))
	for _, r := range allowed {
		r = strings.ToUpper(r)
		code := phonenumbers.GetCountryCodeForRegion(r)
		if code == 0 {
			continue
		}
		out = append(out, Country{Region: r, Name: regionName(r), Dial: "+" + strconv.Itoa(code)})
	}
	slices.SortFunc(out, func(a, b Country) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Region, b.Region))
	})
	return slices.CompactFunc(out, func(a, b Country) bool { return a.Region == b.Region })
}

func regionName(region string) string {
	r, err := language.ParseRegion(region)
	if err != nil {
		return region
	}
	return display.English.Regions().Name(r)
}

// ErrInvalidPhone means what was typed is not a usable phone number.
var ErrInvalidPhone = errors.New("Enter a valid phone number, including the area code.")

// ErrCountryNotAllowed means the number is valid but policy does not allow
// sending codes to its country.
type ErrCountryNotAllowed struct{ Region string }

func (e ErrCountryNotAllowed) Error() string {
	return fmt.Sprintf("Gatehouse can't send codes to phone numbers in %s (+%d). Use a number from an allowed country.",
		regionName(e.Region), phonenumbers.GetCountryCodeForRegion(e.Region))
}

// ErrPhoneType means the number is valid but of a kind codes are never sent
// to: a premium-rate, toll-free or similar line, where every text or call
// can cost the district money (toll fraud), or a landline asked for texts.
type ErrPhoneType struct{ Type phonenumbers.PhoneNumberType }

func (e ErrPhoneType) Error() string {
	if e.Type == phonenumbers.FIXED_LINE {
		return "That number is a landline, which can't receive texts. Choose Call me, or enter a mobile number."
	}
	return "Gatehouse can't send codes to premium-rate, toll-free, shared-cost, personal, pager or company-wide numbers. Enter a mobile number or a home landline."
}

// acceptedPhoneType reports whether codes may go to a number of this type
// by this factor. Mobile numbers take both; most US and Canadian numbers
// cannot be told apart from landlines and parse as fixed-line-or-mobile,
// so they do too. A known landline takes calls only. VoIP numbers are
// accepted: they cost the district no more than a mobile, and many homes'
// only line is one. Everything else (premium-rate, toll-free, shared-cost,
// personal, pager, UAN, voicemail, unknown) is refused, since a call or
// text to it can be billed to the district.
func acceptedPhoneType(t phonenumbers.PhoneNumberType, factor Factor) bool {
	switch t {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE, phonenumbers.VOIP:
		return true
	case phonenumbers.FIXED_LINE:
		return factor == FactorVoice
	}
	return false
}

// ParsePhone reads a number as typed for the chosen region (a leading +
// and country code overrides it) and returns it in E.164 with its region,
// if codes may be sent to it by the factor (sms or voice).
func ParsePhone(region, input string, factor Factor, allowed []string) (e164, numberRegion string, err error) {
	num, err := phonenumbers.Parse(input, strings.ToUpper(region))
	// E.164 has no room for an extension, and a code cannot reach one.
	if err != nil || num.GetExtension() != "" || !phonenumbers.IsValidNumber(num) {
		return "", "", ErrInvalidPhone
	}
	numberRegion = phonenumbers.GetRegionCodeForNumber(num)
	// Non-geographic numbers (+800 freephone, satellite) belong to no
	// country and cannot receive codes.
	if numberRegion == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
		return "", "", ErrInvalidPhone
	}
	if !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, numberRegion) }) {
		return "", "", ErrCountryNotAllowed{Region: numberRegion}
	}
	if t := phonenumbers.GetNumberType(num); !acceptedPhoneType(t, factor) {
		return "", "", ErrPhoneType{Type: t}
	}
	return phonenumbers.Format(num, phonenumbers.E164), numberRegion, nil
}
