package echo

import (
	"strconv"
	"strings"
)

// wantsHTML reports whether the Accept header values name text/html or application/xhtml+xml with a non-zero
// quality, as a browser navigation does. Wildcards (*/*, text/*) do not count: curl, fetch and API clients that
// accept anything get JSON.
func wantsHTML(accept []string) bool {
	for _, value := range accept {
		for _, r := range strings.Split(value, ",") {
			mediaType, params, _ := strings.Cut(r, ";")
			mediaType = strings.ToLower(strings.TrimSpace(mediaType))
			if (mediaType == "text/html" || mediaType == "application/xhtml+xml") && quality(params) > 0 {
				return true
			}
		}
	}
	return false
}

// quality is the q parameter of a media range's parameters ("; q=0.5; level=1"): 1 when absent, 0 when malformed.
func quality(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(q >= 0 && q <= 1) { // also NaN
			return 0
		}
		return q
	}
	return 1
}
