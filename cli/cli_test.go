package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/cli"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/client/clienttest"
)

// harness runs the CLI in-process against a fake server with its own
// config directory and environment.
type harness struct {
	t   *testing.T
	srv *clienttest.Server
	dir string
	env map[string]string
	// terminal makes the CLI treat stdin and stdout as a terminal.
	terminal bool
	// browser, when set, opens the URLs the CLI would open in a browser.
	browser func(url string)
}

type result struct {
	stdout, stderr string
	code           int
	err            error
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	srv := clienttest.NewServer(t)
	dir := filepath.Join(t.TempDir(), "config")
	return &harness{t: t, srv: srv, dir: dir, env: map[string]string{
		"KILN_CONFIG_DIR": dir,
		"KILN_SERVER":     srv.URL,
	}}
}

// Run executes the CLI with args and stdin, and checks that every API
// operation the command called is one its annotation declares.
func (h *harness) Run(stdin string, args ...string) result {
	h.t.Helper()
	return h.RunContext(context.Background(), stdin, args...)
}

// RunContext is Run with a context, as main passes one canceled by Ctrl-C.
func (h *harness) RunContext(ctx context.Context, stdin string, args ...string) result {
	h.t.Helper()
	root := &cobra.Command{Use: "kiln", SilenceUsage: true}
	cli.AddCommandsForTestBrowser(root, func(k string) string { return h.env[k] }, h.terminal, h.browser)
	var stdout, stderr bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	h.srv.ResetCalls()
	root.SetContext(ctx)
	cmd, err := root.ExecuteC()
	declared := strings.Split(cmd.Annotations[cli.AnnotationOperations], ",")
	for _, call := range h.srv.Calls() {
		if call == "POST /v1/auth/refresh" {
			continue // any command may renew an expired session
		}
		assert.Contains(h.t, declared, call, "kiln %s called an operation its annotation does not declare", strings.Join(args, " "))
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: cli.ExitCode(err), err: err}
}

// MustRun is Run that fails the test unless the command succeeds.
func (h *harness) MustRun(stdin string, args ...string) result {
	h.t.Helper()
	res := h.Run(stdin, args...)
	require.Equal(h.t, 0, res.code, "kiln %s: %v\nstderr: %s", strings.Join(args, " "), res.err, res.stderr)
	return res
}

// MustLogin creates a user and logs the CLI in as them.
func (h *harness) MustLogin(email string) {
	h.t.Helper()
	h.srv.AddUser(email, "correct horse")
	h.MustRun("correct horse\n", "login", "--email", email, "--password-stdin")
}

func (h *harness) credentials() cli.Credentials {
	h.t.Helper()
	data, err := os.ReadFile(filepath.Join(h.dir, cli.CredentialsFile))
	require.NoError(h.t, err)
	var c cli.Credentials
	require.NoError(h.t, json.Unmarshal(data, &c))
	return c
}

func TestLogin(t *testing.T) {
	t.Parallel()

	t.Run("StoresSessionWithMode0600", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.srv.AddUser("ada@example.com", "correct horse")
		res := h.MustRun("correct horse\n", "login", "--email", "ada@example.com", "--password-stdin")
		assert.Contains(t, res.stdout, "Logged in to "+h.srv.URL+" as ada@example.com")

		fi, err := os.Stat(filepath.Join(h.dir, cli.CredentialsFile))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		di, err := os.Stat(h.dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), di.Mode().Perm())
		c := h.credentials()
		assert.Equal(t, h.srv.URL, c.Server)
		assert.NotEmpty(t, c.AccessToken)
		assert.NotEmpty(t, c.RefreshToken)
		assert.False(t, c.AccessExpiresAt.IsZero())

		res = h.MustRun("", "whoami")
		assert.Equal(t, "ada@example.com (admin, verified) on "+h.srv.URL+"\n", res.stdout)
	})

	t.Run("PromptsForEmailAndPassword", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.srv.AddUser("ada@example.com", "correct horse")
		res := h.MustRun("ada@example.com\ncorrect horse\n", "login")
		assert.Contains(t, res.stderr, "Email: ")
		assert.Contains(t, res.stderr, "Password: ")
		assert.NotContains(t, res.stdout+res.stderr, "correct horse", "the password is never echoed")
		assert.Equal(t, "ada@example.com", h.credentials().Email)
	})

	t.Run("ErrWrongPassword", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.srv.AddUser("ada@example.com", "correct horse")
		res := h.Run("nope\n", "login", "--email", "ada@example.com", "--password-stdin")
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stderr, "Error: wrong email or password")
		assert.NotContains(t, res.stderr, "kiln login", "no advice to log in while logging in")
		assert.NoFileExists(t, filepath.Join(h.dir, cli.CredentialsFile))
	})

	t.Run("ErrRateLimited", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.srv.LoginRetryAfter = 30
		res := h.Run("pw\n", "login", "--email", "ada@example.com", "--password-stdin")
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stderr, "too many login attempts (retry in 30s)")
	})

	t.Run("APIToken", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.srv.AddUser("ada@example.com", "correct horse")
		sess, err := client.New(h.srv.URL).Login(context.Background(), "ada@example.com", "correct horse")
		require.NoError(t, err)
		_, secret, err := client.New(h.srv.URL, client.WithToken(sess.AccessToken)).CreateToken(context.Background(), "ci", nil)
		require.NoError(t, err)

		h.MustRun(secret+"\n", "login", "--token", "-")
		c := h.credentials()
		assert.Equal(t, secret, c.APIToken)
		assert.Empty(t, c.RefreshToken)
		assert.Contains(t, h.MustRun("", "whoami").stdout, "ada@example.com")

		res := h.Run("", "login", "--token", "kiln_bogus")
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stderr, "check token")
		assert.Equal(t, secret, h.credentials().APIToken, "a bad token does not replace a good one")
	})

	t.Run("RefreshesAndSavesSession", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.MustLogin("ada@example.com")
		before := h.credentials()
		h.srv.ExpireAccessTokens()
		h.MustRun("", "whoami")
		after := h.credentials()
		assert.NotEqual(t, before.RefreshToken, after.RefreshToken, "the rotated refresh token is stored")
		h.srv.ExpireAccessTokens()
		h.MustRun("", "whoami") // works again only if the stored token is the live one
		res := h.MustRun("", "auth", "refresh")
		assert.Contains(t, res.stdout, "Session renewed")
		assert.NotEqual(t, after.RefreshToken, h.credentials().RefreshToken)
		assert.Equal(t, 1, h.srv.LiveRefreshTokens())
	})

	t.Run("LoginAgainRevokesReplacedSession", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.MustLogin("ada@example.com")
		h.MustRun("correct horse\n", "login", "--email", "ada@example.com", "--password-stdin")
		assert.Equal(t, 1, h.srv.LiveRefreshTokens(), "the first session was revoked")
	})

	t.Run("CredentialsStayWithTheirServer", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.MustLogin("ada@example.com")
		other := clienttest.NewServer(t)
		res := h.Run("", "whoami", "--server", other.URL)
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stderr, "not logged in to "+other.URL)
		assert.Empty(t, other.Calls(), "no token was sent to the other server")
	})

	t.Run("StoredServerIsTheDefault", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.MustLogin("ada@example.com")
		delete(h.env, "KILN_SERVER")
		assert.Contains(t, h.MustRun("", "whoami").stdout, "on "+h.srv.URL)
	})

	t.Run("Logout", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.MustLogin("ada@example.com")
		require.Equal(t, 1, h.srv.LiveRefreshTokens())
		res := h.MustRun("", "logout")
		assert.Contains(t, res.stdout, "Logged out of "+h.srv.URL)
		assert.Equal(t, 0, h.srv.LiveRefreshTokens(), "the session was revoked on the server")
		assert.NoFileExists(t, filepath.Join(h.dir, cli.CredentialsFile))
		res = h.Run("", "whoami")
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stderr, "not logged in")
	})

	t.Run("SignupLogsIn", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		res := h.MustRun("correct horse\n", "signup", "--email", "ada@example.com", "--password-stdin")
		assert.Contains(t, res.stdout, "Signed up and logged in")
		assert.Contains(t, res.stdout, "kiln verify-email")
		res = h.MustRun("", "verify-email", h.srv.VerificationToken("ada@example.com"))
		assert.Contains(t, res.stdout, "Verified ada@example.com")
		assert.Contains(t, h.MustRun("", "whoami").stdout, "(admin, verified)")
		h.MustRun("", "auth", "resend-verification")
	})

	t.Run("UnverifiedGetsAHint", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.srv.RequireVerified = true
		h.MustRun("correct horse\n", "signup", "--email", "ada@example.com", "--password-stdin")
		res := h.Run("", "apps", "create", "a todo list")
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stderr, "Error: verify your email address first\nIf your email is not verified yet: kiln verify-email TOKEN")
		h.MustRun("", "verify-email", h.srv.VerificationToken("ada@example.com"))
		h.MustRun("", "apps", "create", "a todo list")
	})

	t.Run("SignupFieldErrors", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		res := h.Run("short\n", "signup", "--email", "nope", "--password-stdin")
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stderr, "Error: validation failed\n  email: must be an email address\n  password: must be at least 8 characters")
	})
}

func TestTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.MustLogin("ada@example.com")
	res := h.MustRun("", "tokens", "create", "ci", "--expires", "30d")
	secret := strings.TrimSpace(res.stdout)
	assert.True(t, strings.HasPrefix(secret, "kiln_"), "stdout is only the secret: %q", res.stdout)
	assert.Contains(t, res.stderr, "not shown again")

	res = h.MustRun("", "tokens", "list", "-o", "json")
	var list struct{ Items []kiln.APIToken }
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &list))
	require.Len(t, list.Items, 1)
	assert.NotNil(t, list.Items[0].ExpiresAt)

	h.env["KILN_TOKEN"] = secret
	assert.Contains(t, h.MustRun("", "whoami").stdout, "ada@example.com")
	delete(h.env, "KILN_TOKEN")

	table := h.MustRun("", "tokens", "list").stdout
	assert.Regexp(t, `(?m)^ID\s+NAME\s+PREFIX\s+CREATED\s+LAST USED\s+EXPIRES$`, table)
	h.MustRun("", "tokens", "revoke", itoa(list.Items[0].ID))
	res = h.Run("", "tokens", "revoke", itoa(list.Items[0].ID))
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "Error: token not found")
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.MustLogin("ada@example.com")
	for _, args := range [][]string{
		{"apps", "create"},
		{"apps", "get"},
		{"apps", "get", "a", "b"},
		{"builds", "get", "abc"},
		{"builds", "logs", "-1"},
		{"whoami", "--output", "xml"},
		{"whoami", "--no-such-flag"},
		{"apps", "bogus"},
		{"bogus"},
		{"tokens", "create", "ci", "--expires", "soon"},
		{"builds", "list", "--status", "done"},
		{"builds", "list", "--limit", "1000"},
		{"admin", "grant", "a@example.com", "--role", "root"},
		{"apps", "update", "1"},
		{"login", "--token", "x", "--email", "a@example.com"},
		{"login", "--password-stdin"},
	} {
		res := h.Run("", args...)
		assert.Equal(t, 2, res.code, "kiln %s: %v", strings.Join(args, " "), res.err)
		assert.Contains(t, res.stderr, "Error: ", "kiln %s", strings.Join(args, " "))
	}
	res := h.Run("", "apps", "create")
	assert.Contains(t, res.stderr, "missing DESCRIPTION")
	assert.Contains(t, res.stderr, "Run 'kiln apps create --help' for usage.")
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 0, cli.ExitCode(nil))
	assert.Equal(t, 2, cli.ExitCode(&cli.UsageError{Msg: "x"}))
	assert.Equal(t, 1, cli.ExitCode(&cli.BuildError{Build: &kiln.Build{Status: kiln.BuildFailed}}))
	assert.Equal(t, 1, cli.ExitCode(kiln.Errorf(kiln.ENotFound, "no")))
}

func TestOutputFormats(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.MustLogin("ada@example.com")

	var me kiln.User
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "whoami", "-o", "json").stdout), &me))
	assert.Equal(t, "ada@example.com", me.Email)
	assert.Equal(t, kiln.RoleAdmin, me.Role)

	yaml := h.MustRun("", "whoami", "-o", "yaml").stdout
	assert.Contains(t, yaml, "email: ada@example.com\n")
	assert.Contains(t, yaml, "email_verified: true\n")
	assert.True(t, strings.HasPrefix(yaml, "id: "), "yaml keeps the JSON field order: %s", yaml)

	var created struct {
		App   kiln.App
		Build kiln.Build
	}
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "apps", "create", "a library with books", "--name", "library", "-o", "json").stdout), &created))
	assert.Equal(t, "library", created.App.Name)
	assert.Equal(t, kiln.BuildQueued, created.Build.Status)

	var apps struct {
		Items      []kiln.App `json:"items"`
		NextCursor string     `json:"next_cursor"`
	}
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "apps", "list", "-o", "json").stdout), &apps))
	require.Len(t, apps.Items, 1)
	assert.Equal(t, created.App.ID, apps.Items[0].ID)

	var got struct {
		Build kiln.Build
		Steps []kiln.Step
	}
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "builds", "get", itoa(created.Build.ID), "-o", "json").stdout), &got))
	assert.Equal(t, created.Build.ID, got.Build.ID)

	table := h.MustRun("", "apps", "list").stdout
	lines := strings.Split(strings.TrimSpace(table), "\n")
	require.Len(t, lines, 2)
	assert.Equal(t, strings.Index(lines[0], "NAME"), strings.Index(lines[1], "library"), "columns are aligned:\n%s", table)
	assert.Contains(t, lines[1], "queued")
}

func TestColor(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.MustLogin("ada@example.com")
	h.mustCreate("a todo list that will fail", "todo")
	_, b := h.mustCreate("a library", "library")
	h.MustRun("", "builds", "logs", "-f", itoa(b))

	h.terminal = true
	colored := h.MustRun("", "builds", "list").stdout
	assert.Contains(t, colored, "\x1b[32msucceeded\x1b[0m")
	assert.Contains(t, colored, "\x1b[39mqueued\x1b[0m")
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(colored, "")
	lines := strings.Split(strings.TrimSpace(plain), "\n")
	require.Len(t, lines, 3)
	fourColumns := regexp.MustCompile(`^(\S+\s+){4}`)
	for _, l := range lines {
		assert.Equal(t, strings.Index(lines[0], "STEP"), len(fourColumns.FindString(l)), "STEP stays aligned after colored statuses:\n%s", plain)
	}

	h.env["NO_COLOR"] = "1"
	assert.NotContains(t, h.MustRun("", "builds", "list").stdout, "\x1b")
	delete(h.env, "NO_COLOR")
	assert.NotContains(t, h.MustRun("", "builds", "list", "--no-color").stdout, "\x1b")
}
