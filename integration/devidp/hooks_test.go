package devidp

import (
	"net/http"
	"reflect"
	"testing"
)

// TestClaimShapes: where the Descope-shaped options put the authorization and profile claims.
func TestClaimShapes(t *testing.T) {
	t.Parallel()
	type where struct{ idToken, accessToken, userinfo bool }
	cases := []struct {
		name           string
		opts           Options
		roles, profile where
	}{
		{"default", Options{}, where{true, true, true}, where{true, true, true}},
		{"authz in the access token only", Options{AuthzInAccessTokenOnly: true}, where{false, true, false}, where{true, true, true}},
		{"profile in userinfo only", Options{ProfileInUserinfoOnly: true}, where{true, true, true}, where{false, false, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := StartForTest(t, tc.opts)
			p := newAuthParams()
			tr := exchangeCode(t, s, p, login(t, s, p), true)
			_, id := verifyJWT(t, s, tr.IDToken)
			_, at := verifyJWT(t, s, tr.AccessToken)
			status, ui := userinfo(t, s, tr.AccessToken)
			if status != http.StatusOK || ui["sub"] != DemoSubject {
				t.Fatalf("userinfo: %d %v", status, ui)
			}
			got := func(c map[string]any, k string) bool { _, ok := c[k]; return ok }
			for _, k := range []string{"roles", "permissions", "tenants", "dct"} {
				if g := (where{got(id, k), got(at, k), got(ui, k)}); g != tc.roles {
					t.Errorf("%s in (id token, access token, userinfo) = %v, want %v", k, g, tc.roles)
				}
			}
			for _, k := range []string{"email", "name"} {
				if g := (where{got(id, k), got(at, k), got(ui, k)}); g != tc.profile {
					t.Errorf("%s in (id token, access token, userinfo) = %v, want %v", k, g, tc.profile)
				}
			}
			if tc.profile.idToken && id["email_verified"] != true || ui["email_verified"] != true {
				t.Errorf("email_verified: id token %v, userinfo %v; want true", id["email_verified"], ui["email_verified"])
			}
		})
	}
}

func TestEmailUnverified(t *testing.T) {
	t.Parallel()
	u := DemoUser()
	u.EmailUnverified = true
	s := StartForTest(t, Options{Users: []User{u}})
	p := newAuthParams()
	tr := exchangeCode(t, s, p, login(t, s, p), true)
	_, id := verifyJWT(t, s, tr.IDToken)
	_, ui := userinfo(t, s, tr.AccessToken)
	if v, ok := id["email_verified"]; !ok || v != false {
		t.Errorf("id token email_verified %v (present %v), want false", v, ok)
	}
	if ui["email_verified"] != false {
		t.Errorf("userinfo email_verified %v, want false", ui["email_verified"])
	}
}

func TestUserinfoSubjectAttack(t *testing.T) {
	t.Parallel()
	other := DemoUser()
	other.Username, other.Subject, other.Email = "other@example.com", "U2other", "other@example.com"
	s := StartForTest(t, Options{Users: []User{DemoUser(), other}, UserinfoSubject: "U2other"})
	p := newAuthParams()
	tr := exchangeCode(t, s, p, login(t, s, p), true)
	_, id := verifyJWT(t, s, tr.IDToken)
	_, ui := userinfo(t, s, tr.AccessToken)
	if id["sub"] != DemoSubject || ui["sub"] != "U2other" || ui["email"] != "other@example.com" {
		t.Errorf("id token sub %v, userinfo sub %v email %v", id["sub"], ui["sub"], ui["email"])
	}
}

func TestUpdateUserAndUserinfoStatus(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{AuthzInAccessTokenOnly: true})
	p := newAuthParams()
	tr := exchangeCode(t, s, p, login(t, s, p), true)
	if err := s.UpdateUser(DemoSubject, func(u *User) { u.Roles = []string{"auditor"} }); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateUser("nobody", func(*User) {}); err == nil {
		t.Error("UpdateUser of an unknown subject succeeded")
	}
	_, before := verifyJWT(t, s, tr.AccessToken)
	status, r := refresh(t, s, tr.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d", status)
	}
	_, after := verifyJWT(t, s, r.AccessToken)
	if !reflect.DeepEqual(strs(before["roles"]), []string{"viewer", "editor"}) || !reflect.DeepEqual(strs(after["roles"]), []string{"auditor"}) {
		t.Errorf("roles before %v, after the refresh %v", before["roles"], after["roles"])
	}
	s.SetUserinfoStatus(http.StatusServiceUnavailable)
	if status, _ := userinfo(t, s, r.AccessToken); status != http.StatusServiceUnavailable {
		t.Errorf("userinfo while down: %d", status)
	}
	s.SetUserinfoStatus(0)
	if status, _ := userinfo(t, s, r.AccessToken); status != http.StatusOK {
		t.Errorf("userinfo back: %d", status)
	}
}
