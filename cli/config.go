package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Credentials is what 'kiln login' stores: the server and either a login
// session (access and refresh token) or an API token.
type Credentials struct {
	Server           string    `json:"server"`
	Email            string    `json:"email,omitempty"`
	AccessToken      string    `json:"access_token,omitempty"`
	AccessExpiresAt  time.Time `json:"access_expires_at,omitzero"`
	RefreshToken     string    `json:"refresh_token,omitempty"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at,omitzero"`
	APIToken         string    `json:"api_token,omitempty"`
}

// CredentialsFile is the name of the credentials file in the config dir.
const CredentialsFile = "credentials.json"

// maxCredentialsFile bounds what load reads.
const maxCredentialsFile = 1 << 20

// store keeps Credentials in dir/credentials.json, readable by the user only.
type store struct {
	dir string
}

// ConfigDir returns the directory the CLI keeps its credentials in:
// $KILN_CONFIG_DIR, else os.UserConfigDir()/kiln.
func ConfigDir(getenv func(string) string) (string, error) {
	if d := getenv("KILN_CONFIG_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find config dir (set KILN_CONFIG_DIR): %w", err)
	}
	return filepath.Join(d, "kiln"), nil
}

func (r *runner) store() (*store, error) {
	dir, err := ConfigDir(r.getenv)
	if err != nil {
		return nil, err
	}
	return &store{dir: dir}, nil
}

func (s *store) path() string { return filepath.Join(s.dir, CredentialsFile) }

// load returns the stored credentials, nil when there are none. It warns on
// warn when the file is readable by others.
func (s *store) load(warn io.Writer) (*Credentials, error) {
	f, err := os.Open(s.path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(warn, "Warning: %s is readable by other users; run: chmod 600 %s\n", s.path(), s.path())
	}
	var c Credentials
	if err := json.NewDecoder(io.LimitReader(f, maxCredentialsFile)).Decode(&c); err != nil {
		return nil, fmt.Errorf("read credentials %s (delete it and log in again): %w", s.path(), err)
	}
	return &c, nil
}

// save writes c atomically with mode 0600, creating the directory with 0700.
func (s *store) save(c *Credentials) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, ".credentials-*.json")
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path()); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}

// remove deletes the stored credentials; none is not an error.
func (s *store) remove() error {
	if err := os.Remove(s.path()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove credentials: %w", err)
	}
	return nil
}
