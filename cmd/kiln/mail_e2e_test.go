package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/config"
	"github.com/kiln-build/kiln/mail/smtptest"
)

// smtpConfig is a test Main's configuration sending through the SMTP
// server at port (no TLS: a relay on the same machine) with quick retries.
func smtpConfig(t *testing.T, dataDir string, port int) config.Config {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.Dev = true
	cfg.Build.WarmCache = false
	cfg.Log.Level, cfg.Log.Format = "info", "text"
	cfg.Mail.Sender = "smtp"
	cfg.Mail.SMTP = config.SMTP{Host: "127.0.0.1", Port: port, TLS: "none", From: "Kiln <kiln@example.com>"}
	cfg.Mail.RetryBase = 100 * time.Millisecond
	return cfg
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+`)

// mailLink returns the first link of a text part.
func mailLink(tb testing.TB, text string) *url.URL {
	tb.Helper()
	raw := linkRE.FindString(text)
	u, err := url.Parse(raw)
	if raw == "" || err != nil {
		tb.Fatalf("no link in mail:\n%s", text)
	}
	return u
}

func waitSMTP(tb testing.TB, srv *smtptest.Server, to, subject string) smtptest.Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := srv.Wait(ctx, func(m smtptest.Message) bool {
		return len(m.To) == 1 && m.To[0] == to && strings.Contains(m.Header.Get("Subject"), subject)
	})
	if err != nil {
		tb.Fatalf("no mail %q to %s: %v", subject, to, err)
	}
	return m
}

// TestMailOverSMTP drives Kiln against a real SMTP server (go-smtp,
// in-process): the signup mail's link verifies the address, a build
// mails its result, a password reset works once, and build mail can be
// turned off.
func TestMailOverSMTP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Options{})
	m := MustMainConfig(t, smtpConfig(t, t.TempDir(), srv.Port()), testPipeline{})
	anon := client.New(m.URL())

	if _, err := anon.Signup(ctx, "ada@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	verify := waitSMTP(t, srv, "ada@example.com", "Verify your email")
	if verify.From != "kiln@example.com" || !strings.HasSuffix(verify.MessageID(), "@example.com") {
		t.Fatalf("from %q, Message-ID %q", verify.From, verify.MessageID())
	}
	link := mailLink(t, verify.Text)
	if !strings.HasPrefix(link.String(), m.URL()+"/verify-email?token=") {
		t.Fatalf("verification link %s does not point to the server %s", link, m.URL())
	}
	if !strings.Contains(verify.HTML, link.String()) {
		t.Fatalf("the HTML part lacks the link %s:\n%s", link, verify.HTML)
	}
	// The link opens the portal's verification page, and its token works.
	resp, err := http.Get(link.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", link, resp.Status)
	}
	if u, err := anon.VerifyEmail(ctx, link.Query().Get("token")); err != nil || !u.EmailVerified {
		t.Fatalf("verify with the mailed token: %+v %v", u, err)
	}

	sess, err := anon.Login(ctx, "ada@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	ada := client.New(m.URL(), client.WithToken(sess.AccessToken))
	_, b, err := ada.CreateApp(ctx, kiln.AppCreate{Description: "a todo app with tasks (title, done)"})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, ada, b.ID, 60*time.Second, kiln.BuildStatus.Terminal)
	done := waitSMTP(t, srv, "ada@example.com", "succeeded")
	if got, want := mailLink(t, done.Text).String(), fmt.Sprintf("%s/builds/%d", m.URL(), b.ID); got != want {
		t.Fatalf("build mail links to %s, want %s", got, want)
	}

	// Password reset: the mailed link works once.
	if _, err := anon.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	reset := mailLink(t, waitSMTP(t, srv, "ada@example.com", "Reset your Kiln password").Text)
	if !strings.HasPrefix(reset.String(), m.URL()+"/reset-password?token=") {
		t.Fatalf("reset link %s", reset)
	}
	if err := anon.ResetPassword(ctx, reset.Query().Get("token"), "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	if err := anon.ResetPassword(ctx, reset.Query().Get("token"), "another passphrase"); kiln.ErrorCode(err) != kiln.EInvalid {
		t.Fatalf("reused reset token: %v", err)
	}
	if _, err := anon.Login(ctx, "ada@example.com", "a brand new passphrase"); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}

	// With build mail off, a finished build writes no mail.
	sess, err = anon.Login(ctx, "ada@example.com", "a brand new passphrase")
	if err != nil {
		t.Fatal(err)
	}
	ada = client.New(m.URL(), client.WithToken(sess.AccessToken))
	if u, err := ada.SetNotifications(ctx, kiln.Notifications{BuildFinished: false}); err != nil || u.Notifications.BuildFinished {
		t.Fatalf("turn build mail off: %+v %v", u, err)
	}
	b2, err := ada.CreateBuild(ctx, b.AppID, kiln.BuildCreate{})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, ada, b2.ID, 60*time.Second, kiln.BuildStatus.Terminal)
	list, _, err := ada.AdminListMail(ctx, "", kiln.Page{})
	if err != nil {
		t.Fatal(err)
	}
	builds := 0
	for _, msg := range list {
		if msg.Kind == "build_finished" {
			builds++
		}
	}
	if builds != 1 {
		t.Fatalf("%d build mails in the outbox, want 1 (the second build's owner turned them off)", builds)
	}
}

// TestMailSurvivesOutageAndRestart queues mail while the SMTP server is
// down, restarts Kiln in between, then brings the server up: every
// message arrives, exactly once. A refused recipient fails at once and an
// admin's retry delivers it once the server accepts it.
func TestMailSurvivesOutageAndRestart(t *testing.T) {
	t.Parallel()
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		testMailOutage(t, "")
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		testMailOutage(t, MustPostgresURL(t))
	})
}

func testMailOutage(t *testing.T, dbURL string) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Options{})
	srv.Reject(func(to string) error {
		if strings.HasPrefix(to, "bounce") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	})
	srv.Stop()
	dir := t.TempDir()
	cfg := smtpConfig(t, dir, srv.Port())
	cfg.Database.URL = dbURL
	m1 := MustMainConfig(t, cfg, testPipeline{})
	anon := client.New(m1.URL())
	emails := []string{"admin@example.com", "u1@example.com", "u2@example.com", "u3@example.com"}
	for _, e := range emails {
		if _, err := anon.Signup(ctx, e, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := anon.RequestPasswordReset(ctx, "u1@example.com"); err != nil {
		t.Fatal(err)
	}
	const queued = 5
	// Wait until every message has failed at least once against the
	// server that is down.
	adminCtx := kiln.NewContextWithUser(ctx, &kiln.User{ID: 1, Role: kiln.RoleAdmin})
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, _, err := m1.Mail.FindMail(adminCtx, kiln.MailFilter{})
		if err != nil {
			t.Fatal(err)
		}
		tried := 0
		for _, msg := range list {
			if msg.Attempts >= 1 && msg.Status == kiln.MailPending && msg.LastError != "" {
				tried++
			}
		}
		if len(list) == queued && tried == queued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("messages not all tried: %+v", list)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages arrived while the server was down", n)
	}

	// Restart Kiln, then bring the mail server back.
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := MustMainConfig(t, cfg, testPipeline{})
	srv.Restart(t)
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := srv.WaitCount(waitCtx, queued); err != nil {
		t.Fatal(err)
	}
	// Every outbox row records its delivery; only then is the count final.
	deadline = time.Now().Add(30 * time.Second)
	for {
		sent := kiln.MailSent
		list, _, err := m2.Mail.FindMail(adminCtx, kiln.MailFilter{Status: &sent})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == queued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages recorded as sent", len(list), queued)
		}
		time.Sleep(50 * time.Millisecond)
	}
	seen := map[string]int{}
	for _, msg := range srv.Messages() {
		seen[msg.MessageID()]++
	}
	if len(srv.Messages()) != queued || len(seen) != queued {
		t.Fatalf("%d messages with %d distinct ids arrived, want %d each: %v", len(srv.Messages()), len(seen), queued, seen)
	}

	// A refused recipient fails at once and is kept as failed.
	if _, err := client.New(m2.URL()).Signup(ctx, "bounce@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	failed := kiln.MailFailed
	deadline = time.Now().Add(30 * time.Second)
	var bounced *kiln.MailMessage
	for bounced == nil {
		list, _, err := m2.Mail.FindMail(adminCtx, kiln.MailFilter{Status: &failed})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 0 {
			bounced = list[0]
		} else if time.Now().After(deadline) {
			t.Fatal("the refused message never failed")
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if bounced.Attempts != 1 || !strings.Contains(bounced.LastError, "550") {
		t.Fatalf("refused message: %+v, want failed after 1 attempt with the 550", bounced)
	}
	// The admin sees it with the CLI's API, fixes the cause and retries.
	admin := MustLoginClient(t, m2, "admin@example.com")
	list, _, err := admin.AdminListMail(ctx, kiln.MailFailed, kiln.Page{})
	if err != nil || len(list) != 1 || list[0].To != "bounce@example.com" {
		t.Fatalf("admin list failed: %+v %v", list, err)
	}
	srv.Reject(nil)
	if _, err := admin.AdminRetryMail(ctx, bounced.ID); err != nil {
		t.Fatal(err)
	}
	waitSMTP(t, srv, "bounce@example.com", "Verify your email")
}

// MustLoginClient logs email in (password "correct horse battery").
func MustLoginClient(tb testing.TB, m *Main, email string) *client.Client {
	tb.Helper()
	sess, err := client.New(m.URL()).Login(context.Background(), email, "correct horse battery")
	if err != nil {
		tb.Fatalf("login %s: %v", email, err)
	}
	return client.New(m.URL(), client.WithToken(sess.AccessToken))
}

// TestMailWithMaildev sends through maildev from the npm registry, a mail
// server Kiln's code has never seen, with SMTP authentication: the signup
// mail's link verifies the address and a build mails its result.
func TestMailWithMaildev(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	md := smtptest.StartMailDev(t, "kiln", "s3cret")
	cfg := smtpConfig(t, t.TempDir(), md.SMTPPort)
	cfg.Mail.SMTP.Username, cfg.Mail.SMTP.Password = "kiln", "s3cret"
	m := MustMainConfig(t, cfg, testPipeline{})
	anon := client.New(m.URL())
	if _, err := anon.Signup(ctx, "ada@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	to := func(addr, subject string) func(smtptest.MailDevMessage) bool {
		return func(msg smtptest.MailDevMessage) bool {
			return len(msg.To) == 1 && msg.To[0].Address == addr && strings.Contains(msg.Subject, subject)
		}
	}
	verify, err := md.Wait(waitCtx, to("ada@example.com", "Verify your email"))
	if err != nil {
		t.Fatal(err)
	}
	link := mailLink(t, verify.Text)
	if !strings.HasPrefix(link.String(), m.URL()+"/verify-email?token=") || !strings.Contains(verify.HTML, "Verify my email") {
		t.Fatalf("maildev got link %s, html:\n%s", link, verify.HTML)
	}
	if !strings.Contains(verify.MessageID, "@example.com") {
		t.Fatalf("Message-ID %q", verify.MessageID)
	}
	if u, err := anon.VerifyEmail(ctx, link.Query().Get("token")); err != nil || !u.EmailVerified {
		t.Fatalf("verify: %+v %v", u, err)
	}
	ada := MustLoginClient(t, m, "ada@example.com")
	_, b, err := ada.CreateApp(ctx, kiln.AppCreate{Description: "a todo app with tasks (title, done)"})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, ada, b.ID, 60*time.Second, kiln.BuildStatus.Terminal)
	done, err := md.Wait(waitCtx, to("ada@example.com", "succeeded"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mailLink(t, done.Text).String(), fmt.Sprintf("%s/builds/%d", m.URL(), b.ID); got != want {
		t.Fatalf("build mail links to %s, want %s", got, want)
	}
}

// TestMailOverSES sends Kiln's mail with the ses sender through the real
// AWS SDK to aws-ses-v2-local from the npm registry.
func TestMailOverSES(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	ctx := context.Background()
	local := smtptest.StartSESLocal(t)
	cfg := smtpConfig(t, t.TempDir(), 1)
	cfg.Mail.Sender = "ses"
	cfg.Mail.SES = config.SES{Region: "eu-west-1", Endpoint: local.URL, From: "Kiln <kiln@example.com>"}
	m := MustMainConfig(t, cfg, testPipeline{})
	anon := client.New(m.URL())
	if _, err := anon.Signup(ctx, "ada@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	got, err := local.Wait(waitCtx, func(e smtptest.SESEmail) bool {
		return len(e.Destination.To) == 1 && e.Destination.To[0] == "ada@example.com"
	})
	if err != nil {
		t.Fatal(err)
	}
	link := mailLink(t, got.Body.Text)
	if u, err := anon.VerifyEmail(ctx, link.Query().Get("token")); err != nil || !u.EmailVerified {
		t.Fatalf("verify with the token mailed through SES: %+v %v", u, err)
	}
}

// TestPasswordResetNoAccountLeak asks a real server for reset links for
// accounts that exist and addresses that do not: the answers are
// byte-for-byte the same and take about the same time (medians within a
// factor of 1.5; typically 1.1, both near auth.DefaultResetMinTime).
func TestPasswordResetNoAccountLeak(t *testing.T) {
	t.Parallel()
	m := MustMain(t, "", t.TempDir(), []string{"api", "worker"}, testPipeline{})
	ctx := context.Background()
	for _, e := range []string{"k1@example.com", "k2@example.com"} {
		if _, err := client.New(m.URL()).Signup(ctx, e, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	ask := func(email string) (int, string, time.Duration) {
		start := time.Now()
		resp, err := http.Post(m.URL()+"/v1/auth/password-reset", "application/json",
			strings.NewReader(`{"email":"`+email+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body strings.Builder
		if _, err := io.Copy(&body, resp.Body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body.String(), time.Since(start)
	}
	median := func(emails ...string) (time.Duration, string) {
		var ds []time.Duration
		var answer string
		// Each address allows 3 requests per window.
		for range 3 {
			for _, e := range emails {
				status, body, d := ask(e)
				if status != http.StatusAccepted {
					t.Fatalf("%s: %d %s", e, status, body)
				}
				if answer != "" && body != answer {
					t.Fatalf("answers differ:\n%s\n%s", answer, body)
				}
				answer = body
				ds = append(ds, d)
			}
		}
		slices.Sort(ds)
		return ds[len(ds)/2], answer
	}
	known, knownAnswer := median("k1@example.com", "k2@example.com")
	unknown, unknownAnswer := median("u1@example.com", "u2@example.com")
	t.Logf("median reset request: existing account %v, unknown address %v", known, unknown)
	if knownAnswer != unknownAnswer {
		t.Fatalf("the answer tells whether the account exists:\n%s\n%s", knownAnswer, unknownAnswer)
	}
	if ratio := float64(known) / float64(unknown); ratio < 1/1.5 || ratio > 1.5 {
		t.Fatalf("median %v for existing accounts against %v for unknown addresses (ratio %.2f): the timing tells", known, unknown, ratio)
	}
	MustMail(t, m, "k1@example.com", "password_reset")
}

// TestMailGivesUp fails a message after mail.max_attempts temporary
// failures, keeps the last error, and sends it when an admin retries it
// with the server back.
func TestMailGivesUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Options{})
	srv.Stop()
	cfg := smtpConfig(t, t.TempDir(), srv.Port())
	cfg.Mail.MaxAttempts, cfg.Mail.RetryBase = 3, 20*time.Millisecond
	m := MustMainConfig(t, cfg, testPipeline{})
	if _, err := client.New(m.URL()).Signup(ctx, "ada@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	adminCtx := kiln.NewContextWithUser(ctx, &kiln.User{ID: 1, Role: kiln.RoleAdmin})
	failed := kiln.MailFailed
	var list []*kiln.MailMessage
	for deadline := time.Now().Add(30 * time.Second); len(list) == 0; time.Sleep(20 * time.Millisecond) {
		var err error
		if list, _, err = m.Mail.FindMail(adminCtx, kiln.MailFilter{Status: &failed}); err != nil {
			t.Fatal(err)
		}
		if len(list) == 0 && time.Now().After(deadline) {
			t.Fatal("the message never failed")
		}
	}
	if got := list[0]; got.Attempts != 3 || !strings.Contains(got.LastError, "connection refused") {
		t.Fatalf("failed message %+v, want 3 attempts and the connection error", got)
	}
	srv.Restart(t)
	admin := MustLoginClient(t, m, "ada@example.com")
	if _, err := admin.AdminRetryMail(ctx, list[0].ID); err != nil {
		t.Fatal(err)
	}
	waitSMTP(t, srv, "ada@example.com", "Verify your email")
}
