package mail_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/mail"
	"github.com/kiln-build/kiln/mail/smtptest"
)

// TestSES sends through the real AWS SDK (sesv2) to aws-ses-v2-local from
// the npm registry.
func TestSES(t *testing.T) {
	// The AWS chain reads credentials from the environment.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	local := smtptest.StartSESLocal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ses, err := mail.NewSES(ctx, mail.SESConfig{Region: "eu-west-1", Endpoint: local.URL, From: "Kiln <kiln@example.com>"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		m := verifyMail("ada@example.com", "http://kiln.test/verify-email?token=abc")
		m.ID = "feedface"
		if err := ses.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, err := local.Wait(ctx, func(e smtptest.SESEmail) bool {
			return len(e.Destination.To) == 1 && e.Destination.To[0] == "ada@example.com"
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != m.Subject || got.Body.Text != m.Text || got.Body.HTML != m.HTML || !strings.Contains(got.From, "kiln@example.com") {
			t.Fatalf("stored email = %+v", got)
		}
		var id string
		for _, h := range got.Headers {
			if h.Name == "X-Kiln-Message-Id" {
				id = h.Value
			}
		}
		if id != "feedface" {
			t.Fatalf("X-Kiln-Message-Id = %q, want the stable id", id)
		}
	})

	t.Run("ErrRefusedIsPermanent", func(t *testing.T) {
		// SES answers 400 for a message it will never take.
		m := &kiln.Mail{To: "ada@example.com", Subject: "", Text: "no subject"}
		if err := ses.Send(ctx, m); !errors.Is(err, kiln.ErrPermanentMail) {
			t.Fatalf("Send of a refused message = %v, want a permanent error", err)
		}
	})

	t.Run("ErrDownIsTemporary", func(t *testing.T) {
		down, err := mail.NewSES(ctx, mail.SESConfig{Region: "eu-west-1", Endpoint: "http://127.0.0.1:1", From: "kiln@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		shortCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err = down.Send(shortCtx, verifyMail("ada@example.com", "http://x/"))
		if err == nil || errors.Is(err, kiln.ErrPermanentMail) {
			t.Fatalf("Send to an endpoint that is down = %v, want a temporary error", err)
		}
	})

	t.Run("ErrConfig", func(t *testing.T) {
		for _, cfg := range []mail.SESConfig{
			{Region: "eu-west-1"},
			{Region: "eu-west-1", From: "kiln@example.com", Endpoint: "ftp://x"},
		} {
			if _, err := mail.NewSES(ctx, cfg); err == nil {
				t.Errorf("NewSES(%+v) succeeded", cfg)
			}
		}
	})
}
