// Package web is the browser side of Gatehouse, one package per flow:
//
//   - httpx: the base every flow stands on (layout and rendering, CSRF,
//     errors as pages, the 503 "try again" page, request IDs, client
//     address and device)
//   - websession: signed-in browsers, remembered devices, signing out
//     everywhere
//   - steps: carries a sign-in from page to page as internal/flow decides,
//     and finishes it with a session and the application's code
//   - signin: the authorization endpoint, username, password, a required
//     password change
//   - enroll: "Keep your account secure", registering methods
//   - challenge: the MFA challenge and step-up
//   - consent, account (My Account), sspr (password reset), logout
//   - wording: how methods, codes and new passwords are put to people
//   - webtest: the real services on the test stores, for the flows' handler
//     tests
//
// This package itself holds only the test that keeps the flows small.
package web
