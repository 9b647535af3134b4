package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-build/kiln/config"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kiln.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		c, err := config.Load(config.Source{File: writeFile(t, "")})
		if err != nil {
			t.Fatal(err)
		}
		if c.Addr != "127.0.0.1:8080" || !c.HasRole("api") || !c.HasRole("worker") || c.Build.Timeout != 15*time.Minute {
			t.Fatalf("unexpected defaults: %+v", c)
		}
	})
	t.Run("Precedence", func(t *testing.T) {
		file := writeFile(t, "addr: 127.0.0.1:9000\nmail:\n  smtp:\n    host: file.example\n    port: 25\nbuild:\n  timeout: 2m\n")
		c, err := config.Load(config.Source{
			File:    file,
			Environ: []string{"KILN_MAIL_SMTP_HOST=env.example", "KILN_ROLES=api", "KILN_DATA_DIR=/tmp/x", "PATH=/bin", "KILN_SERVER=ignored"},
			Flags:   map[string]any{"addr": "127.0.0.1:9100"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if c.Addr != "127.0.0.1:9100" {
			t.Errorf("flag should win: addr = %s", c.Addr)
		}
		if c.Mail.SMTP.Host != "env.example" || c.Mail.SMTP.Port != 25 {
			t.Errorf("env should override file: %+v", c.Mail.SMTP)
		}
		if c.Build.Timeout != 2*time.Minute || c.DataDir != "/tmp/x" {
			t.Errorf("file/env values lost: %v %s", c.Build.Timeout, c.DataDir)
		}
		if len(c.Roles) != 1 || c.Roles[0] != "api" {
			t.Errorf("roles = %v", c.Roles)
		}
	})
	t.Run("ErrUnknownKey", func(t *testing.T) {
		_, err := config.Load(config.Source{File: writeFile(t, "mail:\n  sendr: smtp\n")})
		if err == nil || !strings.Contains(err.Error(), "mail.sendr") {
			t.Fatalf("want error naming mail.sendr, got %v", err)
		}
	})
	t.Run("ErrInvalidNamesField", func(t *testing.T) {
		_, err := config.Load(config.Source{File: writeFile(t, ""), Environ: []string{"KILN_SANDBOX=maybe", "KILN_DATABASE_URL=mysql://x"}})
		if err == nil || !strings.Contains(err.Error(), "sandbox:") || !strings.Contains(err.Error(), "database.url:") {
			t.Fatalf("want errors naming sandbox and database.url, got %v", err)
		}
	})
	t.Run("ErrBadDuration", func(t *testing.T) {
		_, err := config.Load(config.Source{File: writeFile(t, ""), Environ: []string{"KILN_BUILD_TIMEOUT=soon"}})
		if err == nil {
			t.Fatal("want error for a bad duration")
		}
	})
	t.Run("ErrMissingExplicitFile", func(t *testing.T) {
		if _, err := config.Load(config.Source{File: "/nonexistent/kiln.yaml"}); err == nil {
			t.Fatal("want error")
		}
	})
}

func TestSettingsRedactsSecrets(t *testing.T) {
	c := config.Default()
	c.Auth.Secret = "0123456789abcdef0123456789abcdef-secret"
	c.LLM.APIKey = "sk-live-123"
	c.Database.URL = "postgres://kiln:hunter2@db:5432/kiln"
	var seen int
	for _, s := range c.Settings() {
		if strings.Contains(s.Value, "secret") || strings.Contains(s.Value, "sk-live") || strings.Contains(s.Value, "hunter2") {
			t.Errorf("%s leaks a secret: %s", s.Key, s.Value)
		}
		if s.Key == "mail.smtp.host" && s.Env != "KILN_MAIL_SMTP_HOST" {
			t.Errorf("env name = %s", s.Env)
		}
		seen++
	}
	if seen < 20 {
		t.Errorf("only %d settings listed", seen)
	}
}
