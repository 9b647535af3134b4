// Package web holds the web UI of Library: plain HTML, CSS and
// JavaScript embedded in the binary, no build step. The script talks to the
// REST API and puts data on the page only as text (textContent), never as
// HTML.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the UI: index.html at / and its assets.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // "static" is embedded above
	}
	return http.FileServerFS(sub)
}
