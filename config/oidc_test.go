package config_test

import (
	"strings"
	"testing"

	"github.com/kiln-build/kiln/config"
)

func TestOIDC(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load(config.Source{File: writeFile(t, `auth:
  oidc:
    issuer: https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc123
    client_id: 3n4b5urk1ft4fl3mg5e62d9ado
    admin_group: kiln-admins
`), Environ: []string{"KILN_AUTH_OIDC_CLIENT_SECRET=from-env", "KILN_AUTH_OIDC_SCOPES=openid,email"}})
		if err != nil {
			t.Fatal(err)
		}
		o := c.Auth.OIDC
		if !o.Enabled() || o.ClientSecret != "from-env" || strings.Join(o.Scopes, " ") != "openid email" ||
			o.GroupClaim != "cognito:groups" || o.AdminGroup != "kiln-admins" || o.Name != "SSO" {
			t.Fatalf("oidc = %+v", o)
		}
		for _, s := range c.Settings() {
			if s.Key == "auth.oidc.client_secret" && s.Value != "[redacted]" {
				t.Fatalf("client secret shown as %q", s.Value)
			}
		}
	})

	t.Run("OffByDefault", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load(config.Source{File: writeFile(t, "")})
		if err != nil || c.Auth.OIDC.Enabled() {
			t.Fatalf("default oidc = %+v, %v", c.Auth.OIDC, err)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		_, err := config.Load(config.Source{File: writeFile(t, ""), Environ: []string{
			"KILN_AUTH_OIDC_ISSUER=cognito", "KILN_AUTH_OIDC_SCOPES=email"}})
		for _, want := range []string{"auth.oidc.issuer", "auth.oidc.client_id", "auth.oidc.scopes"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v does not name %s", err, want)
			}
		}
	})
}
