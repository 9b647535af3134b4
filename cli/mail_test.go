package cli_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
)

func TestResetPassword(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.srv.AddUser("ada@example.com", "correct horse")
		res := h.MustRun("", "auth", "reset-password", "--email", "ada@example.com")
		assert.Contains(t, res.stdout, "If an account has this address")
		// Unknown addresses get the same answer.
		assert.Equal(t, res.stdout, h.MustRun("", "auth", "reset-password", "--email", "nobody@example.com").stdout)

		tok := h.srv.ResetToken("ada@example.com")
		require.NotEmpty(t, tok)
		res = h.MustRun("a new passphrase\n", "auth", "reset-password", "--token", tok, "--password-stdin")
		assert.Contains(t, res.stdout, "Password changed")
		h.MustRun("a new passphrase\n", "login", "--email", "ada@example.com", "--password-stdin")
	})

	t.Run("ErrReusedToken", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.srv.AddUser("ada@example.com", "correct horse")
		h.MustRun("", "auth", "reset-password", "--email", "ada@example.com")
		tok := h.srv.ResetToken("ada@example.com")
		h.MustRun("a new passphrase\n", "auth", "reset-password", "--token", tok, "--password-stdin")
		res := h.Run("another passphrase\n", "auth", "reset-password", "--token", tok, "--password-stdin")
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stderr, "invalid or has expired")
	})

	t.Run("ErrUsage", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for _, args := range [][]string{
			{"auth", "reset-password", "--password-stdin"},
			{"auth", "reset-password", "--email", "a@example.com", "--token", "t"},
		} {
			res := h.Run("x\n", args...)
			assert.Equal(t, 2, res.code, "%v: %s", args, res.stderr)
		}
	})
}

func TestMeSet(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.MustLogin("ada@example.com")
	assert.Contains(t, h.MustRun("", "me", "set", "--notify=none").stdout, "Build mails are off")
	var u kiln.User
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "me", "set", "--notify=builds", "-o", "json").stdout), &u))
	assert.True(t, u.Notifications.BuildFinished)
	for _, args := range [][]string{{"me", "set"}, {"me", "set", "--notify=weekly"}} {
		res := h.Run("", args...)
		assert.Equal(t, 2, res.code, "%v: %s", args, res.stderr)
	}
}

func TestAdminMail(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.MustLogin("admin@example.com")
	h.srv.AddUser("fail@example.com", "correct horse")
	h.srv.AddUser("ok@example.com", "correct horse")
	h.MustRun("", "auth", "reset-password", "--email", "fail@example.com")
	h.MustRun("", "auth", "reset-password", "--email", "ok@example.com")

	res := h.MustRun("", "admin", "mail", "list", "--failed")
	assert.Contains(t, res.stdout, "fail@example.com")
	assert.Contains(t, res.stdout, "550 mailbox unavailable")
	assert.NotContains(t, res.stdout, "ok@example.com")
	assert.Contains(t, h.MustRun("", "admin", "mail", "list").stdout, "ok@example.com")

	var list struct {
		Items []kiln.MailMessage `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "admin", "mail", "list", "--failed", "-o", "json").stdout), &list))
	require.Len(t, list.Items, 1)
	id := list.Items[0].ID
	assert.Contains(t, h.MustRun("", "admin", "mail", "retry", jsonID(id)).stdout, "queued again")
	res = h.Run("", "admin", "mail", "retry", jsonID(id))
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "only failed mail can be retried")
	assert.Equal(t, 2, h.Run("", "admin", "mail", "list", "--status", "lost").code)
}

func jsonID(id int64) string {
	b, _ := json.Marshal(id)
	return string(b)
}
