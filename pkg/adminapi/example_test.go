package adminapi_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/pkg/adminapi"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// A nightly SIS sync previews the roster import, and writes it only when
// no row would be rejected. Its client was registered with the
// client_credentials grant and just the two scopes it needs.
func ExampleNew() {
	ctx := context.Background()
	api := adminapi.New(adminapi.Config{
		BaseURL:      "https://sso.district.example",
		ClientID:     "sis-sync",
		ClientSecret: os.Getenv("SIS_SYNC_SECRET"),
		Scopes:       []string{assurance.ScopeUsersImport, assurance.ScopeUsersRead},
	})
	roster, err := os.Open("roster.csv")
	if err != nil {
		log.Fatal(err)
	}
	defer roster.Close()
	preview, err := api.ImportUsers(ctx, roster, adminapi.ImportOptions{DryRun: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, row := range preview.Rows {
		if row.Outcome == adminapi.OutcomeReject {
			fmt.Printf("line %d: %s\n", row.Line, row.Message)
		}
	}
	if preview.Rejected > 0 {
		return
	}
	if _, err := roster.Seek(0, 0); err != nil {
		log.Fatal(err)
	}
	done, err := api.ImportUsers(ctx, roster, adminapi.ImportOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("created %d, updated %d\n", done.Created, done.Updated)
}

// A help-desk script tells "no such person" apart from "Gatehouse could
// not answer": only a 404 is the former, and a 503 says when to retry.
func ExampleIsNotFound() {
	ctx := context.Background()
	api := adminapi.New(adminapi.Config{BaseURL: "https://sso.district.example", ClientID: "helpdesk-bot",
		ClientSecret: os.Getenv("HELPDESK_BOT_SECRET"), Scopes: []string{assurance.ScopeUsersWrite}})
	for {
		err := api.Unlock(ctx, "jdoe")
		var apiErr *adminapi.Error
		switch {
		case err == nil:
			fmt.Println("unlocked")
		case adminapi.IsNotFound(err):
			fmt.Println("no such person")
		case errors.As(err, &apiErr) && apiErr.Temporary():
			time.Sleep(max(apiErr.RetryAfter, time.Second))
			continue
		default:
			log.Fatal(err)
		}
		return
	}
}
