package auth

import (
	"strings"
	"testing"
)

// TestSecretsNeverStartWithADash draws enough secrets that, were a leading
// "-" (1 in 64) possible, one would almost surely show up: such a token
// pasted as kiln verify-email TOKEN reads as a flag.
func TestSecretsNeverStartWithADash(t *testing.T) {
	for range 5000 {
		s, err := newSecret(secretBytes)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(s, "-") {
			t.Fatalf("secret %q starts with a dash", s)
		}
		if len(s) != 43 {
			t.Fatalf("secret %q has %d characters, want 43", s, len(s))
		}
	}
}
