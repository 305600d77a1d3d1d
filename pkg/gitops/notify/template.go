package notify

import (
	"bytes"
	"errors"
	"fmt"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Data is what a message is made of: the data model of an Alert's spec.template, and the JSON
// body of a generic provider. Every field comes from the Application's metadata and status,
// which Ferry writes with Secret values already masked (pkg/gitops/redact), so no Secret value
// can reach a message through it.
type Data struct {
	// Trigger is the trigger that fired: Created, Deleted, SyncRunning, SyncSucceeded,
	// SyncFailed, Deployed, HealthDegraded, Drifted.
	Trigger string `json:"trigger"`
	// Application is the Application it fired for.
	Application AppRef `json:"application"`
	// Revision is the commit it fired at (the synced one; for SyncFailed and SyncRunning the
	// one being synced); ShortRevision its first 12 characters.
	Revision      string `json:"revision,omitempty"`
	ShortRevision string `json:"shortRevision,omitempty"`
	// RepoURL is the Application's repository.
	RepoURL string `json:"repoURL,omitempty"`
	// SyncStatus and Health are status.sync.status and status.health.status.
	SyncStatus string `json:"syncStatus,omitempty"`
	Health     string `json:"health,omitempty"`
	// Reason and Message are the reason and message of the condition behind the trigger (Ready,
	// Healthy or Synced).
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Time is when the trigger fired.
	Time time.Time `json:"time"`
}

// AppRef names an Application.
type AppRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// MaxMessageBytes bounds a rendered message.
const MaxMessageBytes = 16 << 10

// ParseTemplate parses an Alert's spec.template. Loops and calls of other templates are
// refused: the data model has no lists, and without them a template runs in time linear in its
// size. An empty template is a nil *template.Template, the default message.
func ParseTemplate(text string) (*template.Template, error) {
	if text == "" {
		return nil, nil
	}
	t, err := template.New("spec.template").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	for _, tt := range t.Templates() {
		if tt.Name() != t.Name() {
			return nil, fmt.Errorf("defines template %q: only one template is allowed", tt.Name())
		}
		if err := checkNodes(tt.Tree.Root); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// checkNodes refuses range and template actions anywhere in the tree.
func checkNodes(n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNodes(c); err != nil {
				return err
			}
		}
	case *parse.RangeNode:
		return errors.New("range is not allowed: the data model has no lists")
	case *parse.TemplateNode:
		return errors.New("template calls are not allowed")
	case *parse.IfNode:
		return checkBranch(&n.BranchNode)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode)
	}
	return nil
}

func checkBranch(b *parse.BranchNode) error {
	if err := checkNodes(b.List); err != nil {
		return err
	}
	if b.ElseList != nil {
		return checkNodes(b.ElseList)
	}
	return nil
}

// Render is the message of d: t's output, or Ferry's default message when t is nil.
func Render(t *template.Template, d Data) (string, error) {
	if t == nil {
		return DefaultMessage(d), nil
	}
	var buf limitedBuffer
	if err := t.Execute(&buf, d); err != nil {
		return "", fmt.Errorf("rendering spec.template: %w", err)
	}
	return buf.String(), nil
}

// DefaultMessage is the message of an Alert without a template.
func DefaultMessage(d Data) string {
	msg := fmt.Sprintf("Application %s/%s: %s", d.Application.Namespace, d.Application.Name, d.Trigger)
	if d.ShortRevision != "" {
		msg += " at " + d.ShortRevision
	}
	if d.Message != "" {
		msg += ": " + d.Message
	}
	return msg
}

// limitedBuffer refuses writes past MaxMessageBytes.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > MaxMessageBytes {
		return 0, fmt.Errorf("the message is longer than %d bytes", MaxMessageBytes)
	}
	return b.Buffer.Write(p)
}

// shortRevision is v1alpha1.ShortRevision, named here for the data model.
func shortRevision(rev string) string { return v1alpha1.ShortRevision(rev) }
