package validation

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
)

func validApp() *gitops.Application {
	return &gitops.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "guestbook", Namespace: "default"},
		Spec: gitops.ApplicationSpec{
			Source: gitops.ApplicationSource{
				RepoURL:  "https://git.example.com/org/repo.git",
				Revision: "HEAD",
				Path:     "apps/guestbook",
			},
			SyncPolicy: gitops.SyncPolicy{
				Interval: &metav1.Duration{Duration: 3 * time.Minute},
				Retry: &gitops.RetryStrategy{
					Limit: ptr.To[int32](5),
					Backoff: &gitops.Backoff{
						Duration:    &metav1.Duration{Duration: 5 * time.Second},
						Factor:      ptr.To[int32](2),
						MaxDuration: &metav1.Duration{Duration: 3 * time.Minute},
					},
				},
			},
		},
	}
}

// multiSource is a chart of a Helm repository with its values in a Git repository.
func multiSource() []gitops.ApplicationSource {
	return []gitops.ApplicationSource{
		{RepoURL: "https://charts.example.com", Chart: "web", Revision: "~1.2", Helm: &gitops.HelmSource{ValueFiles: []string{"values.yaml", "$values/envs/prod.yaml"}}},
		{RepoURL: "https://git.example.com/org/config.git", Revision: "main", Ref: "values"},
	}
}

func TestValidApplicationsPass(t *testing.T) {
	cases := map[string]func(*gitops.Application){
		"defaults":          func(*gitops.Application) {},
		"http":              func(a *gitops.Application) { a.Spec.Source.RepoURL = "http://127.0.0.1:8080/repo.git" },
		"ssh":               func(a *gitops.Application) { a.Spec.Source.RepoURL = "ssh://git@git.example.com:2222/org/repo.git" },
		"scp-like":          func(a *gitops.Application) { a.Spec.Source.RepoURL = "git@github.com:org/repo.git" },
		"branch with slash": func(a *gitops.Application) { a.Spec.Source.Revision = "release/1.x" },
		"tag":               func(a *gitops.Application) { a.Spec.Source.Revision = "v1.2.3" },
		"commit":            func(a *gitops.Application) { a.Spec.Source.Revision = strings.Repeat("ab", 20) },
		"root path":         func(a *gitops.Application) { a.Spec.Source.Path = "" },
		"dotted path":       func(a *gitops.Application) { a.Spec.Source.Path = "./apps/..foo/x" },
		"interval bounds": func(a *gitops.Application) {
			a.Spec.SyncPolicy.Interval = &metav1.Duration{Duration: 10 * time.Second}
		},
		"wave timeout": func(a *gitops.Application) {
			a.Spec.SyncPolicy.WaveTimeout = &metav1.Duration{Duration: 30 * time.Second}
		},
		"depends on others": func(a *gitops.Application) {
			a.Spec.DependsOn = []gitops.ApplicationReference{{Name: "db"}, {Name: "cache", Namespace: "platform"}}
		},
		"no retries":      func(a *gitops.Application) { a.Spec.SyncPolicy.Retry.Limit = ptr.To[int32](0) },
		"service account": func(a *gitops.Application) { a.Spec.ServiceAccountName = "deployer" },
		"ignore differences": func(a *gitops.Application) {
			a.Spec.IgnoreDifferences = []gitops.ResourceIgnoreDifferences{{Group: "apps", Kind: "Deployment", JSONPointers: []string{"/spec/replicas", "/metadata/annotations/a~1b"}}}
		},
		"file allowed": func(a *gitops.Application) { a.Spec.Source.RepoURL = "file:///srv/git/repo.git" },
		"chart of a Helm repository": func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{RepoURL: "https://stefanprodan.github.io/podinfo", Chart: "podinfo", Revision: "6.7.1"}
		},
		"chart range of an OCI registry": func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{RepoURL: "oci://ghcr.io/stefanprodan/charts", Chart: "podinfo", Revision: ">=6.0.0 <7",
				Helm: &gitops.HelmSource{ValueFiles: []string{"values-prod.yaml"}, PassCredentials: true}}
		},
		"chart with values from another repository": func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{}
			a.Spec.Sources = multiSource()
		},
		"several sources after one, defaulted revision left": func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{Revision: "HEAD"}
			a.Spec.Sources = multiSource()
		},
		"chart, newest": func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{RepoURL: "oci://registry.example.com", Chart: "web", Revision: "HEAD"}
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			app := validApp()
			mutate(app)
			if errs := ValidateApplication(app, Options{AllowFileRepositories: true}); len(errs) > 0 {
				t.Errorf("valid Application refused: %v", errs.ToAggregate())
			}
		})
	}
}

func TestInvalidApplicationsNameTheField(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*gitops.Application)
		opts   Options
		field  string
		typ    field.ErrorType
	}{
		{"missing repoURL", func(a *gitops.Application) { a.Spec.Source.RepoURL = "" }, Options{}, "spec.source.repoURL", field.ErrorTypeRequired},
		{"ftp scheme", func(a *gitops.Application) { a.Spec.Source.RepoURL = "ftp://example.com/repo.git" }, Options{}, "spec.source.repoURL", field.ErrorTypeNotSupported},
		{"file without flag", func(a *gitops.Application) { a.Spec.Source.RepoURL = "file:///srv/repo.git" }, Options{}, "spec.source.repoURL", field.ErrorTypeForbidden},
		{"relative file URL", func(a *gitops.Application) { a.Spec.Source.RepoURL = "file://repo.git" }, Options{AllowFileRepositories: true}, "spec.source.repoURL", field.ErrorTypeInvalid},
		{"https without host", func(a *gitops.Application) { a.Spec.Source.RepoURL = "https:///repo.git" }, Options{}, "spec.source.repoURL", field.ErrorTypeInvalid},
		{"password in URL", func(a *gitops.Application) { a.Spec.Source.RepoURL = "https://u:secret@example.com/r.git" }, Options{}, "spec.source.repoURL", field.ErrorTypeInvalid},
		{"token in the user part of the URL", func(a *gitops.Application) {
			a.Spec.Source.RepoURL = "https://ghp_0123456789abcdef@github.com/org/r.git"
		}, Options{}, "spec.source.repoURL", field.ErrorTypeInvalid},
		{"whitespace in URL", func(a *gitops.Application) { a.Spec.Source.RepoURL = "https://example.com/r .git" }, Options{}, "spec.source.repoURL", field.ErrorTypeInvalid},
		{"not a URL", func(a *gitops.Application) { a.Spec.Source.RepoURL = "just-a-word" }, Options{}, "spec.source.repoURL", field.ErrorTypeInvalid},
		{"revision with space", func(a *gitops.Application) { a.Spec.Source.Revision = "my branch" }, Options{}, "spec.source.revision", field.ErrorTypeInvalid},
		{"revision with ..", func(a *gitops.Application) { a.Spec.Source.Revision = "a..b" }, Options{}, "spec.source.revision", field.ErrorTypeInvalid},
		{"revision ending .lock", func(a *gitops.Application) { a.Spec.Source.Revision = "main.lock" }, Options{}, "spec.source.revision", field.ErrorTypeInvalid},
		{"abbreviated commit", func(a *gitops.Application) { a.Spec.Source.Revision = "abcdef1234" }, Options{}, "spec.source.revision", field.ErrorTypeInvalid},
		{"revision with @{", func(a *gitops.Application) { a.Spec.Source.Revision = "main@{1}" }, Options{}, "spec.source.revision", field.ErrorTypeInvalid},
		{"absolute path", func(a *gitops.Application) { a.Spec.Source.Path = "/etc" }, Options{}, "spec.source.path", field.ErrorTypeInvalid},
		{"path escape", func(a *gitops.Application) { a.Spec.Source.Path = "apps/../../x" }, Options{}, "spec.source.path", field.ErrorTypeInvalid},
		{"path ..", func(a *gitops.Application) { a.Spec.Source.Path = ".." }, Options{}, "spec.source.path", field.ErrorTypeInvalid},
		{"backslash path", func(a *gitops.Application) { a.Spec.Source.Path = `apps\x` }, Options{}, "spec.source.path", field.ErrorTypeInvalid},
		{"credentials without name", func(a *gitops.Application) { a.Spec.Source.CredentialsRef = &gitops.LocalObjectReference{} }, Options{}, "spec.source.credentialsRef.name", field.ErrorTypeRequired},
		{"decryption by an unknown provider", func(a *gitops.Application) {
			a.Spec.Decryption = &gitops.Decryption{Provider: "vault", SecretRef: &gitops.LocalObjectReference{Name: "keys"}}
		}, Options{}, "spec.decryption.provider", field.ErrorTypeNotSupported},
		{"decryption without a Secret", func(a *gitops.Application) { a.Spec.Decryption = &gitops.Decryption{Provider: "sops"} }, Options{}, "spec.decryption.secretRef.name", field.ErrorTypeRequired},
		{"decryption Secret badly named", func(a *gitops.Application) {
			a.Spec.Decryption = &gitops.Decryption{Provider: "sops", SecretRef: &gitops.LocalObjectReference{Name: "Keys_"}}
		}, Options{}, "spec.decryption.secretRef.name", field.ErrorTypeInvalid},
		{"bad include glob", func(a *gitops.Application) { a.Spec.Source.Directory = &gitops.DirectorySource{Include: "[a"} }, Options{}, "spec.source.directory.include", field.ErrorTypeInvalid},
		{"kustomize component escape", func(a *gitops.Application) {
			a.Spec.Source.Kustomize = &gitops.KustomizeSource{Components: []string{"../c"}}
		}, Options{}, "spec.source.kustomize.components[0]", field.ErrorTypeInvalid},
		{"empty patch", func(a *gitops.Application) {
			a.Spec.Source.Kustomize = &gitops.KustomizeSource{Patches: []gitops.KustomizePatch{{}}}
		}, Options{}, "spec.source.kustomize.patches[0].patch", field.ErrorTypeRequired},
		{"bad destination namespace", func(a *gitops.Application) { a.Spec.Destination.Namespace = "Not_OK" }, Options{}, "spec.destination.namespace", field.ErrorTypeInvalid},
		{"bad service account", func(a *gitops.Application) { a.Spec.ServiceAccountName = "Bad_Name" }, Options{}, "spec.serviceAccountName", field.ErrorTypeInvalid},
		{"interval too short", func(a *gitops.Application) { a.Spec.SyncPolicy.Interval = &metav1.Duration{Duration: time.Second} }, Options{}, "spec.syncPolicy.interval", field.ErrorTypeInvalid},
		{"interval too long", func(a *gitops.Application) { a.Spec.SyncPolicy.Interval = &metav1.Duration{Duration: 25 * time.Hour} }, Options{}, "spec.syncPolicy.interval", field.ErrorTypeInvalid},
		{"depends on itself", func(a *gitops.Application) { a.Spec.DependsOn = []gitops.ApplicationReference{{Name: a.Name}} }, Options{}, "spec.dependsOn[0]", field.ErrorTypeInvalid},
		{"depends on itself, namespace spelt out", func(a *gitops.Application) {
			a.Spec.DependsOn = []gitops.ApplicationReference{{Name: "db"}, {Name: a.Name, Namespace: a.Namespace}}
		}, Options{}, "spec.dependsOn[1]", field.ErrorTypeInvalid},
		{"dependency twice", func(a *gitops.Application) {
			a.Spec.DependsOn = []gitops.ApplicationReference{{Name: "db"}, {Name: "db", Namespace: a.Namespace}}
		}, Options{}, "spec.dependsOn[1]", field.ErrorTypeDuplicate},
		{"dependency without a name", func(a *gitops.Application) { a.Spec.DependsOn = []gitops.ApplicationReference{{Namespace: "x"}} }, Options{}, "spec.dependsOn[0].name", field.ErrorTypeRequired},
		{"dependency in a malformed namespace", func(a *gitops.Application) {
			a.Spec.DependsOn = []gitops.ApplicationReference{{Name: "db", Namespace: "Team_A"}}
		}, Options{}, "spec.dependsOn[0].namespace", field.ErrorTypeInvalid},
		{"wave timeout zero", func(a *gitops.Application) { a.Spec.SyncPolicy.WaveTimeout = &metav1.Duration{} }, Options{}, "spec.syncPolicy.waveTimeout", field.ErrorTypeInvalid},
		{"wave timeout too long", func(a *gitops.Application) { a.Spec.SyncPolicy.WaveTimeout = &metav1.Duration{Duration: 2 * time.Hour} }, Options{}, "spec.syncPolicy.waveTimeout", field.ErrorTypeInvalid},
		{"negative retry limit", func(a *gitops.Application) { a.Spec.SyncPolicy.Retry.Limit = ptr.To[int32](-1) }, Options{}, "spec.syncPolicy.retry.limit", field.ErrorTypeInvalid},
		{"backoff too short", func(a *gitops.Application) {
			a.Spec.SyncPolicy.Retry.Backoff.Duration = &metav1.Duration{Duration: time.Millisecond}
		}, Options{}, "spec.syncPolicy.retry.backoff.duration", field.ErrorTypeInvalid},
		{"backoff factor 0", func(a *gitops.Application) { a.Spec.SyncPolicy.Retry.Backoff.Factor = ptr.To[int32](0) }, Options{}, "spec.syncPolicy.retry.backoff.factor", field.ErrorTypeInvalid},
		{"max below duration", func(a *gitops.Application) {
			a.Spec.SyncPolicy.Retry.Backoff.MaxDuration = &metav1.Duration{Duration: time.Second}
		}, Options{}, "spec.syncPolicy.retry.backoff.maxDuration", field.ErrorTypeInvalid},
		{"ignoreDifferences without kind", func(a *gitops.Application) {
			a.Spec.IgnoreDifferences = []gitops.ResourceIgnoreDifferences{{JSONPointers: []string{"/spec"}}}
		}, Options{}, "spec.ignoreDifferences[0].kind", field.ErrorTypeRequired},
		{"ignoreDifferences without pointers", func(a *gitops.Application) {
			a.Spec.IgnoreDifferences = []gitops.ResourceIgnoreDifferences{{Kind: "Deployment"}}
		}, Options{}, "spec.ignoreDifferences[0].jsonPointers", field.ErrorTypeRequired},
		{"ignoreDifferences relative pointer", func(a *gitops.Application) {
			a.Spec.IgnoreDifferences = []gitops.ResourceIgnoreDifferences{{Kind: "Deployment", JSONPointers: []string{"spec/replicas"}}}
		}, Options{}, "spec.ignoreDifferences[0].jsonPointers[0]", field.ErrorTypeInvalid},
		{"ignoreDifferences bad escape", func(a *gitops.Application) {
			a.Spec.IgnoreDifferences = []gitops.ResourceIgnoreDifferences{{Kind: "Deployment", JSONPointers: []string{"/a~2b"}}}
		}, Options{}, "spec.ignoreDifferences[0].jsonPointers[0]", field.ErrorTypeInvalid},
		{"ignoreDifferences bad group", func(a *gitops.Application) {
			a.Spec.IgnoreDifferences = []gitops.ResourceIgnoreDifferences{{Group: "Apps!", Kind: "Deployment", JSONPointers: []string{"/spec"}}}
		}, Options{}, "spec.ignoreDifferences[0].group", field.ErrorTypeInvalid},
		{"bad name", func(a *gitops.Application) { a.Name = "Guest_Book" }, Options{}, "metadata.name", field.ErrorTypeInvalid},
		{"chart with a path", func(a *gitops.Application) { a.Spec.Source.Chart = "web"; a.Spec.Source.Revision = "" }, Options{}, "spec.source.path", field.ErrorTypeForbidden},
		{"chart name with a slash", func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{RepoURL: "https://charts.example.com", Chart: "bitnami/nginx"}
		}, Options{}, "spec.source.chart", field.ErrorTypeInvalid},
		{"chart revision not a version", func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{RepoURL: "https://charts.example.com", Chart: "nginx", Revision: "main"}
		}, Options{}, "spec.source.revision", field.ErrorTypeInvalid},
		{"chart from an ssh repository", func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{RepoURL: "ssh://git@example.com/charts", Chart: "nginx"}
		}, Options{}, "spec.source.repoURL", field.ErrorTypeNotSupported},
		{"chart repository with a token", func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{RepoURL: "oci://tok3n@ghcr.io/org", Chart: "nginx"}
		}, Options{}, "spec.source.repoURL", field.ErrorTypeInvalid},
		{"source and sources", func(a *gitops.Application) { a.Spec.Sources = multiSource() }, Options{}, "spec.source", field.ErrorTypeForbidden},
		{"a ref in spec.source", func(a *gitops.Application) { a.Spec.Source.Ref = "values" }, Options{}, "spec.source.ref", field.ErrorTypeForbidden},
		{"a $ref value file in spec.source", func(a *gitops.Application) {
			a.Spec.Source.Helm = &gitops.HelmSource{ValueFiles: []string{"$values/prod.yaml"}}
		}, Options{}, "spec.source.helm.valueFiles[0]", field.ErrorTypeInvalid},
		{"a value file of an undeclared ref", func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{}
			a.Spec.Sources = multiSource()
			a.Spec.Sources[0].Helm.ValueFiles = []string{"$valeus/envs/prod.yaml"}
		}, Options{}, "spec.sources[0].helm.valueFiles[0]", field.ErrorTypeInvalid},
		{"a ref value file leaving the repository", func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{}
			a.Spec.Sources = multiSource()
			a.Spec.Sources[0].Helm.ValueFiles = []string{"$values/../../etc/passwd"}
		}, Options{}, "spec.sources[0].helm.valueFiles[0]", field.ErrorTypeInvalid},
		{"two sources with one ref", func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{}
			a.Spec.Sources = multiSource()
			a.Spec.Sources[0].Ref = "values"
		}, Options{}, "spec.sources[1].ref", field.ErrorTypeDuplicate},
		{"a ref that is not a DNS label", func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{}
			a.Spec.Sources = multiSource()
			a.Spec.Sources[1].Ref = "Values_1"
		}, Options{}, "spec.sources[1].ref", field.ErrorTypeInvalid},
		{"nothing to render", func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{}
			a.Spec.Sources = multiSource()[1:]
		}, Options{}, "spec.sources", field.ErrorTypeRequired},
		{"a source of several without a repository", func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{}
			a.Spec.Sources = multiSource()
			a.Spec.Sources[1].RepoURL = ""
		}, Options{}, "spec.sources[1].repoURL", field.ErrorTypeRequired},
		{"too many sources", func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{}
			for range MaxSources + 1 {
				a.Spec.Sources = append(a.Spec.Sources, gitops.ApplicationSource{RepoURL: "https://git.example.com/r.git", Revision: "HEAD"})
			}
		}, Options{}, "spec.sources", field.ErrorTypeTooMany},
		{"chart with kustomize", func(a *gitops.Application) {
			a.Spec.Source = gitops.ApplicationSource{RepoURL: "https://charts.example.com", Chart: "nginx", Kustomize: &gitops.KustomizeSource{NamePrefix: "x-"}}
		}, Options{}, "spec.source.kustomize", field.ErrorTypeForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := validApp()
			tc.mutate(app)
			errs := ValidateApplication(app, tc.opts)
			if len(errs) == 0 {
				t.Fatalf("invalid Application accepted")
			}
			for _, e := range errs {
				if e.Field == tc.field && e.Type == tc.typ {
					if !strings.Contains(errs.ToAggregate().Error(), tc.field) {
						t.Errorf("message %q does not name %s", errs.ToAggregate().Error(), tc.field)
					}
					return
				}
			}
			t.Errorf("want a %s error on %s, got %v", tc.typ, tc.field, errs.ToAggregate())
		})
	}
}

func TestPasswordNeverEchoed(t *testing.T) {
	app := validApp()
	app.Spec.Source.RepoURL = "https://user:hunter2@example.com/r.git"
	errs := ValidateApplication(app, Options{})
	if len(errs) == 0 || strings.Contains(errs.ToAggregate().Error(), "hunter2") {
		t.Errorf("want an error that does not repeat the password, got %v", errs.ToAggregate())
	}
}

func TestValidateUpdateChecksTheNewSpec(t *testing.T) {
	old := validApp()
	old.ResourceVersion = "1"
	app := validApp()
	app.ResourceVersion = "1"
	app.Spec.Source.Path = "../escape"
	errs := ValidateApplicationUpdate(app, old, Options{})
	if len(errs) != 1 || errs[0].Field != "spec.source.path" {
		t.Errorf("want one error on spec.source.path, got %v", errs.ToAggregate())
	}
}

func TestValidateStatus(t *testing.T) {
	old := validApp()
	old.ResourceVersion = "1"
	app := old.DeepCopy()
	app.Status.Operation = &gitops.Operation{ID: "x", Phase: "Exploded"}
	app.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: "Maybe", Reason: "R", LastTransitionTime: metav1.Now()}}
	errs := ValidateApplicationStatusUpdate(app, old)
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	got := strings.Join(fields, ",")
	for _, want := range []string{"status.operation.phase", "status.conditions[0].status"} {
		if !strings.Contains(got, want) {
			t.Errorf("want an error on %s, got %v", want, errs.ToAggregate())
		}
	}
}

func TestValidateSync(t *testing.T) {
	ok := &gitops.ApplicationSync{Spec: gitops.ApplicationSyncSpec{Revision: "main", Resources: []gitops.SyncResource{{Kind: "ConfigMap", Name: "a"}}}}
	if errs := ValidateApplicationSync(ok, 1); len(errs) > 0 {
		t.Errorf("valid sync refused: %v", errs.ToAggregate())
	}
	// An Application of two sources syncs to a revision for each.
	both := &gitops.ApplicationSync{Spec: gitops.ApplicationSyncSpec{Revision: "0.3.1 " + strings.Repeat("ab", 20)}}
	if errs := ValidateApplicationSync(both, 2); len(errs) > 0 {
		t.Errorf("a revision per source refused: %v", errs.ToAggregate())
	}
	for _, rev := range []string{"main", "main  main", "main main main", "main bad:rev"} {
		sync := &gitops.ApplicationSync{Spec: gitops.ApplicationSyncSpec{Revision: rev}}
		if errs := ValidateApplicationSync(sync, 2); len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), "spec.revision") {
			t.Errorf("revision %q for two sources: want an error on spec.revision, got %v", rev, errs.ToAggregate())
		}
	}
	bad := &gitops.ApplicationSync{Spec: gitops.ApplicationSyncSpec{Revision: "bad rev", Resources: []gitops.SyncResource{{Name: "a"}}}}
	errs := ValidateApplicationSync(bad, 1)
	got := errs.ToAggregate().Error()
	for _, want := range []string{"spec.revision", "spec.resources[0].kind"} {
		if !strings.Contains(got, want) {
			t.Errorf("want an error on %s, got %s", want, got)
		}
	}
}
