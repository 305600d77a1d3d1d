package application_test

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/rest"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/apiserver"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
	"github.com/ferry-gitops/ferry/pkg/tenancy"
)

// grants is an authorizer that allows exactly the listed "user verb resource namespace/name".
// The end-to-end tests ask the real kube-apiserver; this one keeps the registry's own rules in
// view.
type grants map[string]bool

func (g grants) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if g[a.GetUser().GetName()+" "+a.GetVerb()+" "+a.GetResource()+" "+a.GetNamespace()+"/"+a.GetName()] {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no RBAC policy matched", nil
}

func newCheckedStorage(t *testing.T, allowed grants, policy tenancy.Policy) application.Storage {
	t.Helper()
	server, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	t.Cleanup(func() { server.Terminate(t) })
	config.Codec = apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	st, err := application.NewStorage(apiserver.Scheme, restOptionsGetter{config}, application.Options{
		References: &application.ReferenceAuthorizer{Authorizer: authorizer.AuthorizerFunc(allowed.Authorize), Tenancy: policy},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Application.DestroyFunc)
	return st
}

func createAs(st application.Storage, who string, app *gitops.Application, dryRun bool) error {
	opts := &metav1.CreateOptions{}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err := st.Application.Create(ctxFor(app.Namespace, &user.DefaultInfo{Name: who}), app, rest.ValidateAllObjectFunc, opts)
	return err
}

func updateAs(st application.Storage, who string, app *gitops.Application) error {
	_, _, err := st.Application.Update(ctxFor(app.Namespace, &user.DefaultInfo{Name: who}), app.Name, rest.DefaultUpdatedObjectInfo(app),
		rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	return err
}

// wantForbidden checks a 403 whose message names the field and says why.
func wantForbidden(t *testing.T, err error, what string, parts ...string) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Fatalf("%s: want 403 Forbidden, got %v", what, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: the refusal does not say %q: %v", what, p, err)
		}
	}
}

func wantNotStored(t *testing.T, st application.Storage, namespace, name string) {
	t.Helper()
	if _, err := st.Application.Get(ctxFor(namespace, nil), name, &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("%s/%s was stored after a refusal: %v", namespace, name, err)
	}
}

// TestWritingAnApplicationNeedsTheRightToActAsItsServiceAccount: an Application acting as a
// ServiceAccount is stored only for a user allowed to impersonate it, on create, on a dry run,
// and on any change of the spec; a change of metadata alone is not checked.
func TestWritingAnApplicationNeedsTheRightToActAsItsServiceAccount(t *testing.T) {
	st := newCheckedStorage(t, grants{"alice impersonate serviceaccounts team-a/deployer": true}, tenancy.Policy{})
	app := validApplication("team-a", "web")
	app.Spec.ServiceAccountName = "deployer"

	for _, dryRun := range []bool{true, false} {
		err := createAs(st, "bob", app.DeepCopy(), dryRun)
		wantForbidden(t, err, "bob creates an Application acting as deployer",
			`spec.serviceAccountName: Forbidden: user "bob" may not impersonate serviceaccount team-a/deployer`)
	}
	wantNotStored(t, st, "team-a", "web")

	if err := createAs(st, "alice", app.DeepCopy(), false); err != nil {
		t.Fatalf("alice, who may impersonate deployer: %v", err)
	}
	stored := get(t, st, "team-a", "web")

	changed := stored.DeepCopy()
	changed.Spec.Source.Path = "apps/anything-bob-likes"
	wantForbidden(t, updateAs(st, "bob", changed), "bob changes the path of an Application acting as deployer", "spec.serviceAccountName")
	if got := get(t, st, "team-a", "web"); got.Spec.Source.Path != "apps/x" {
		t.Errorf("a refused update changed the path to %q", got.Spec.Source.Path)
	}
	relabelled := stored.DeepCopy()
	relabelled.Labels["owner"] = "bob"
	if err := updateAs(st, "bob", relabelled); err != nil {
		t.Errorf("a change of labels alone needs no right on the ServiceAccount: %v", err)
	}
	other := get(t, st, "team-a", "web")
	other.Spec.ServiceAccountName = "cluster-deployer"
	wantForbidden(t, updateAs(st, "alice", other), "alice switches to another ServiceAccount",
		`may not impersonate serviceaccount team-a/cluster-deployer`)
}

// TestTheDefaultServiceAccountIsCheckedToo: with a default ServiceAccount, an Application that
// names none needs the right to act as it, except in a privileged namespace.
func TestTheDefaultServiceAccountIsCheckedToo(t *testing.T) {
	st := newCheckedStorage(t, grants{"alice impersonate serviceaccounts team-a/default": true},
		tenancy.Policy{DefaultServiceAccount: "default", PrivilegedNamespaces: []string{"ferry-system"}})
	wantForbidden(t, createAs(st, "bob", validApplication("team-a", "web"), false), "bob, no ServiceAccount named",
		`user "bob" may not impersonate serviceaccount team-a/default (an Application that names none acts as "default" of its namespace)`)
	if err := createAs(st, "alice", validApplication("team-a", "web"), false); err != nil {
		t.Errorf("alice may act as team-a/default: %v", err)
	}
	// Who may write Applications in a privileged namespace is RBAC's business alone.
	if err := createAs(st, "bob", validApplication("ferry-system", "platform"), false); err != nil {
		t.Errorf("an Application acting as Ferry in a privileged namespace: %v", err)
	}
}

// TestCredentialsAreSentOnlyWhereTheirReaderSays: naming a credentials Secret needs get on it,
// and so does pointing an Application that holds one at another repository.
func TestCredentialsAreSentOnlyWhereTheirReaderSays(t *testing.T) {
	st := newCheckedStorage(t, grants{"alice get secrets team-a/git-token": true}, tenancy.Policy{})
	app := validApplication("team-a", "private")
	app.Spec.Source.CredentialsRef = &gitops.LocalObjectReference{Name: "git-token"}

	wantForbidden(t, createAs(st, "bob", app.DeepCopy(), false), "bob names a Secret he may not read",
		`spec.source.credentialsRef.name: Forbidden: user "bob" may not get secret team-a/git-token`, "https://git.example.com/org/repo.git")
	wantNotStored(t, st, "team-a", "private")
	if err := createAs(st, "alice", app.DeepCopy(), false); err != nil {
		t.Fatalf("alice, who may read the Secret: %v", err)
	}

	stolen := get(t, st, "team-a", "private")
	stolen.Spec.Source.RepoURL = "https://attacker.example.com/collect.git"
	wantForbidden(t, updateAs(st, "bob", stolen), "bob points the Application at his own server",
		"spec.source.credentialsRef.name", "https://attacker.example.com/collect.git")
	if got := get(t, st, "team-a", "private"); got.Spec.Source.RepoURL != "https://git.example.com/org/repo.git" {
		t.Errorf("the refused update changed repoURL to %s", got.Spec.Source.RepoURL)
	}
	retagged := get(t, st, "team-a", "private")
	retagged.Spec.Source.Revision = "v2"
	if err := updateAs(st, "bob", retagged); err != nil {
		t.Errorf("another revision of the same repository sends the credentials nowhere new: %v", err)
	}
}

// TestCredentialsGoingToAnotherChartOrHostNeedTheirReader: with credentialsRef set, changing the
// chart (in spec.source or in spec.sources) or turning on helm.passCredentials sends the Secret's
// token somewhere new (another chart's host, or every host a chart or dependency is downloaded
// from), so the writer must be allowed to get the Secret: refused 403 naming the field, and
// nothing stored. Its reader may; a change that sends it nowhere new needs nothing.
func TestCredentialsGoingToAnotherChartOrHostNeedTheirReader(t *testing.T) {
	st := newCheckedStorage(t, grants{"alice get secrets team-a/chart-token": true}, tenancy.Policy{})
	chartApp := func(name string, multi bool) *gitops.Application {
		app := validApplication("team-a", name)
		src := gitops.ApplicationSource{RepoURL: "https://charts.example.com", Chart: "web", Revision: "1.2.0",
			CredentialsRef: &gitops.LocalObjectReference{Name: "chart-token"}}
		if multi {
			app.Spec.Source = gitops.ApplicationSource{}
			app.Spec.Sources = []gitops.ApplicationSource{src}
		} else {
			app.Spec.Source = src
		}
		return app
	}
	for _, multi := range []bool{false, true} {
		name, at := "single", func(a *gitops.Application) *gitops.ApplicationSource { return &a.Spec.Source }
		prefix := "spec.source"
		if multi {
			name, at, prefix = "multi", func(a *gitops.Application) *gitops.ApplicationSource { return &a.Spec.Sources[0] }, "spec.sources[0]"
		}
		if err := createAs(st, "alice", chartApp(name, multi), false); err != nil {
			t.Fatalf("alice, who may read the Secret: %v", err)
		}

		rechart := get(t, st, "team-a", name)
		at(rechart).Chart = "collector"
		wantForbidden(t, updateAs(st, "bob", rechart), "bob changes "+prefix+".chart",
			prefix+`.chart: Forbidden: user "bob" may not get secret team-a/chart-token`, "chart collector")

		passOn := get(t, st, "team-a", name)
		at(passOn).Helm = &gitops.HelmSource{PassCredentials: true}
		wantForbidden(t, updateAs(st, "bob", passOn), "bob turns on "+prefix+".helm.passCredentials",
			prefix+`.helm.passCredentials: Forbidden: user "bob" may not get secret team-a/chart-token`, "every host")

		if got := at(get(t, st, "team-a", name)); got.Chart != "web" || got.Helm != nil && got.Helm.PassCredentials {
			t.Errorf("%s: a refused update was stored: chart %q, helm %+v", name, got.Chart, got.Helm)
		}
		if err := updateAs(st, "alice", passOn); err != nil {
			t.Errorf("%s: alice, who may read the Secret, turns on passCredentials: %v", name, err)
		}
		bumped := get(t, st, "team-a", name)
		at(bumped).Revision = "1.3.0"
		if err := updateAs(st, "bob", bumped); err != nil {
			t.Errorf("%s: another version of the same chart sends the credentials nowhere new: %v", name, err)
		}
	}
}

// TestDecryptionKeysAreUsedOnlyByTheirReaders: naming spec.decryption's Secret needs get on it,
// and so does sending what it decrypts elsewhere (another path, another namespace); a change
// that moves nothing, such as suspending, does not.
func TestDecryptionKeysAreUsedOnlyByTheirReaders(t *testing.T) {
	st := newCheckedStorage(t, grants{"alice get secrets team-a/sops-age": true}, tenancy.Policy{})
	app := validApplication("team-a", "secrets")
	app.Spec.Decryption = &gitops.Decryption{Provider: gitops.DecryptionProviderSOPS, SecretRef: &gitops.LocalObjectReference{Name: "sops-age"}}

	for _, dryRun := range []bool{true, false} {
		wantForbidden(t, createAs(st, "bob", app.DeepCopy(), dryRun), "bob names keys he may not read",
			`spec.decryption.secretRef.name: Forbidden: user "bob" may not get secret team-a/sops-age`)
	}
	wantNotStored(t, st, "team-a", "secrets")
	if err := createAs(st, "alice", app.DeepCopy(), false); err != nil {
		t.Fatalf("alice, who may read the keys: %v", err)
	}

	moved := get(t, st, "team-a", "secrets")
	moved.Spec.Destination.Namespace = "bobs-namespace"
	wantForbidden(t, updateAs(st, "bob", moved), "bob sends the decrypted Secrets to his namespace", "spec.decryption.secretRef.name")
	if got := get(t, st, "team-a", "secrets"); got.Spec.Destination.Namespace != "" {
		t.Errorf("the refused update changed the destination to %q", got.Spec.Destination.Namespace)
	}
	suspended := get(t, st, "team-a", "secrets")
	suspended.Spec.Suspend = true
	if err := updateAs(st, "bob", suspended); err != nil {
		t.Errorf("suspending decrypts nothing new: %v", err)
	}
}

// TestDeployingToAClusterNeedsUseOnIt: naming spec.destination.cluster needs the verb use on
// that Cluster, on create and on every change of the spec, and a user allowed one Cluster is
// refused another.
func TestDeployingToAClusterNeedsUseOnIt(t *testing.T) {
	st := newCheckedStorage(t, grants{"alice use clusters /staging": true}, tenancy.Policy{})
	app := validApplication("team-a", "web")
	app.Spec.Destination.Cluster = "staging"

	wantForbidden(t, createAs(st, "bob", app.DeepCopy(), true), "bob targets staging (dry run)",
		`spec.destination.cluster: Forbidden: user "bob" may not use cluster "staging"`)
	wantForbidden(t, createAs(st, "bob", app.DeepCopy(), false), "bob targets staging",
		`spec.destination.cluster: Forbidden: user "bob" may not use cluster "staging"`, "resourceNames: [staging]")
	wantNotStored(t, st, "team-a", "web")
	if err := createAs(st, "alice", app.DeepCopy(), false); err != nil {
		t.Fatalf("alice, who may use staging: %v", err)
	}
	changed := get(t, st, "team-a", "web")
	changed.Spec.Source.Path = "apps/bobs"
	wantForbidden(t, updateAs(st, "bob", changed), "bob changes what is deployed to staging", "spec.destination.cluster")
	prod := get(t, st, "team-a", "web")
	prod.Spec.Destination.Cluster = "prod"
	wantForbidden(t, updateAs(st, "alice", prod), "alice moves the Application to prod", `may not use cluster "prod"`)
	if got := get(t, st, "team-a", "web"); got.Spec.Destination.Cluster != "staging" || got.Spec.Source.Path != "apps/x" {
		t.Errorf("a refused update changed the spec: %+v", got.Spec)
	}
}
