package cli

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
)

// oidcLoginTimeout bounds how long 'kiln login --oidc' waits for the user.
const oidcLoginTimeout = 10 * time.Minute

// openBrowser runs $BROWSER with the URL when it is set (the test hook
// replaces it); otherwise the user opens the printed URL.
func (r *runner) openBrowser(u string) {
	if r.browser != nil {
		r.browser(u)
		return
	}
	if b := r.getenv("BROWSER"); b != "" {
		_ = exec.Command(b, u).Start()
	}
}

// loginOIDC logs in through the server's identity provider: the device flow
// when the provider supports it and no callback was asked for, else the
// authorization-code flow with PKCE and a one-shot callback server on the
// loopback address of callback (default http://127.0.0.1:0/callback, a
// free port).
func (r *runner) loginOIDC(ctx context.Context, cmd *cobra.Command, s *session, callback string) (*kiln.Session, error) {
	prov, err := s.OIDCProvider(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, oidcLoginTimeout)
	defer cancel()
	if prov.DeviceFlow && callback == "" {
		return r.loginDevice(ctx, cmd, s, prov)
	}
	if callback == "" {
		callback = "http://127.0.0.1:0/callback"
	}
	cb, err := url.Parse(callback)
	if err != nil || cb.Scheme != "http" || (cb.Hostname() != "127.0.0.1" && cb.Hostname() != "localhost") {
		return nil, usageErrorf(cmd, "invalid --callback %q: want http://127.0.0.1:PORT/PATH or http://localhost:PORT/PATH", callback)
	}
	port := cb.Port()
	if port == "" {
		port = "0"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return nil, fmt.Errorf("listen for the login callback: %w", err)
	}
	defer ln.Close()
	cb.Host = net.JoinHostPort(cb.Hostname(), fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
	if cb.Path == "" {
		cb.Path = "/"
	}
	req := client.NewOIDCRequest(cb.String())

	type result struct {
		code string
		err  error
	}
	done := make(chan result, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		if hr.URL.Path != cb.Path {
			http.NotFound(w, hr)
			return
		}
		q := hr.URL.Query()
		var res result
		switch {
		case q.Get("state") != req.State:
			res.err = errors.New("the login callback's state does not match this login; try again")
		case q.Get("error") != "":
			res.err = fmt.Errorf("the identity provider refused the login: %s %s", q.Get("error"), q.Get("error_description"))
		case q.Get("code") == "":
			res.err = errors.New("the login callback has no code")
		default:
			res.code = q.Get("code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		msg := "Logged in. You can close this tab and return to the terminal."
		if res.err != nil {
			msg = "Login failed: " + res.err.Error()
		}
		fmt.Fprintf(w, "<!doctype html><title>Kiln</title><p>%s</p>\n", html.EscapeString(msg))
		select {
		case done <- res:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	authURL := req.AuthURL(prov)
	fmt.Fprintf(errw(cmd), "Open this URL in a browser to log in with %s:\n\n  %s\n\nWaiting for the login (Ctrl-C to stop)…\n", prov.Name, authURL)
	go r.openBrowser(authURL)
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the login: %w", ctx.Err())
	case res := <-done:
		if res.err != nil {
			return nil, res.err
		}
		return s.OIDCLogin(ctx, req.Login(res.code))
	}
}

// loginDevice runs the device authorization grant through the server.
func (r *runner) loginDevice(ctx context.Context, cmd *cobra.Command, s *session, prov *kiln.OIDCProvider) (*kiln.Session, error) {
	da, err := s.OIDCStartDevice(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(errw(cmd), "To log in with %s, open\n\n  %s\n\nand enter the code %s\n", prov.Name, da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(errw(cmd), "(or open %s)\n", da.VerificationURIComplete)
		go r.openBrowser(da.VerificationURIComplete)
	}
	fmt.Fprintln(errw(cmd), "Waiting for the login (Ctrl-C to stop)…")
	for {
		sess, err := s.OIDCPollDevice(ctx, da.DeviceCode)
		if kiln.ErrorCode(err) != kiln.EConflict {
			return sess, err
		}
		if !strings.Contains(err.Error(), "pending") {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}
