// Package smtptest runs a real SMTP server (emersion/go-smtp) in-process
// for tests: it keeps what it receives, can refuse recipients, require
// AUTH PLAIN, speak STARTTLS or implicit TLS, and go down and come back on
// the same port.
package smtptest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message the server accepted.
type Message struct {
	From   string
	To     []string
	Data   []byte
	Header mail.Header
	// Text and HTML are the decoded text/plain and text/html parts.
	Text, HTML string
}

// MessageID returns the Message-ID header without its angle brackets.
func (m Message) MessageID() string {
	return strings.Trim(m.Header.Get("Message-Id"), "<>")
}

// TLS modes of Options.TLS.
const (
	TLSNone     = ""
	TLSStartTLS = "starttls"
	TLSImplicit = "implicit"
)

// Options configure a Server.
type Options struct {
	// Username and Password, when set, require AUTH PLAIN.
	Username, Password string
	// TLS is TLSNone, TLSStartTLS or TLSImplicit (a self-signed
	// certificate for 127.0.0.1; trust Server.CertPool).
	TLS string
}

// Server is a running SMTP server.
type Server struct {
	// Addr is host:port, the same across Stop and Start.
	Addr string
	// CertPool trusts the server's certificate (TLS modes only).
	CertPool *x509.CertPool

	opts   Options
	tlsCfg *tls.Config

	mu      sync.Mutex
	msgs    []Message
	changed chan struct{}
	reject  func(to string) error
	srv     *smtp.Server
	ln      net.Listener
}

// Start starts a server on a free port of 127.0.0.1 and stops it when tb
// ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := &Server{opts: opts, changed: make(chan struct{})}
	if opts.TLS != TLSNone {
		cert, pool, err := selfSigned()
		if err != nil {
			tb.Fatal(err)
		}
		s.tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.CertPool = pool
	}
	if err := s.listen("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Reject makes RCPT TO answer with the error fn returns for an address
// (nil accepts); an *smtp.SMTPError sets the code.
func (s *Server) Reject(fn func(to string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = fn
}

func (s *Server) listen(addr string) error {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "127.0.0.1"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 10 << 20
	var ln net.Listener
	var err error
	if s.opts.TLS == TLSImplicit {
		ln, err = tls.Listen("tcp", addr, s.tlsCfg)
	} else {
		ln, err = net.Listen("tcp", addr)
		srv.TLSConfig = s.tlsCfg // STARTTLS when set
	}
	if err != nil {
		return fmt.Errorf("smtptest: listen: %w", err)
	}
	s.mu.Lock()
	s.srv, s.ln, s.Addr = srv, ln, ln.Addr().String()
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// Port returns the port the server listens on.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	var n int
	fmt.Sscan(p, &n)
	return n
}

// Stop closes the server: connections are refused until Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		// Closing the listener ourselves also covers a Serve that has
		// not started yet.
		_ = ln.Close()
		_ = srv.Close()
	}
}

// Restart listens again on the same address.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if err := s.listen(s.Addr); err != nil {
		tb.Fatal(err)
	}
}

// Messages returns the messages received so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait returns the newest message match accepts, waiting for one until
// ctx ends.
func (s *Server) Wait(ctx context.Context, match func(Message) bool) (Message, error) {
	for {
		s.mu.Lock()
		changed := s.changed
		msgs := append([]Message(nil), s.msgs...)
		s.mu.Unlock()
		for i := len(msgs) - 1; i >= 0; i-- {
			if match(msgs[i]) {
				return msgs[i], nil
			}
		}
		select {
		case <-ctx.Done():
			return Message{}, fmt.Errorf("smtptest: wait: %w (%d messages so far)", ctx.Err(), len(msgs))
		case <-changed:
		}
	}
}

// WaitCount waits until at least n messages arrived and returns them.
func (s *Server) WaitCount(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		changed := s.changed
		msgs := append([]Message(nil), s.msgs...)
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-ctx.Done():
			return msgs, fmt.Errorf("smtptest: wait for %d messages: %w (%d so far)", n, ctx.Err(), len(msgs))
		case <-changed:
		}
	}
}

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (se *session) AuthMechanisms() []string {
	if se.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != se.s.opts.Username || pass != se.s.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.opts.Username != "" && !se.authed {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.s.mu.Lock()
	reject := se.s.reject
	se.s.mu.Unlock()
	if reject != nil {
		if err := reject(to); err != nil {
			return err
		}
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: se.from, To: se.to, Data: data}
	parsed, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unparsable message: " + err.Error()}
	}
	m.Header = parsed.Header
	if err := collectParts(parsed.Header.Get("Content-Type"), parsed.Header.Get("Content-Transfer-Encoding"), parsed.Body, &m); err != nil {
		return &smtp.SMTPError{Code: 554, Message: "bad MIME: " + err.Error()}
	}
	se.s.mu.Lock()
	se.s.msgs = append(se.s.msgs, m)
	close(se.s.changed)
	se.s.changed = make(chan struct{})
	se.s.mu.Unlock()
	return nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }

// collectParts walks a MIME body and keeps its text and HTML parts.
func collectParts(contentType, encoding string, body io.Reader, m *Message) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
			if err := collectParts(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, m); err != nil {
				return err
			}
		}
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if strings.EqualFold(encoding, "base64") {
		if b, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), "")); err != nil {
			return err
		}
	}
	switch mt {
	case "text/plain":
		m.Text = string(b)
	case "text/html":
		m.HTML = string(b)
	}
	return nil
}

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool, nil
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
