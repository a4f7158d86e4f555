package descopeoidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Step-up per route (RFC 9470; OpenID Connect Core 3.1.2.1 acr_values and max_age, 2 acr/amr/auth_time). A middleware
// with requiredACR, requiredAMR, maxAuthAge or requireStepUp serves only sessions (and tokens) that meet them:
// several middlewares give different routes different levels. A browser whose session falls short is sent to the
// provider with acr_values and max_age (prompt=login when the authentication is too old) and comes back to the same
// URL with an upgraded session; an API client gets RFC 9470's 401 challenge.
//
// What the authorization request can ask for: acr_values and max_age are standard (a provider may still ignore them);
// amr, Descope's su and an unknown authentication age have no parameter, so a browser that falls short there is sent
// with prompt=login (a new authentication), else a provider with a live session would answer at once with the same
// authentication. A prompt in the middleware's own authParams wins over that (never over the prompt=login of an
// authentication older than maxAuthAge).
//
// With Descope: its authorize endpoint takes prompt and flow but neither acr_values nor max_age, and a step-up is a
// flow (authParams flow: the project's step-up flow) whose Step Up action makes the session JWT carry su: true; a
// requireStepUp or requiredAMR middleware then sends prompt=login with that flow, so Descope runs it as a new
// sign-in. A project whose step-up flow must start from the hosted page's existing session sets authParams prompt
// itself (the plugin then sends that value and adds none); maxAuthAge with Descope relies on prompt=login alone.
//
// The cost is paid when a session or token is first seen (markStepUp, on its cache entry): the hot path stays as it
// is. A static shortfall (acr, amr, su) marks the entry like a denial; maxAuthAge moves the point where the entry
// leaves the hot path to the moment its authentication becomes too old.

// stepUpMark prefixes entry.denied when the entry needs a step-up rather than being denied; forbidden hands such
// entries to stepUpChallenge. stepUpAgeMark follows it when the authentication is too old (prompt=login);
// stepUpLoginMark when the provider has no standard parameter for what is missing (prompt=login unless authParams
// set prompt: newLoginNeeded).
const (
	stepUpMark      = "\x00step-up\x00"
	stepUpAgeMark   = "\x00age\x00"
	stepUpLoginMark = "\x00login\x00"
)

// stepUpReason is why without the marks, for the log.
func stepUpReason(why string) string {
	return strings.TrimPrefix(strings.TrimPrefix(why, stepUpAgeMark), stepUpLoginMark)
}

// minMaxAuthAge: maxAuthAge must be positive and whole seconds (max_age is in seconds); minutes are typical.
const minMaxAuthAge = time.Second

// stepUpRule is the step-up policy derived in New; nil when none of its keys is set.
type stepUpRule struct {
	acr    []string // requiredACR: acr must be one of them
	amr    []string // requiredAMR: amr must contain one of them
	maxAge int64    // maxAuthAge in seconds: auth_time must be this recent; 0 when off
	su     bool     // requireStepUp: Descope's su claim must be true
	params url.Values
}

func deriveStepUp(c *Config, s *settings) error {
	r := &stepUpRule{acr: splitList(c.RequiredACR), amr: splitList(c.RequiredAMR), su: c.RequireStepUp}
	age, err := parseDuration("maxAuthAge", c.MaxAuthAge, 0)
	if err != nil {
		return err
	}
	if age != 0 && age < minMaxAuthAge {
		return fmt.Errorf("maxAuthAge: %s is shorter than %s", age, minMaxAuthAge)
	}
	if age%time.Second != 0 {
		return fmt.Errorf("maxAuthAge: %s is not a whole number of seconds", age)
	}
	r.maxAge = int64(age / time.Second)
	if len(r.acr) == 0 && len(r.amr) == 0 && r.maxAge == 0 && !r.su {
		return nil
	}
	for _, k := range []string{"acr_values", "max_age"} {
		if _, set := s.authParams[k]; set {
			return fmt.Errorf("authParams: %q is set by requiredACR/maxAuthAge on this middleware", k)
		}
	}
	r.params = r.authParams()
	if len(r.acr) > 0 {
		s.keepClaims["acr"] = true
	}
	if r.maxAge > 0 {
		s.keepClaims["auth_time"] = true
	}
	if len(r.amr) > 0 {
		s.keepClaims["amr"] = true
	}
	if r.su {
		s.keepClaims["su"] = true
	}
	s.stepUp = r
	return nil
}

// authParams are the rule's authorization request parameters: acr_values and max_age.
func (r *stepUpRule) authParams() url.Values {
	p := url.Values{}
	if len(r.acr) > 0 {
		p.Set("acr_values", strings.Join(r.acr, " "))
	}
	if r.maxAge > 0 {
		p.Set("max_age", strconv.FormatInt(r.maxAge, 10))
	}
	return p
}

// splitList accepts YAML lists and comma- or space-separated strings (acr values contain neither).
func splitList(items []string) []string {
	var out []string
	for _, item := range items {
		out = append(out, strings.Fields(strings.ReplaceAll(item, ",", " "))...)
	}
	return out
}

// unmet says what claims (of a session or token) lack, or "" when they meet the rule; when the authentication is
// too old, the answer starts with stepUpAgeMark, and when only a new authentication can help, with stepUpLoginMark.
func (r *stepUpRule) unmet(claims map[string]any, now int64) string {
	why := r.shortfall(claims, now)
	if why != "" && !strings.HasPrefix(why, stepUpAgeMark) && r.newLoginNeeded(claims) {
		why = stepUpLoginMark + why
	}
	return why
}

// newLoginNeeded: claims fall short where the authorization request has no standard parameter to ask for more, so a
// provider with a live session would answer at once with the same authentication (and the user would land on
// "Stronger sign-in required" without being asked for anything): amr (requiredAMR), Descope's su (requireStepUp), or
// an authentication whose age is unknown (maxAuthAge without auth_time; many providers ignore max_age, Descope's
// authorize endpoint takes none). Such a step-up asks for prompt=login. acr has acr_values.
func (r *stepUpRule) newLoginNeeded(claims map[string]any) bool {
	if len(r.amr) > 0 {
		if amr, _ := audienceList(claims["amr"]); !anyIn(r.amr, amr) {
			return true
		}
	}
	if r.su && claims["su"] != true {
		return true
	}
	_, known := numericDate(claims["auth_time"])
	return r.maxAge > 0 && !known
}

// shortfall is the first requirement of the rule that claims do not meet, "" when none.
func (r *stepUpRule) shortfall(claims map[string]any, now int64) string {
	if len(r.acr) > 0 {
		acr, _ := claims["acr"].(string)
		if !contains(r.acr, acr) {
			return "authentication context " + strconv.Quote(acr) + " is not one of " + strings.Join(r.acr, ", ")
		}
	}
	if len(r.amr) > 0 {
		amr, _ := audienceList(claims["amr"]) // a string or a list of strings
		if !anyIn(r.amr, amr) {
			return "authentication methods [" + strings.Join(amr, ", ") + "] include none of " + strings.Join(r.amr, ", ")
		}
	}
	if r.su && claims["su"] != true {
		return "the session is not stepped up (su)"
	}
	if r.maxAge > 0 {
		at, ok := numericDate(claims["auth_time"])
		if !ok {
			return "the authentication time (auth_time) is unknown"
		}
		if now >= at.Unix()+r.maxAge {
			return stepUpAgeMark + "the authentication is older than " + strconv.FormatInt(r.maxAge, 10) + "s"
		}
	}
	return ""
}

// authDeadline is when claims stop meeting maxAuthAge (0: no age rule or no auth_time).
func (r *stepUpRule) authDeadline(claims map[string]any) int64 {
	if r.maxAge == 0 {
		return 0
	}
	at, ok := numericDate(claims["auth_time"])
	if !ok {
		return 0
	}
	return at.Unix() + r.maxAge
}

// markStepUp records on a new cache entry whether its claims need a step-up (not when authorization already
// denies it), and moves the point where it leaves the hot path (sessions: seenAt; tokens: endAt) to its deadline.
func (m *Middleware) markStepUp(e *entry, claims map[string]any, now int64, token bool) {
	r := m.s.stepUp
	if e.denied != "" {
		return
	}
	if why := r.unmet(claims, now); why != "" {
		e.denied = stepUpMark + why
		return
	}
	dl := r.authDeadline(claims)
	if dl == 0 {
		return
	}
	e.authDeadline = dl
	if token && dl < e.endAt {
		e.endAt = dl
	} else if !token && dl < e.seenAt {
		e.seenAt = dl
	}
}

// stepUpDue answers a request whose session or token met the rule when it was first seen and whose authentication
// has become too old since; false when it is not.
func (m *Middleware) stepUpDue(w http.ResponseWriter, r *http.Request, e *entry, now int64) bool {
	if e.authDeadline == 0 || now < e.authDeadline || e.denied != "" {
		return false
	}
	why := "the authentication is older than " + strconv.FormatInt(m.s.stepUp.maxAge, 10) + "s"
	m.event(r, evStepUpRequired, e.data, why) // events.go
	m.stepUpChallenge(w, r, why, true)
	return true
}

// stepUpChallenge asks for a stronger or fresher authentication: RFC 9470 section 3's 401 for API clients, a login
// with acr_values/max_age (prompt=login when too old) for browsers, which come back to the same URL.
func (m *Middleware) stepUpChallenge(w http.ResponseWriter, r *http.Request, why string, tooOld bool) {
	newLogin := false
	if strings.HasPrefix(why, stepUpAgeMark) {
		tooOld = true
	} else if strings.HasPrefix(why, stepUpLoginMark) {
		newLogin = true
	}
	count(m.met, stepUpCounter(tooOld))
	if m.s.unauthMode == mode401 || wantsAPIResponse(r) || r.Header.Get("Authorization") != "" {
		w.Header().Set("WWW-Authenticate", m.s.stepUp.challenge(tooOld))
		writeJSONError(w, http.StatusUnauthorized, "insufficient_user_authentication")
		return
	}
	prompt := ""
	if _, own := m.s.authParams["prompt"]; tooOld || (newLogin && !own) {
		prompt = "login" // the middleware's own authParams prompt wins over a step-up's new login: stepUpLoginMark
	}
	target, ok := safeRedirectPath(r.URL.RequestURI())
	if !ok {
		target = "/"
	}
	m.startLoginTo(w, r, target, prompt)
}

// challenge is the WWW-Authenticate value of RFC 9470 section 3 (its parameters quoted as in its examples).
func (r *stepUpRule) challenge(tooOld bool) string {
	desc := "A different authentication level is required"
	if tooOld {
		desc = "More recent authentication is required"
	}
	v := `Bearer error="insufficient_user_authentication", error_description="` + desc + `"`
	if a := r.params.Get("acr_values"); a != "" {
		v += `, acr_values="` + a + `"`
	}
	if r.maxAge > 0 {
		v += `, max_age="` + strconv.FormatInt(r.maxAge, 10) + `"`
	}
	return v
}

// addStepUpParams puts the rule's acr_values and max_age on every authorization request of this middleware (a
// first login through it then already meets the rule), and records in the login state that it did.
func addStepUpParams(r *stepUpRule, q url.Values, sd *stateData) {
	if r == nil {
		return
	}
	for k, v := range r.params {
		q[k] = v
	}
	sd.StepUp, sd.NeedACR, sd.NeedAMR, sd.NeedAge, sd.NeedSU = true, r.acr, r.amr, r.maxAge, r.su
}

// stateRule is the step-up rule a login state carries: the callback may be served by another middleware than the
// one that started the login (callbackPath is usually shared by a host's middlewares).
func stateRule(sd *stateData) *stepUpRule {
	r := &stepUpRule{acr: sd.NeedACR, amr: sd.NeedAMR, maxAge: sd.NeedAge, su: sd.NeedSU}
	r.params = r.authParams()
	return r
}

// addStepUpClaims puts the claims a step-up rule reads into the session of a step-up login, whatever this
// middleware's own headers and rules keep: acr, amr and auth_time from the ID token, su from the ID token or the
// JWT access token.
func (m *Middleware) addStepUpClaims(ctx context.Context, sd *stateData, kept, idClaims map[string]any, accessToken string) {
	if !sd.StepUp {
		return
	}
	for _, k := range authEventClaims {
		if v, ok := idClaims[k]; ok {
			kept[k] = v
		}
	}
	if v, ok := idClaims["su"]; ok && sd.NeedSU {
		kept["su"] = v
	}
	names := accessTokenAuthClaims(sd, idClaims, contains(m.s.sources.order, sourceAccessToken))
	if len(names) == 0 {
		return
	}
	at, err := m.verifyClaimsSource(ctx, accessToken)
	if err != nil || at["sub"] != kept["sub"] {
		return
	}
	for _, k := range names {
		if v, ok := at[k]; ok {
			kept[k] = v
		}
	}
}

// accessTokenAuthClaims are the claims a step-up login's rule reads that the ID token lacks and the verified JWT
// access token may hold: Descope documents amr and su on its session token (the access token), not on the ID token
// (issue 19, from Descope's session-JWT documentation). amr is read there when claimsFrom lists accessToken (the
// default); su always was.
func accessTokenAuthClaims(sd *stateData, idClaims map[string]any, amrFromAccessToken bool) []string {
	var out []string
	if _, ok := idClaims["amr"]; !ok && len(sd.NeedAMR) > 0 && amrFromAccessToken {
		out = append(out, "amr")
	}
	if _, ok := idClaims["su"]; !ok && sd.NeedSU {
		out = append(out, "su")
	}
	return out
}

// finishStepUp runs at the callback of a login this middleware started with its step-up rule, after the new session
// cookie is written: the session it replaces ends (upgraded, not duplicated), and when the new session still falls
// short, the browser gets a 403 page instead of going back to where it would be sent to the provider again (no
// loop). It reports whether it answered.
func (m *Middleware) finishStepUp(w http.ResponseWriter, r *http.Request, sd *stateData, cookie string) bool {
	upgraded := m.sm.endSession(r) != nil // the session it replaces, if any, ends
	d, err := m.sm.openSession(cookie)
	if err != nil {
		return false
	}
	why := stateRule(sd).unmet(d.Claims, m.now().Unix())
	if why == "" {
		if upgraded { // a session was stepped up (not a first login through this middleware)
			m.event(r, evStepUpAchieved, d, "")
		}
		return false
	}
	m.event(r, evDenied, d, "step-up not achieved after the provider's answer: "+stepUpReason(why))
	writePage(w, http.StatusForbidden, "Stronger sign-in required",
		"You are signed in, but this page needs a stronger or more recent sign-in than the one you completed.",
		sd.Target, "Try again")
	return true
}

// errAuthTimeMissing: max_age was sent, so the ID token must carry auth_time (OpenID Connect Core 3.1.2.1).
var errAuthTimeMissing = errors.New("id token has no auth_time although max_age was requested")

// checkStepUpIDToken is the callback's check of the ID token of a step-up login: auth_time is required when
// max_age was sent.
//
// Descope's authorize endpoint takes no max_age and its ID token carries no auth_time: with projectID set, an ID
// token without auth_time counts as authenticated when the login started (the state's creation), which is what the
// session's age is then measured from. That trusts the provider to have authenticated the user during this login
// (a step-up for age sends prompt=login), as README "Step-up per route" says.
func (m *Middleware) checkStepUpIDToken(sd *stateData, idClaims map[string]any) error {
	if !sd.StepUp || sd.NeedAge == 0 {
		return nil
	}
	if _, ok := numericDate(idClaims["auth_time"]); !ok {
		if m.s.projectID == "" {
			return errAuthTimeMissing
		}
		idClaims["auth_time"] = float64(sd.Expiry - int64(stateTTL/time.Second))
	}
	return nil
}

// authEventClaims describe the authentication, not the tokens: a refresh does not change them.
var authEventClaims = []string{"acr", "amr", "auth_time"}

// keepAuthClaims carries acr, amr and auth_time over a refresh whose new ID token leaves them out (OpenID Connect
// Core 12.2 requires only iss, sub, aud and auth_time's meaning to stay; many providers, zitadel's among them, drop
// acr): the session's authentication has not changed, so neither has its step-up level.
func keepAuthClaims(refreshed, before map[string]any) {
	for _, k := range authEventClaims {
		if _, ok := refreshed[k]; ok {
			continue
		}
		if v, ok := before[k]; ok {
			refreshed[k] = v
		}
	}
}
