package devidp

import "testing"

func TestDirectory(t *testing.T) {
	d := newDirectory([]User{DemoUser()})
	if err := d.add(SignUpUser(DemoUsername, "")); err == nil {
		t.Errorf("add of a taken username succeeded")
	}
	u := SignUpUser("new@example.com", "New")
	if err := d.add(u); err != nil {
		t.Fatalf("add: %v", err)
	}
	if err := d.add(User{Username: "other@example.com", Subject: u.Subject}); err == nil {
		t.Errorf("add of a taken subject succeeded")
	}
	got, ok := d.byName("new@example.com")
	if !ok || got.Subject != u.Subject || got.Name != "New" || got.Password != "" {
		t.Fatalf("byName: %+v %v, want the new account without password", got, ok)
	}
	got.Name = "changed by the caller"
	if again, _ := d.bySub(u.Subject); again.Name != "New" {
		t.Errorf("the directory handed out its own copy: name %q after the caller changed it", again.Name)
	}
	if err := d.update(u.Subject, func(x *User) { x.Name, x.Subject, x.Username = "Renamed", "U2other", "x@example.com" }); err != nil {
		t.Fatal(err)
	}
	if got, ok := d.byName("new@example.com"); !ok || got.Name != "Renamed" || got.Subject != u.Subject {
		t.Errorf("after update: %+v %v, want the new name under the same username and subject", got, ok)
	}
	if _, ok := d.byName("x@example.com"); ok {
		t.Errorf("update moved the account to another username")
	}
	if err := d.update("nobody", func(*User) {}); err == nil {
		t.Errorf("update of an unknown subject succeeded")
	}
}
