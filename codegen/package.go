package codegen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/pack"
)

// SourcePackager packages a checked app: its source as deterministic
// .tar.gz and .zip archives; an OCI image archive of the app built static
// (CGO_ENABLED=0, linux/amd64) in the sandbox on an empty base; a
// CycloneDX SBOM of the modules built into that binary; a provenance
// record; and a SHA256SUMS over all of them and the validation report.
//
// Without a sandbox runner (the pipeline ran without checks) it stores the
// source archives and SHA256SUMS only: an image is built from checked code
// or not at all.
type SourcePackager struct {
	// BaseURL is the server's public URL; the image's source label points
	// at the app's page under it ("" leaves the label out).
	BaseURL string
	// ImageTag names the image in the archive's index (default "latest").
	ImageTag string
}

// imageBinary is where the static binary is written inside the app
// folder, the only folder the sandbox can write to; Go ignores folders
// starting with a dot, and the source archives come from the rendered
// files, not from the folder.
const imageBinary = ".kiln-image/server"

// Package implements Packager.
func (sp SourcePackager) Package(ctx context.Context, in PackageInput, rec kiln.Recorder) error {
	prefix := in.Spec.Name
	fsys := pack.MapFS(in.Files)
	// Every artifact's SHA-256 (hex), by artifact name, for the provenance
	// and SHA256SUMS: kept instead of the contents, which can be large.
	sums := map[string]string{}
	add := func(kind, name string, content []byte) error {
		a, err := rec.AddArtifact(ctx, kind, name, bytes.NewReader(content))
		if err != nil {
			return err
		}
		sum := sha256Hex(content)
		if a.SHA256 != sum {
			return fmt.Errorf("artifact %s: stored sha256 %s differs from the content's", a.Name, a.SHA256)
		}
		sums[a.Name] = sum
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
	if in.ReportJSON != nil {
		// The validation step stored the report already; it is listed
		// and vouched for with the rest.
		sums[reportName] = sha256Hex(in.ReportJSON)
	}

	if in.Runner != nil {
		created := time.Now().UTC()
		if in.Build != nil && !in.Build.CreatedAt.IsZero() {
			created = in.Build.CreatedAt.UTC()
		}
		binary, err := sp.buildStatic(ctx, in, rec)
		if err != nil {
			return err
		}
		source := ""
		if sp.BaseURL != "" && in.App != nil && in.App.ID != 0 {
			source = strings.TrimSuffix(sp.BaseURL, "/") + "/apps/" + strconv.FormatInt(in.App.ID, 10)
		}
		version := ""
		if in.Build != nil && in.Build.Number > 0 {
			version = strconv.Itoa(in.Build.Number)
		}
		img, err := pack.BuildOCIImage(binary, pack.ImageOptions{
			Title: in.Spec.Name, Version: version, Source: source, Revision: in.Spec.Hash(), Created: created,
		})
		if err != nil {
			return fmt.Errorf("image: %w", err)
		}
		tag := sp.ImageTag
		if tag == "" {
			tag = "latest"
		}
		var oci bytes.Buffer
		if err := pack.WriteOCIArchive(&oci, img, tag); err != nil {
			return fmt.Errorf("image: %w", err)
		}
		digest, err := img.Digest()
		if err != nil {
			return fmt.Errorf("image: %w", err)
		}
		rec.Logf("image %s (linux/amd64, %d-byte static binary)", digest, len(binary))
		if err := add(kiln.ArtifactOCIImage, prefix+"-image.oci.tar", oci.Bytes()); err != nil {
			return err
		}

		bi, err := buildinfo.Read(bytes.NewReader(binary))
		if err != nil {
			return fmt.Errorf("sbom: read the binary's module list: %w", err)
		}
		mainMod, deps := pack.ModulesFromBuildInfo(bi)
		sbom, err := pack.SBOM(pack.SBOMInput{Main: mainMod, Deps: deps, Created: created, ToolVersion: kiln.Version})
		if err != nil {
			return err
		}
		if err := add(kiln.ArtifactSBOM, prefix+"-sbom.cdx.json", sbom); err != nil {
			return err
		}

		prov := pack.Provenance{
			App: in.Spec.Name, SpecSHA256: in.Spec.Hash(),
			TemplateSet: in.Set.Name, TemplateVersion: in.Set.Version,
			Planner: in.Planner, Model: in.Model,
			GoVersion: bi.GoVersion, KilnVersion: kiln.Version,
			Created: created,
		}
		if in.Build != nil {
			prov.BuildNumber = in.Build.Number
		}
		if in.Report != nil {
			prov.Sandboxed = in.Report.Sandboxed
		}
		prov.ReportSHA256 = sums[reportName] // "" without a report
		for name, sum := range sums {
			prov.Subjects = append(prov.Subjects, pack.Subject{Name: name, SHA256: sum})
		}
		pj, err := prov.JSON()
		if err != nil {
			return err
		}
		if err := add(kiln.ArtifactProvenance, "provenance.json", pj); err != nil {
			return err
		}
	}

	return add(kiln.ArtifactChecksums, "SHA256SUMS", pack.Checksums(sums))
}

// reportName is the validation report's artifact name.
const reportName = "validation-report.json"

// buildStatic compiles the app as a static linux/amd64 binary in the
// sandbox, with the same limits and module cache as the checks (GOPROXY
// off, read-only modules), and returns it.
func (sp SourcePackager) buildStatic(ctx context.Context, in PackageInput, rec kiln.Recorder) ([]byte, error) {
	// CGO_ENABLED=0 and -trimpath come with the sandbox's environment.
	runner := in.Runner.WithEnv(map[string]string{"GOOS": "linux", "GOARCH": "amd64"})
	out := filepath.Join(in.Dir, filepath.FromSlash(imageBinary))
	defer os.RemoveAll(filepath.Dir(out))
	args := []string{"build", "-ldflags=-s -w", "-o", filepath.ToSlash(imageBinary), "."}
	rec.Logf("building the image binary: CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go %s", strings.Join(args, " "))
	stdout, stderr := rec.Writer(kiln.StreamStdout), rec.Writer(kiln.StreamStderr)
	res, err := runner.Run(ctx, in.Dir, stdout, stderr, "go", args...)
	stdout.Close()
	stderr.Close()
	if err != nil {
		return nil, fmt.Errorf("build the image binary: %w", err)
	}
	switch {
	case res.TimedOut:
		return nil, kiln.Errorf(kiln.EBuildFailed, "building the image binary ran out of time (%s)", runner.Config().Timeout)
	case res.ExitCode != 0:
		return nil, kiln.Errorf(kiln.EBuildFailed, "building the image binary failed (exit status %d); the image needs a main package at the module root", res.ExitCode)
	}
	f, err := os.Open(out)
	if err != nil {
		return nil, fmt.Errorf("read the image binary: %w", err)
	}
	defer f.Close()
	// The sandbox caps file size; this caps what Kiln holds in memory.
	b, err := io.ReadAll(io.LimitReader(f, maxImageBinary+1))
	if err != nil {
		return nil, fmt.Errorf("read the image binary: %w", err)
	}
	if len(b) > maxImageBinary {
		return nil, kiln.Errorf(kiln.EBuildFailed, "the image binary is larger than %d MiB", maxImageBinary>>20)
	}
	return b, nil
}

// maxImageBinary bounds the app binary put into an image.
const maxImageBinary = 512 << 20

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
