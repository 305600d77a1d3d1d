// Package artifacts holds Ferry's installation manifests, the kustomize base (base/)
// and its two overlays (embedded/, external/), for kubectl ferry install to render. The files are
// the source of truth: `kubectl apply -k` reads the same ones.
package artifacts

import "embed"

// FS holds kustomization.yaml and the manifests of base/, embedded/ and external/ (not
// examples/).
//
//go:embed kustomization.yaml base embedded external
var FS embed.FS
