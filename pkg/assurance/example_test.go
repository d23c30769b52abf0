package assurance_test

import (
	"fmt"

	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// A gradebook route that changes grades asks for a sign-in with a second
// factor; the ID token's acr says what the sign-in proved.
func ExampleAtLeast() {
	for _, acr := range []string{assurance.Password, assurance.MFA, "something-else"} {
		fmt.Printf("%s: %v\n", acr, assurance.AtLeast(acr, assurance.MFA))
	}
	// Output:
	// pwd: false
	// mfa: true
	// something-else: false
}

// An automation token for a SIS sync holds two narrow scopes, never one
// that manages applications.
func ExampleIsAdminScope() {
	for _, scope := range []string{assurance.ScopeUsersImport, "openid"} {
		fmt.Printf("%s: %v\n", scope, assurance.IsAdminScope(scope))
	}
	// Output:
	// gatehouse:users.import: true
	// openid: false
}
