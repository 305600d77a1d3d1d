package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAPIServiceAvailable: kube-apiserver routes gitops.ferry.dev to Ferry and discovery lists
// the resource with its short name, category and verbs.
func TestAPIServiceAvailable(t *testing.T) {
	s := requireStack(t)
	if ok, msg := apiServiceAvailable(s); !ok {
		t.Fatalf("APIService v1alpha1.gitops.ferry.dev is not Available: %s", msg)
	}

	out := kubectl(t, "api-resources", "--api-group=gitops.ferry.dev", "-o", "wide")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		t.Fatalf("kubectl api-resources --api-group=gitops.ferry.dev lists nothing:\n%s", out)
	}
	var row []string
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "applications" {
			row = f
		}
	}
	if row == nil {
		t.Fatalf("no applications row in kubectl api-resources:\n%s", out)
	}
	// NAME SHORTNAMES APIVERSION NAMESPACED KIND VERBS CATEGORIES
	want := []string{"applications", "fapp", "gitops.ferry.dev/v1alpha1", "true", "Application"}
	if len(row) < len(want) || !slices.Equal(row[:len(want)], want) {
		t.Errorf("kubectl api-resources row = %q, want it to start with %q", row, want)
	}
	joined := strings.Join(row, " ")
	for _, verb := range []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"} {
		if !strings.Contains(joined, verb) {
			t.Errorf("applications verbs lack %q: %s", verb, joined)
		}
	}
	if !strings.Contains(joined, "gitops") {
		t.Errorf("applications is not in category gitops: %s", joined)
	}
}

// TestExampleApplication applies artifacts/examples/application.yaml as a user would and looks at
// it with kubectl get (columns, short name, category), server-side apply and kubectl wait.
func TestExampleApplication(t *testing.T) {
	s := requireStack(t)
	example := filepath.Join(s.RepoRoot, "artifacts", "examples", "application.yaml")
	t.Cleanup(func() { s.Run(Admin, "", "delete", "-f", example, "--ignore-not-found", "--wait=false") })
	// The team's namespace and ServiceAccount come first, as a platform admin would set them up.
	kubectl(t, "apply", "-f", filepath.Join(s.RepoRoot, "artifacts", "examples", "tenant.yaml"))

	out := kubectl(t, "apply", "-f", example)
	if !strings.Contains(out, "application.gitops.ferry.dev/guestbook created") {
		t.Errorf("kubectl apply printed %q, want application.gitops.ferry.dev/guestbook created", out)
	}

	t.Run("get -A columns", func(t *testing.T) {
		out := kubectl(t, "get", "applications", "-A")
		header, row := headerAndRow(t, out, "guestbook")
		want := []string{"NAMESPACE", "NAME", "REVISION", "SYNC", "HEALTH", "AGE"}
		if !slices.Equal(header, want) {
			t.Errorf("kubectl get applications -A header = %q, want %q\n%s", header, want, out)
		}
		if len(row) >= 3 && (row[0] != "guestbook" || row[2] != "main") {
			t.Errorf("row = %q, want namespace guestbook and revision main\n%s", row, out)
		}
	})

	t.Run("get -o wide columns", func(t *testing.T) {
		out := kubectl(t, "get", "applications", "-A", "-o", "wide")
		header, row := headerAndRow(t, out, "guestbook")
		for _, col := range []string{"NAME", "REVISION", "SYNC", "HEALTH", "AGE", "REPO", "PATH", "MESSAGE"} {
			if !slices.Contains(header, col) {
				t.Errorf("kubectl get applications -o wide has no %s column: %q", col, header)
			}
		}
		if i := slices.Index(header, "REPO"); i >= 0 && (i >= len(row) || row[i] != "https://github.com/ferry-gitops/examples.git") {
			t.Errorf("REPO column of guestbook = %q, want the example's repoURL\n%s", row, out)
		}
		if i := slices.Index(header, "PATH"); i >= 0 && (i >= len(row) || row[i] != "guestbook") {
			t.Errorf("PATH column of guestbook = %q, want guestbook\n%s", row, out)
		}
	})

	t.Run("short name fapp", func(t *testing.T) {
		out := kubectl(t, "get", "fapp", "-n", "guestbook")
		headerAndRow(t, out, "guestbook")
	})

	t.Run("category gitops", func(t *testing.T) {
		out := kubectl(t, "get", "gitops", "-n", "guestbook")
		if !strings.Contains(out, "guestbook") {
			t.Errorf("kubectl get gitops does not list guestbook:\n%s", out)
		}
	})

	t.Run("apply again is unchanged", func(t *testing.T) {
		out := kubectl(t, "apply", "-f", example)
		if !strings.Contains(out, "unchanged") {
			t.Errorf("second kubectl apply printed %q, want unchanged", out)
		}
	})

	t.Run("server-side apply", func(t *testing.T) {
		out := kubectl(t, "apply", "--server-side", "-f", example)
		if !strings.Contains(out, "serverside-applied") {
			t.Errorf("kubectl apply --server-side printed %q, want serverside-applied", out)
		}
		managers := kubectl(t, "get", "application", "guestbook", "-n", "guestbook",
			"--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}")
		if !strings.Contains(managers, "kubectl") {
			t.Errorf("managedFields managers = %q, want kubectl among them", managers)
		}
	})

	t.Run("wait for jsonpath", func(t *testing.T) {
		out := kubectl(t, "wait", "application/guestbook", "-n", "guestbook",
			"--for=jsonpath={.spec.source.revision}=main", "--timeout=30s")
		if !strings.Contains(out, "condition met") {
			t.Errorf("kubectl wait printed %q, want condition met", out)
		}
		r := kubectlFails(t, Admin, "", "wait", "application/guestbook", "-n", "guestbook",
			"--for=jsonpath={.spec.source.revision}=no-such-branch", "--timeout=2s")
		if !strings.Contains(r.Stderr, "timed out") {
			t.Errorf("kubectl wait for a value that never comes: %s", r)
		}
	})
}

// headerAndRow splits kubectl get output into the header's fields and the fields of the row
// naming name, failing the test when there is no such row.
func headerAndRow(t *testing.T, out, name string) (header, row []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		t.Fatalf("kubectl get printed no rows:\n%s", out)
	}
	header = strings.Fields(lines[0])
	nameCol := slices.Index(header, "NAME")
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if nameCol >= 0 && nameCol < len(f) && f[nameCol] == name {
			return header, f
		}
	}
	t.Fatalf("kubectl get has no row for %s:\n%s", name, out)
	return nil, nil
}

// TestExplain: kubectl explain shows the field documentation from Ferry's OpenAPI.
func TestExplain(t *testing.T) {
	requireStack(t)
	out := kubectl(t, "explain", "application.spec.source.revision")
	want := "Revision is the branch, tag or full 40-character commit SHA to deploy"
	if !strings.Contains(normalizeSpace(out), want) {
		t.Errorf("kubectl explain application.spec.source.revision does not say %q:\n%s", want, out)
	}
	if !strings.Contains(out, "gitops.ferry.dev") {
		t.Errorf("kubectl explain does not name the group gitops.ferry.dev:\n%s", out)
	}

	out = kubectl(t, "explain", "application.spec.source")
	for _, field := range []string{"repoURL", "revision", "path", "credentialsRef"} {
		if !strings.Contains(out, field) {
			t.Errorf("kubectl explain application.spec.source does not list %s:\n%s", field, out)
		}
	}
	if !strings.Contains(out, "required") {
		t.Errorf("kubectl explain application.spec.source does not mark repoURL required:\n%s", out)
	}
}

// TestWatch: kubectl get -w prints a line when an Application changes.
func TestWatch(t *testing.T) {
	requireStack(t)
	ns := newNamespace(t, "watch")
	kubectlStdin(t, Admin, appManifest(ns, "watched", nil), "apply", "-f", "-")

	lines := watchLines(t, Admin, "get", "applications", "-n", ns, "-w")
	waitForLine(t, lines, 30*time.Second, "the initial row of watched", func(l string) bool {
		f := strings.Fields(l)
		return len(f) > 1 && f[0] == "watched" && f[1] == "main"
	})

	kubectl(t, "patch", "application", "watched", "-n", ns, "--type=merge",
		"-p", `{"spec":{"source":{"revision":"v2.0.0"}}}`)
	waitForLine(t, lines, 30*time.Second, "watched at revision v2.0.0", func(l string) bool {
		f := strings.Fields(l)
		return len(f) > 1 && f[0] == "watched" && f[1] == "v2.0.0"
	})
}
