package notify

import (
	"strings"
	"testing"
	"time"
)

// TestTemplatesRenderTheDataModel: a template sees the documented fields; loops, template calls
// and unknown fields are refused when parsed or rendered; no template is Ferry's message.
func TestTemplatesRenderTheDataModel(t *testing.T) {
	d := Data{Trigger: "SyncFailed", Application: AppRef{Namespace: "team", Name: "web"}, Revision: revA, ShortRevision: revA[:12],
		SyncStatus: "OutOfSync", Health: "Healthy", Reason: "RenderFailed", Message: "bad yaml", Time: time.Now()}
	tmpl, err := ParseTemplate(`{{.Application.Namespace}}/{{.Application.Name}} {{.Trigger}} at {{.ShortRevision}}{{if .Message}}: {{.Message}}{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Render(tmpl, d); err != nil || got != "team/web SyncFailed at aaaaaaaaaaaa: bad yaml" {
		t.Errorf("rendered %q, %v", got, err)
	}
	if got, _ := Render(nil, d); got != "Application team/web: SyncFailed at aaaaaaaaaaaa: bad yaml" {
		t.Errorf("default message %q", got)
	}
	for _, bad := range []string{`{{range .Trigger}}x{{end}}`, `{{define "x"}}{{template "x"}}{{end}}`, `{{template "y"}}`, `{{.Trigger`} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
	tmpl, _ = ParseTemplate(`{{.NoSuchField}}`)
	if _, err := Render(tmpl, d); err == nil {
		t.Error("an unknown field rendered")
	}
	long, _ := ParseTemplate(strings.Repeat("{{.Message}}", 5000))
	if _, err := Render(long, Data{Message: strings.Repeat("x", 10)}); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("a message past the bound: %v", err)
	}
}

// TestWhenIsCheckedAndBounded: spec.when must compile to a boolean over app and trigger.
func TestWhenIsCheckedAndBounded(t *testing.T) {
	for _, bad := range []string{`app.metadata.name`, `nosuchvar == 1`, `app.metadata.name ==`} {
		if _, err := CompileWhen(bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
	w, err := CompileWhen(`trigger == "SyncFailed" && app.metadata.labels["tier"] == "prod"`)
	if err != nil {
		t.Fatal(err)
	}
	a := app(revA, revA, "Synced", "Healthy")
	a.Labels = map[string]string{"tier": "prod"}
	if ok, err := w.Holds(a, "SyncFailed"); !ok || err != nil {
		t.Errorf("prod SyncFailed: %v %v", ok, err)
	}
	if ok, _ := w.Holds(a, "Deployed"); ok {
		t.Error("Deployed held")
	}
	heavy, err := CompileWhen(`[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a+b+c+d+e > 0)))))`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := heavy.Holds(a, "Deployed"); err == nil {
		t.Error("an expression past the cost limit was evaluated")
	}
}
