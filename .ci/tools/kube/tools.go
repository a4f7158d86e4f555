//go:build tools

// Package kube pins kube-apiserver and kubectl (k8s.io/kubernetes v1.34.4) for the examples/kubernetes end-to-end
// test: `make kube` builds both into bin/. A module of its own keeps k8s.io/kubernetes out of integration/go.mod.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
