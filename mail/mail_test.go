package mail_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/mail"
)

func TestVerifyEmail(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		link := "http://127.0.0.1:8080/verify-email?token=abc_DEF-123"
		m := verifyMail("ada@example.com", link)
		if m.To != "ada@example.com" || m.Kind != mail.KindVerifyEmail || m.Link != link {
			t.Fatalf("unexpected header fields: %+v", m)
		}
		if m.Subject == "" {
			t.Fatal("empty subject")
		}
		if !strings.Contains(m.Text, link) || !strings.Contains(m.Text, "ada@example.com") {
			t.Fatalf("text part lacks link or address:\n%s", m.Text)
		}
		// html/template escapes the query's characters it must; this link
		// has none, so it appears verbatim in the href.
		if !strings.Contains(m.HTML, `href="`+link+`"`) {
			t.Fatalf("html part lacks the link as href:\n%s", m.HTML)
		}
	})

	t.Run("EscapesHostileInput", func(t *testing.T) {
		t.Parallel()
		to := `<script>alert(1)</script>@example.com`
		link := `javascript:alert(document.cookie)`
		m := verifyMail(to, link)
		if strings.Contains(m.HTML, "<script>") {
			t.Fatalf("html part contains unescaped script:\n%s", m.HTML)
		}
		if !strings.Contains(m.HTML, "&lt;script&gt;") {
			t.Fatalf("html part does not show the escaped address:\n%s", m.HTML)
		}
		if strings.Contains(m.HTML, `href="javascript:`) {
			t.Fatalf("html part links to a javascript: URL:\n%s", m.HTML)
		}
		// The plain-text part is not HTML and keeps the values as they are.
		if !strings.Contains(m.Text, to) {
			t.Fatalf("text part altered the address:\n%s", m.Text)
		}
	})

	t.Run("EscapesAttributeBreakout", func(t *testing.T) {
		t.Parallel()
		link := `http://x.test/verify-email?token=a" onclick="evil()`
		m := verifyMail("ada@example.com", link)
		if strings.Contains(m.HTML, `" onclick="`) {
			t.Fatalf("html part lets the link break out of its attribute:\n%s", m.HTML)
		}
	})
}

func TestDevMailer(t *testing.T) {
	t.Parallel()

	t.Run("LogsAndKeeps", func(t *testing.T) {
		t.Parallel()
		var logs bytes.Buffer
		d := mail.NewDevMailer(slog.New(slog.NewJSONHandler(&logs, nil)))
		m := verifyMail("ada@example.com", "http://h.test/verify-email?token=t1")
		if err := d.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		out := logs.String()
		for _, want := range []string{
			`"msg":"mail written to dev outbox"`,
			`"to":"ada@example.com"`,
			`"kind":"verify_email"`,
			`"link":"http://h.test/verify-email?token=t1"`,
			`"subject":"Verify your email for Kiln"`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %s:\n%s", want, out)
			}
		}
		msgs := d.Messages()
		if len(msgs) != 1 || msgs[0] != *m {
			t.Fatalf("Messages() = %+v, want the sent message", msgs)
		}
	})

	t.Run("MessagesIsACopy", func(t *testing.T) {
		t.Parallel()
		d := mail.NewDevMailer(nil)
		m := &kiln.Mail{To: "a@example.com", Subject: "s"}
		if err := d.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		m.Subject = "changed after send"
		msgs := d.Messages()
		msgs[0].Subject = "changed in copy"
		if got := d.Messages()[0].Subject; got != "s" {
			t.Fatalf("kept subject = %q, want %q", got, "s")
		}
	})

	t.Run("KeepsLast200OldestFirst", func(t *testing.T) {
		t.Parallel()
		d := mail.NewDevMailer(nil)
		const total = mail.DevOutboxSize + 37
		for i := range total {
			if err := d.Send(context.Background(), &kiln.Mail{To: "a@example.com", Subject: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		msgs := d.Messages()
		if len(msgs) != mail.DevOutboxSize {
			t.Fatalf("kept %d messages, want %d", len(msgs), mail.DevOutboxSize)
		}
		for i, m := range msgs {
			if want := fmt.Sprint(total - mail.DevOutboxSize + i); m.Subject != want {
				t.Fatalf("msgs[%d].Subject = %q, want %q", i, m.Subject, want)
			}
		}
		last, ok := d.Last("a@example.com")
		if !ok || last.Subject != fmt.Sprint(total-1) {
			t.Fatalf("Last = %+v, %v; want subject %d", last, ok, total-1)
		}
	})

	t.Run("Last", func(t *testing.T) {
		t.Parallel()
		d := mail.NewDevMailer(nil)
		if _, ok := d.Last("a@example.com"); ok {
			t.Fatal("Last on an empty outbox returned a message")
		}
		send := func(to, subject string) {
			t.Helper()
			if err := d.Send(context.Background(), &kiln.Mail{To: to, Subject: subject}); err != nil {
				t.Fatal(err)
			}
		}
		send("a@example.com", "a1")
		send("b@example.com", "b1")
		send("a@example.com", "a2")
		send("b@example.com", "b2")
		if m, ok := d.Last("A@Example.com"); !ok || m.Subject != "a2" {
			t.Fatalf("Last(a) = %+v, %v; want a2", m, ok)
		}
		if m, ok := d.Last("b@example.com"); !ok || m.Subject != "b2" {
			t.Fatalf("Last(b) = %+v, %v; want b2", m, ok)
		}
		if _, ok := d.Last("c@example.com"); ok {
			t.Fatal("Last(c) found a message never sent")
		}
	})

	t.Run("ErrInvalidMessage", func(t *testing.T) {
		t.Parallel()
		d := mail.NewDevMailer(nil)
		if err := d.Send(context.Background(), nil); err == nil {
			t.Fatal("Send(nil) succeeded")
		}
		if err := d.Send(context.Background(), &kiln.Mail{To: "  "}); err == nil {
			t.Fatal("Send without recipient succeeded")
		}
		if n := len(d.Messages()); n != 0 {
			t.Fatalf("kept %d invalid messages", n)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		d := mail.NewDevMailer(nil)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					_ = d.Send(context.Background(), &kiln.Mail{To: fmt.Sprintf("u%d@example.com", g), Subject: fmt.Sprint(i)})
					d.Messages()
					d.Last("u0@example.com")
				}
			})
		}
		wg.Wait()
		if n := len(d.Messages()); n != mail.DevOutboxSize {
			t.Fatalf("kept %d messages after 400 sends, want %d", n, mail.DevOutboxSize)
		}
		// Each sender's kept messages are in the order it sent them, and the
		// newest kept message of each is what Last returns.
		prev := map[string]int{}
		newest := map[string]string{}
		for _, m := range d.Messages() {
			var n int
			fmt.Sscan(m.Subject, &n)
			if p, ok := prev[m.To]; ok && n <= p {
				t.Fatalf("%s: message %d kept after %d", m.To, n, p)
			}
			prev[m.To] = n
			newest[m.To] = m.Subject
		}
		for to, subject := range newest {
			if m, ok := d.Last(to); !ok || m.Subject != subject {
				t.Fatalf("Last(%s) = %+v, %v; want subject %s", to, m, ok, subject)
			}
		}
	})
}
