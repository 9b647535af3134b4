// Package config loads Kiln's settings: defaults, then a YAML file
// (kiln.yaml or --config), then KILN_* environment variables, then flags.
// Every setting has an environment name: KILN_ + its path in upper case with
// "." replaced by "_" (mail.smtp.host → KILN_MAIL_SMTP_HOST).
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// Config is Kiln's whole settings tree. The koanf tags are the setting paths.
type Config struct {
	Addr     string   `koanf:"addr" help:"address the server listens on"`
	BaseURL  string   `koanf:"base_url" help:"public URL of the server, used in links (default http://ADDR)"`
	DataDir  string   `koanf:"data_dir" help:"folder for the SQLite database, artifacts and caches"`
	Roles    []string `koanf:"roles" help:"what kiln serve runs: api, worker or both"`
	Dev      bool     `koanf:"dev" help:"development mode: dev mail outbox at /dev/mail"`
	Database Database `koanf:"database"`
	Auth     Auth     `koanf:"auth"`
	Mail     Mail     `koanf:"mail"`
	LLM      LLM      `koanf:"llm"`
	Planner  string   `koanf:"planner" help:"rules, llm or auto"`
	Sandbox  string   `koanf:"sandbox" help:"auto, required or none"`
	Blob     Blob     `koanf:"blob"`
	Build    Build    `koanf:"build"`
	Stream   Stream   `koanf:"stream"`
	Log      Log      `koanf:"log"`
	// Analytics configures event ingest, rollups and retention.
	Analytics Analytics `koanf:"analytics"`
	// Templates is a folder whose template sets override the embedded ones.
	Templates string `koanf:"templates" help:"folder of template sets overriding the embedded ones"`
}

// Database settings.
type Database struct {
	URL string `koanf:"url" help:"postgres://… URL; empty means SQLite in data_dir"`
}

// Auth settings.
type Auth struct {
	Secret               string        `koanf:"secret" secret:"true" help:"root secret sealing the access-token signing keys (at least 32 bytes, the same on every API node); generated into data_dir when empty"`
	RequireVerifiedEmail bool          `koanf:"require_verified_email" help:"unverified users cannot create apps"`
	AccessTTL            time.Duration `koanf:"access_ttl"`
	RefreshTTL           time.Duration `koanf:"refresh_ttl"`
	OIDC                 OIDC          `koanf:"oidc"`
}

// Mail settings (see docs/EMAIL.md and mail.go).
type Mail struct {
	Sender string `koanf:"sender" help:"log, smtp or ses"`
	SMTP   SMTP   `koanf:"smtp"`
	SES    SES    `koanf:"ses"`
	// MaxAttempts and RetryBase shape delivery retries: attempt n waits
	// RetryBase·2^(n-1) (±25%) before the next.
	MaxAttempts  int           `koanf:"max_attempts" help:"delivery attempts before a message fails (default 10, about an hour)"`
	RetryBase    time.Duration `koanf:"retry_base" help:"wait after the first failed attempt; doubles each time"`
	TemplatesDir string        `koanf:"templates_dir" help:"folder whose files replace the built-in mail templates of the same name"`
}

// SMTP settings.
type SMTP struct {
	Host     string `koanf:"host" help:"SMTP server name (required with mail.sender smtp)"`
	Port     int    `koanf:"port" help:"SMTP port: 587 with starttls, 465 with implicit"`
	Username string `koanf:"username" help:"no authentication when empty"`
	Password string `koanf:"password" secret:"true" help:"password of username"`
	TLS      string `koanf:"tls" help:"starttls, implicit or none"`
	From     string `koanf:"from" help:"From address, e.g. Kiln <kiln@example.com>"`
}

// SES settings.
type SES struct {
	Region   string `koanf:"region" help:"AWS region; the standard AWS chain when empty"`
	Endpoint string `koanf:"endpoint" help:"SES endpoint override, e.g. a local SES stand-in"`
	From     string `koanf:"from" help:"From address, verified in SES"`
}

// LLM settings (see docs/LLM.md). The LLM steps run when Model is set.
type LLM struct {
	BaseURL string `koanf:"base_url" help:"OpenAI-compatible API root (default https://api.openai.com/v1)"`
	APIKey  string `koanf:"api_key" secret:"true" help:"API key; OPENAI_API_KEY when empty"`
	Model   string `koanf:"model" help:"model name; planner auto and the customize/repair steps use the LLM only when it is set"`
	// Timeout bounds one request; MaxRetries counts retries after 429, 5xx
	// and network errors.
	Timeout         time.Duration `koanf:"timeout" help:"longest one model request may take"`
	MaxRetries      int           `koanf:"max_retries" help:"retries after 429, 5xx and network errors"`
	MaxOutputTokens int64         `koanf:"max_output_tokens" help:"most tokens one answer may have"`
	// Token budgets; 0 means no limit.
	MaxTokensPerBuild     int64    `koanf:"max_tokens_per_build" help:"most tokens one build may use (0: no limit)"`
	MaxTokensPerUserMonth int64    `koanf:"max_tokens_per_user_month" help:"most tokens one user's builds may use per calendar month, UTC (0: no limit)"`
	RepairAttempts        int      `koanf:"repair_attempts" help:"most repair attempts after a failed check (0: no repair)"`
	Customize             bool     `koanf:"customize" help:"let the model adapt the rendered app to the description"`
	Cache                 bool     `koanf:"cache" help:"answer a request seen before from DATA_DIR/cache/llm (builds with no_cache ask again)"`
	Prices                []string `koanf:"prices" help:"MODEL=INPUT/OUTPUT US dollars per million tokens; MODEL may end in *"`
}

// Blob settings.
type Blob struct {
	Kind string `koanf:"kind" help:"local (s3 comes later)"`
	Dir  string `koanf:"dir" help:"artifact folder; default DATA_DIR/artifacts"`
}

// Build settings.
type Build struct {
	Timeout     time.Duration `koanf:"timeout" help:"longest a build may run"`
	Concurrency int           `koanf:"concurrency" help:"builds one worker runs at once"`
	MaxAttempts int           `koanf:"max_attempts" help:"tries after infrastructure failures or lost workers"`
	WarmCache   bool          `koanf:"warm_cache" help:"compile the template set's dependencies once at start so a new user's first build is fast"`
	// LogRetention is how long a build's log lines are kept after it
	// ended; 0 keeps them forever. Its other events stay.
	LogRetention time.Duration `koanf:"log_retention" help:"delete build log lines this long after the build ended; 0 keeps them"`
}

// Log settings.
type Log struct {
	Level  string `koanf:"level" help:"debug, info, warn or error"`
	Format string `koanf:"format" help:"text, json or auto (text on a terminal)"`
}

// Default returns the settings Kiln runs with when nothing is configured:
// everything embedded, on 127.0.0.1:8080.
func Default() Config {
	return Config{
		Addr:    "127.0.0.1:8080",
		DataDir: "./kiln-data",
		Roles:   []string{RoleAPI, RoleWorker},
		Auth:    Auth{AccessTTL: 15 * time.Minute, RefreshTTL: 30 * 24 * time.Hour, OIDC: defaultOIDC()},
		Mail:    Mail{Sender: "log", SMTP: SMTP{Port: 587, TLS: "starttls"}, MaxAttempts: 10, RetryBase: 7 * time.Second},
		LLM:     defaultLLM(),
		Planner: "auto",
		Sandbox: "auto",
		Blob:    Blob{Kind: "local"},
		Build:   Build{Timeout: 15 * time.Minute, Concurrency: 2, MaxAttempts: 3, WarmCache: true},
		Stream:  defaultStream(),
		Log:     Log{Level: "info", Format: "auto"},

		Analytics: defaultAnalytics(),
	}
}

// Roles.
const (
	RoleAPI    = "api"
	RoleWorker = "worker"
)

// HasRole reports whether c runs the role.
func (c *Config) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// IsPostgres reports whether the database is PostgreSQL.
func (c *Config) IsPostgres() bool {
	return strings.HasPrefix(c.Database.URL, "postgres://") || strings.HasPrefix(c.Database.URL, "postgresql://")
}

// Validate returns an error naming every bad field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr", "must be host:port, got %q", c.Addr)
	}
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("base_url", "must be an http(s) URL, got %q", c.BaseURL)
		}
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	if len(c.Roles) == 0 {
		bad("roles", "must name api, worker or both")
	}
	for _, r := range c.Roles {
		if r != RoleAPI && r != RoleWorker {
			bad("roles", "unknown role %q (want api or worker)", r)
		}
	}
	if u := c.Database.URL; u != "" && !c.IsPostgres() {
		bad("database.url", "must start with postgres:// or postgresql:// (leave it empty for SQLite)")
	}
	if s := c.Auth.Secret; s != "" && len(s) < 32 {
		bad("auth.secret", "must be at least 32 characters")
	}
	if c.Auth.AccessTTL < time.Minute || c.Auth.AccessTTL > 24*time.Hour {
		bad("auth.access_ttl", "must be between 1m and 24h")
	}
	if c.Auth.RefreshTTL < c.Auth.AccessTTL {
		bad("auth.refresh_ttl", "must be at least auth.access_ttl")
	}
	c.Auth.OIDC.validate(bad)
	oneOf := func(field, v string, allowed ...string) {
		if !slices.Contains(allowed, v) {
			bad(field, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
		}
	}
	oneOf("mail.sender", c.Mail.Sender, "log", "smtp", "ses")
	c.Mail.validate(bad)
	oneOf("planner", c.Planner, "rules", "llm", "auto")
	oneOf("sandbox", c.Sandbox, "auto", "required", "none")
	oneOf("blob.kind", c.Blob.Kind, "local")
	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "auto", "text", "json")
	errs = append(errs, c.validateLLM()...)
	if c.Build.Timeout < 10*time.Second {
		bad("build.timeout", "must be at least 10s")
	}
	if c.Build.Concurrency < 1 || c.Build.Concurrency > 64 {
		bad("build.concurrency", "must be between 1 and 64")
	}
	if c.Build.MaxAttempts < 1 || c.Build.MaxAttempts > 20 {
		bad("build.max_attempts", "must be between 1 and 20")
	}
	errs = append(errs, c.Analytics.validate()...)
	c.validateStream(bad)
	return errors.Join(errs...)
}

// Source says where the settings come from.
type Source struct {
	// File is a YAML file; when empty, ./kiln.yaml is read if it exists.
	File string
	// Environ is the environment (os.Environ() form); only KILN_ names count.
	Environ []string
	// Flags are settings from the command line, by path ("addr",
	// "database.url"), applied last.
	Flags map[string]any
}

// Load builds the settings from defaults, the file, the environment and the
// flags, and validates them.
func Load(src Source) (Config, error) {
	k := koanf.New(".")
	defaults := flatten(reflect.ValueOf(Default()), "")
	for key, v := range defaults {
		_ = k.Set(key, v) // setting a fresh key cannot fail
	}
	path, explicit := src.File, src.File != ""
	if !explicit {
		path = "kiln.yaml"
	}
	if _, err := os.Stat(path); err == nil {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("read config file %s: %w", path, err)
		}
		if err := checkKnownKeys(k, defaults, path); err != nil {
			return Config{}, err
		}
	} else if explicit {
		return Config{}, fmt.Errorf("read config file: %w", err)
	}
	envKeys := EnvNames()
	for _, kv := range src.Environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "KILN_") {
			continue
		}
		key, known := envKeys[name]
		if !known {
			continue // KILN_SERVER and friends belong to the CLI client
		}
		_, isList := defaults[key].([]string)
		if err := setString(k, key, val, isList); err != nil {
			return Config{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	for key, v := range src.Flags {
		_ = k.Set(key, v)
	}
	var c Config
	if err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return Config{}, fmt.Errorf("decode config: %w", err)
	}
	c.LLM.applyOpenAIEnv(src.Environ)
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}

// setString sets key from an environment string, splitting lists on commas.
func setString(k *koanf.Koanf, key, val string, isList bool) error {
	if isList {
		var items []string
		for _, s := range strings.Split(val, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		return k.Set(key, items)
	}
	return k.Set(key, val)
}

// checkKnownKeys refuses a config file with settings Kiln does not know,
// which are nearly always typos.
func checkKnownKeys(k *koanf.Koanf, known map[string]any, path string) error {
	var unknown []string
	for _, key := range k.Keys() {
		if _, ok := known[key]; !ok {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("config file %s: unknown settings: %s", path, strings.Join(unknown, ", "))
	}
	return nil
}

// EnvNames maps every setting's environment name to its path.
func EnvNames() map[string]string {
	m := map[string]string{}
	for key := range flatten(reflect.ValueOf(Default()), "") {
		m[envName(key)] = key
	}
	return m
}

// leaf is one setting of a Config value.
type leaf struct {
	key   string
	field reflect.StructField
	value reflect.Value
}

// leaves returns every leaf setting of a Config value in field order.
func leaves(v reflect.Value, prefix string) []leaf {
	var out []leaf
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := f.Tag.Get("koanf")
		if key == "" {
			continue
		}
		if prefix != "" {
			key = prefix + "." + key
		}
		if fv := v.Field(i); fv.Kind() == reflect.Struct {
			out = append(out, leaves(fv, key)...)
		} else {
			out = append(out, leaf{key: key, field: f, value: fv})
		}
	}
	return out
}

// flatten returns every leaf setting of a Config value by path.
func flatten(v reflect.Value, prefix string) map[string]any {
	out := map[string]any{}
	for _, l := range leaves(v, prefix) {
		out[l.key] = l.value.Interface()
	}
	return out
}

// Setting is one line of `kiln config show`.
type Setting struct {
	Key   string
	Env   string
	Value string
	Help  string
}

// Settings lists the effective settings in path order, secrets redacted.
func (c Config) Settings() []Setting {
	var out []Setting
	for _, l := range leaves(reflect.ValueOf(c), "") {
		val := fmt.Sprint(l.value.Interface())
		if l.value.Kind() == reflect.Slice {
			parts := make([]string, l.value.Len())
			for j := range parts {
				parts[j] = fmt.Sprint(l.value.Index(j).Interface())
			}
			val = strings.Join(parts, ",")
		}
		if l.field.Tag.Get("secret") == "true" && val != "" {
			val = "[redacted]"
		}
		if l.key == "database.url" {
			val = redactURL(val)
		}
		out = append(out, Setting{Key: l.key, Env: envName(l.key), Value: val, Help: l.field.Tag.Get("help")})
	}
	return out
}

// envName is the environment variable of a setting path.
func envName(key string) string {
	return "KILN_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// redactURL hides a password in a URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	return u.String()
}

// PublicURL returns the base URL links should use.
func (c *Config) PublicURL() string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	return "http://" + c.Addr
}
