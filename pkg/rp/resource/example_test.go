package resource_test

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/pkg/assurance"
	"github.com/gatehouse/gatehouse/pkg/rp/resource"
)

// A grades API reads grades with any signed-in teacher's token, and
// changes them only with a token from a sign-in with a second factor in
// the last fifteen minutes; otherwise the app is told to step up.
func Example() {
	tokens, err := resource.New(resource.Config{
		Issuer:       "https://login.district.example",
		ClientID:     "grades-api", // registered to introspect other apps' tokens
		ClientSecret: "the secret Gatehouse issued",
		CacheTTL:     30 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /grades", tokens.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := resource.FromContext(r.Context())
		fmt.Fprintf(w, "grades visible to %s\n", t.Subject)
	})))
	mux.Handle("POST /grades", tokens.RequireACR(assurance.MFA, 15*time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	log.Fatal(http.ListenAndServe(":8080", mux))
}
