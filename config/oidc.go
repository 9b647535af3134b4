package config

import (
	"fmt"
	"net/url"
	"slices"
)

// OIDC settings: login through an OpenID Connect provider such as AWS
// Cognito (see docs/AUTH.md). Empty Issuer turns it off.
type OIDC struct {
	Issuer       string   `koanf:"issuer" help:"OpenID Connect issuer URL, e.g. https://cognito-idp.REGION.amazonaws.com/POOL_ID; empty turns external login off"`
	ClientID     string   `koanf:"client_id" help:"the app client id at the provider"`
	ClientSecret string   `koanf:"client_secret" secret:"true" help:"the app client secret (empty for a public client)"`
	Scopes       []string `koanf:"scopes" help:"scopes to ask for; must include openid"`
	GroupClaim   string   `koanf:"group_claim" help:"claim listing the user's groups"`
	AdminGroup   string   `koanf:"admin_group" help:"members of this provider group become Kiln admins at login, and the admins it made stop being admins at a login outside it; empty: none"`
	Audience     string   `koanf:"audience" help:"extra aud value accepted in provider access tokens besides client_id"`
	Name         string   `koanf:"name" help:"provider name on the portal's login button (Log in with NAME)"`
}

func defaultOIDC() OIDC {
	return OIDC{Scopes: []string{"openid", "email", "profile"}, GroupClaim: "cognito:groups", Name: "SSO"}
}

// Enabled reports whether external login is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

func (o OIDC) validate(bad func(field, format string, args ...any)) {
	if !o.Enabled() {
		return
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("auth.oidc.issuer", "must be an absolute https URL, got %q", o.Issuer)
	}
	if o.ClientID == "" {
		bad("auth.oidc.client_id", "is required when auth.oidc.issuer is set")
	}
	if !slices.Contains(o.Scopes, "openid") {
		bad("auth.oidc.scopes", "must include openid, got %v", fmt.Sprint(o.Scopes))
	}
	if o.GroupClaim == "" {
		bad("auth.oidc.group_claim", "must not be empty")
	}
}
