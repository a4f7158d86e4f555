package providers

import "sort"

// Starter starts a provider.
type Starter func(Options) (Provider, error)

// Starters are the providers of the matrix, by name: one line each.
var Starters = map[string]Starter{
	"devidp":        StartDevIDP,
	"devidp-strict": StartDevIDPStrict,
	"dex":           func(o Options) (Provider, error) { return asProvider(StartDex(o)) },
	"exampleop":     StartExampleOP,
	"oidcprovider":  func(o Options) (Provider, error) { return asProvider(StartOIDCProvider(o)) },
}

// Names are the keys of Starters, sorted.
func Names() []string {
	names := make([]string, 0, len(Starters))
	for n := range Starters {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// asProvider turns a constructor's (*T, error) into (Provider, error) without a typed nil in the interface.
func asProvider[P Provider](p P, err error) (Provider, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}
