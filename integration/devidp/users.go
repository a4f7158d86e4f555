package devidp

import (
	"fmt"
	"sync"
)

// directory holds the provider's accounts: the configured Options.Users and those who signed up with a passkey.
// It hands out copies: update (Server.UpdateUser) may change an account meanwhile.
type directory struct {
	mu         sync.RWMutex
	byUsername map[string]*User
	bySubject  map[string]*User
}

func newDirectory(users []User) *directory {
	d := &directory{byUsername: map[string]*User{}, bySubject: map[string]*User{}}
	for i := range users {
		u := &users[i]
		d.byUsername[u.Username], d.bySubject[u.Subject] = u, u
	}
	return d
}

func (d *directory) byName(username string) (*User, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return copyOf(d.byUsername[username])
}

func (d *directory) bySub(sub string) (*User, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return copyOf(d.bySubject[sub])
}

func copyOf(u *User) (*User, bool) {
	if u == nil {
		return nil, false
	}
	c := *u
	return &c, true
}

// update changes the account with subject sub in place; its username and subject (the directory's keys) stay.
func (d *directory) update(sub string, change func(*User)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.bySubject[sub]
	if !ok {
		return fmt.Errorf("devidp: no user with subject %s", sub)
	}
	username := u.Username
	change(u)
	u.Subject, u.Username = sub, username
	return nil
}

// add stores a copy of u, unless its username or subject is taken.
func (d *directory) add(u User) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, taken := d.byUsername[u.Username]; taken {
		return fmt.Errorf("the username %q is taken", u.Username)
	}
	if _, taken := d.bySubject[u.Subject]; taken {
		return fmt.Errorf("the subject %q is taken", u.Subject)
	}
	d.byUsername[u.Username], d.bySubject[u.Subject] = &u, &u
	return nil
}
