package clienttest

import (
	"context"
	"net/http"
	"strconv"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/srcdiff"
)

// diffBuilds serves GET /v1/builds/{id}/diff: the fake's "source archive"
// of a build is one text file, compared as source.txt.
func (s *Server) diffBuilds(w http.ResponseWriter, r *http.Request, u *userRec) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	against, err := strconv.ParseInt(r.URL.Query().Get("against"), 10, 64)
	if err != nil || against <= 0 {
		problem(w, http.StatusUnprocessableEntity, kiln.EInvalid, "validation failed",
			kiln.FieldError{Path: "query.against", Message: "expected a build id"})
		return
	}
	fb := fakeBuilds{s: s, u: u}
	tree := func(id int64) (srcdiff.Tree, error) {
		b, err := fb.FindBuildByID(r.Context(), id)
		if err != nil {
			return nil, err
		}
		for _, a := range s.artifacts {
			if a.artifact.BuildID == id && a.artifact.Kind == kiln.ArtifactSourceTarGz {
				return srcdiff.Tree{"source.txt": a.content}, nil
			}
		}
		return nil, kiln.Errorf(kiln.EConflict, "build %d is %s and has no source archive to compare", id, b.Status)
	}
	from, err := tree(against)
	if err != nil {
		writeErr(w, err)
		return
	}
	to, err := tree(id)
	if err != nil {
		writeErr(w, err)
		return
	}
	d := srcdiff.Compare(from, to, srcdiff.Options{})
	d.BuildID, d.Against = id, against
	writeJSON(w, http.StatusOK, d)
}

// fakeBuilds finds builds the user may see.
type fakeBuilds struct {
	s *Server
	u *userRec
}

func (f fakeBuilds) FindBuildByID(_ context.Context, id int64) (*kiln.Build, error) {
	b := f.s.buildByID(id)
	if b == nil || !visible(f.u, b.build.OwnerID, false) {
		return nil, kiln.Errorf(kiln.ENotFound, "build not found")
	}
	return &b.build, nil
}

// writeErr answers with the problem for a *kiln.Error's code.
func writeErr(w http.ResponseWriter, err error) {
	status := map[string]int{kiln.ENotFound: http.StatusNotFound, kiln.EConflict: http.StatusConflict}[kiln.ErrorCode(err)]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	problem(w, status, kiln.ErrorCode(err), kiln.ErrorMessage(err))
}
