package smtptest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// tool finds a test tool from the npm registry: the path in env, else
// name on PATH. It skips tb with how to get it when neither exists (.ci/run
// installs both tools and sets the variables).
func tool(tb testing.TB, env, name string) string {
	tb.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		tb.Fatalf("%s=%s does not exist", env, p)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	tb.Skipf("%s not found: set %s or put it on PATH (.ci/run installs it from the npm registry)", name, env)
	return ""
}

// freePort returns a TCP port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProcess runs a tool until tb ends and waits until url answers.
func startProcess(tb testing.TB, url string, bin string, args ...string) {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if tb.Failed() {
			tb.Logf("%s output:\n%s", bin, out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not answer at %s: %v\n%s", bin, url, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// MailDev is a running maildev (npm): an SMTP server with a web API.
type MailDev struct {
	SMTPPort int
	web      string
}

// MailDevMessage is what maildev's REST API says about a message.
type MailDevMessage struct {
	ID        string `json:"id"`
	MessageID string `json:"messageId"`
	Subject   string `json:"subject"`
	Text      string `json:"text"`
	HTML      string `json:"html"`
	To        []struct {
		Address string `json:"address"`
	} `json:"to"`
	From []struct {
		Address string `json:"address"`
	} `json:"from"`
}

// StartMailDev runs maildev (KILN_TEST_MAILDEV or maildev on PATH) on
// free ports, requiring AUTH with user and pass when user is set.
func StartMailDev(tb testing.TB, user, pass string) *MailDev {
	tb.Helper()
	bin := tool(tb, "KILN_TEST_MAILDEV", "maildev")
	m := &MailDev{SMTPPort: freePort(tb)}
	web := freePort(tb)
	m.web = "http://127.0.0.1:" + strconv.Itoa(web)
	args := []string{"--smtp", strconv.Itoa(m.SMTPPort), "--web", strconv.Itoa(web), "--ip", "127.0.0.1"}
	if user != "" {
		args = append(args, "--incoming-user", user, "--incoming-pass", pass)
	}
	startProcess(tb, m.web+"/email", bin, args...)
	return m
}

// Messages lists what maildev received.
func (m *MailDev) Messages(ctx context.Context) ([]MailDevMessage, error) {
	var out []MailDevMessage
	return out, getJSON(ctx, m.web+"/email", &out)
}

// Wait polls maildev until match accepts a message or ctx ends.
func (m *MailDev) Wait(ctx context.Context, match func(MailDevMessage) bool) (MailDevMessage, error) {
	for {
		msgs, err := m.Messages(ctx)
		if err == nil {
			for i := len(msgs) - 1; i >= 0; i-- {
				if match(msgs[i]) {
					return msgs[i], nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return MailDevMessage{}, fmt.Errorf("maildev: wait: %w (last error %v, %d messages)", ctx.Err(), err, len(msgs))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// SESLocal is a running aws-ses-v2-local (npm): the SES v2 API, keeping
// what it is sent.
type SESLocal struct {
	// URL is the endpoint to give the AWS SDK.
	URL string
}

// SESEmail is a message in aws-ses-v2-local's store.
type SESEmail struct {
	MessageID   string `json:"messageId"`
	From        string `json:"from"`
	Destination struct {
		To []string `json:"to"`
	} `json:"destination"`
	Subject string `json:"subject"`
	Body    struct {
		HTML string `json:"html"`
		Text string `json:"text"`
	} `json:"body"`
	Headers []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"headers"`
}

// StartSESLocal runs aws-ses-v2-local (KILN_TEST_SES_LOCAL or
// aws-ses-v2-local on PATH) on a free port.
func StartSESLocal(tb testing.TB) *SESLocal {
	tb.Helper()
	bin := tool(tb, "KILN_TEST_SES_LOCAL", "aws-ses-v2-local")
	port := freePort(tb)
	s := &SESLocal{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	startProcess(tb, s.URL+"/health-check", bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	return s
}

// Emails returns the store's messages.
func (s *SESLocal) Emails(ctx context.Context) ([]SESEmail, error) {
	var out struct {
		Emails []SESEmail `json:"emails"`
	}
	return out.Emails, getJSON(ctx, s.URL+"/store", &out)
}

// Wait polls the store until match accepts a message or ctx ends.
func (s *SESLocal) Wait(ctx context.Context, match func(SESEmail) bool) (SESEmail, error) {
	for {
		emails, err := s.Emails(ctx)
		if err == nil {
			for i := len(emails) - 1; i >= 0; i-- {
				if match(emails[i]) {
					return emails[i], nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return SESEmail{}, fmt.Errorf("aws-ses-v2-local: wait: %w (last error %v, %d emails)", ctx.Err(), err, len(emails))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
