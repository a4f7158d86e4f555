package sessionseal

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Distinct returns n session cookie values made from the session value of one real login: each is its own login
// (a random chain ID, "d") for the subject "<sub>-<i>" (claim "sub" of "c"), with everything else as the login left
// it. The plugin serves each as a valid session of its own.
func (s *Sealer) Distinct(value string, n int) ([]string, []string, error) {
	pt, err := s.Open(value)
	if err != nil {
		return nil, nil, fmt.Errorf("sessionseal: the session does not open: %w", err)
	}
	var session map[string]any
	if err := json.Unmarshal(pt, &session); err != nil {
		return nil, nil, err
	}
	claims, _ := session["c"].(map[string]any)
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return nil, nil, fmt.Errorf("sessionseal: the session has no sub claim")
	}
	values, subs := make([]string, n), make([]string, n)
	id := make([]byte, 16)
	for i := range values {
		if _, err := rand.Read(id); err != nil {
			return nil, nil, err
		}
		subs[i] = fmt.Sprintf("%s-%d", sub, i)
		claims["sub"], session["d"] = subs[i], hex.EncodeToString(id)
		b, err := json.Marshal(session)
		if err != nil {
			return nil, nil, err
		}
		values[i] = s.Seal(b)
	}
	return values, subs, nil
}
