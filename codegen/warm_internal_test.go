package codegen

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSeedSpecIsValid(t *testing.T) {
	t.Parallel()
	if err := seedSpec().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCopyTree(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "ab"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "ab", "cd-a"), []byte("compiled"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "owner-1")
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "ab", "cd-a"))
	if err != nil || string(got) != "compiled" {
		t.Fatalf("copied file: %q %v", got, err)
	}
	// The copy is a separate file: writing it leaves the seed alone.
	if err := os.WriteFile(filepath.Join(dst, "ab", "cd-a"), []byte("poisoned"), 0o644); err != nil {
		t.Fatal(err)
	}
	if seed, _ := os.ReadFile(filepath.Join(src, "ab", "cd-a")); string(seed) != "compiled" {
		t.Fatalf("writing the copy changed the seed: %q", seed)
	}

	// A link in a seed is refused rather than followed or copied.
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "ab", "link")); err != nil {
		t.Fatal(err)
	}
	if err := copyTree(src, filepath.Join(t.TempDir(), "owner-2")); err == nil {
		t.Fatal("copied a tree holding a symlink")
	}
}
