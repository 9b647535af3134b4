package codegen

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/pack"
)

// SourcePackager stores the checked app's source as deterministic .tar.gz
// and .zip archives, the validation report, and a SHA256SUMS over them.
type SourcePackager struct{}

// Package implements Packager.
func (SourcePackager) Package(ctx context.Context, in PackageInput, rec kiln.Recorder) error {
	prefix := in.Spec.Name
	fsys := pack.MapFS(in.Files)
	sums := map[string]string{}
	add := func(kind, name string, content []byte) error {
		a, err := rec.AddArtifact(ctx, kind, name, bytes.NewReader(content))
		if err != nil {
			return err
		}
		sums[a.Name] = a.SHA256
		return nil
	}
	var tgz, zip bytes.Buffer
	if err := pack.WriteTarGz(&tgz, fsys, prefix); err != nil {
		return fmt.Errorf("source tar.gz: %w", err)
	}
	if err := pack.WriteZip(&zip, fsys, prefix); err != nil {
		return fmt.Errorf("source zip: %w", err)
	}
	if err := add(kiln.ArtifactSourceTarGz, prefix+"-source.tar.gz", tgz.Bytes()); err != nil {
		return err
	}
	if err := add(kiln.ArtifactSourceZip, prefix+"-source.zip", zip.Bytes()); err != nil {
		return err
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var list bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&list, "%s  %s\n", sums[n], n)
	}
	return add(kiln.ArtifactChecksums, "SHA256SUMS", list.Bytes())
}
