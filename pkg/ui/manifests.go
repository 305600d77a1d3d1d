package ui

import (
	"encoding/json"
	"net/http"

	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// manifestsView is what the Application renders to, as the manifests subresource answered it
// (Secret values already masked by the API).
type manifestsView struct {
	Revision string
	Objects  []manifestObject
}

type manifestObject struct {
	Kind, Namespace, Name, YAML string
}

func newManifestsView(m *gitopsv1alpha1.ApplicationManifests) *manifestsView {
	v := &manifestsView{Revision: m.Revision}
	for _, raw := range m.Objects {
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name, Namespace string
			} `json:"metadata"`
		}
		o := manifestObject{}
		if err := json.Unmarshal(raw.Raw, &meta); err == nil {
			o.Kind, o.Namespace, o.Name = meta.Kind, meta.Metadata.Namespace, meta.Metadata.Name
		}
		if y, err := yaml.JSONToYAML(raw.Raw); err == nil {
			o.YAML = string(y)
		} else {
			o.YAML = string(raw.Raw) // not JSON: shown as it came rather than hidden
		}
		v.Objects = append(v.Objects, o)
	}
	return v
}

// handleManifests shows GET applications/{name}/manifests as the person using the UI.
func (s *Server) handleManifests(w http.ResponseWriter, r *http.Request) {
	p := s.newSubPage(r, "Manifests")
	m, err := s.cfg.Client.GitopsV1alpha1().Applications(p.Namespace).Manifests(r.Context(), p.Name, gitopsv1alpha1.ApplicationManifestsOptions{})
	if err != nil {
		p.refused(err)
	} else {
		p.View = newManifestsView(m)
	}
	s.renderSub(w, "manifests", p)
}
