package cluster

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
	"github.com/ferry-gitops/ferry/pkg/gitops/remote"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

const (
	ferryNamespace = "ferry-system"
	clusterName    = "prod"
	secretName     = "prod-creds"
	// token is Ferry's credential for the test cluster, oldToken one it no longer accepts; no
	// status or Event may show either.
	token    = "s3cr3t-t0ken-of-ferry"
	oldToken = "an-0ld-t0ken-of-ferry"
)

// apiServer is a TLS server on 127.0.0.1 answering the discovery requests of a probe as a
// kube-apiserver of version v1.37.2 does, to requests bearing token only.
func apiServer(t *testing.T) (*httptest.Server, []byte) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
				Reason: metav1.StatusReasonUnauthorized, Code: http.StatusUnauthorized, Message: "Unauthorized"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/version":
			_, _ = fmt.Fprint(w, `{"major":"1","minor":"37","gitVersion":"v1.37.2"}`)
		case "/api":
			_, _ = fmt.Fprint(w, `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}`)
		case "/apis":
			_, _ = fmt.Fprint(w, `{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return srv, ca
}

// fixture is the controller between a fake Ferry API and a fake Kubernetes API (Secrets,
// Events), its informers started and synced, feeding a real registry.
type fixture struct {
	t        *testing.T
	ferry    *fake.Clientset
	kube     *kubefake.Clientset
	registry *remote.Registry
	ctrl     *Controller

	mu      sync.Mutex
	changed []string
}

func newFixture(t *testing.T, ferryObjs []runtime.Object, kubeObjs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{t: t, registry: remote.NewRegistry(5, 10)}
	// The simple tracker: NewClientset's field-managed one has no schema for Ferry's types.
	f.ferry = fake.NewSimpleClientset(ferryObjs...)   //nolint:staticcheck
	f.kube = kubefake.NewSimpleClientset(kubeObjs...) //nolint:staticcheck
	f.ctrl = New(Config{Ferry: f.ferry, Kube: f.kube, Registry: f.registry, Namespace: ferryNamespace,
		OnChange: func(name string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.changed = append(f.changed, name)
		}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		f.ctrl.events.Shutdown()
	})
	f.ctrl.factory.Start(ctx.Done())
	f.ctrl.appsInf.Start(ctx.Done())
	f.ctrl.kubeInf.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), f.ctrl.synced...) {
		t.Fatal("the controller's caches did not sync")
	}
	return f
}

func cluster(server string, ca []byte) *gitopsv1alpha1.Cluster {
	return &gitopsv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: clusterName, Generation: 1},
		Spec: gitopsv1alpha1.ClusterSpec{Server: server, CABundle: ca,
			CredentialsRef: gitopsv1alpha1.LocalObjectReference{Name: secretName}},
	}
}

func credentials(tok string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: ferryNamespace, ResourceVersion: "1"},
		Data:       map[string][]byte{gitopsv1alpha1.ClusterTokenKey: []byte(tok)},
	}
}

// probe runs one reconcile of the cluster, as a worker does.
func (f *fixture) probe() {
	f.t.Helper()
	if _, err := f.ctrl.reconcile(f.t.Context(), clusterName); err != nil {
		f.t.Fatalf("reconcile: %v", err)
	}
}

func (f *fixture) stored() *gitopsv1alpha1.Cluster {
	f.t.Helper()
	cl, err := f.ferry.GitopsV1alpha1().Clusters().Get(f.t.Context(), clusterName, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return cl
}

func (f *fixture) ready() metav1.Condition {
	f.t.Helper()
	st := f.stored().Status
	c := meta.FindStatusCondition(st.Conditions, gitopsv1alpha1.ClusterConditionReady)
	if c == nil {
		f.t.Fatalf("the Cluster has no Ready condition; status: %+v", st)
	}
	return *c
}

// waitEvent waits for an Event of the Cluster with type, reason and a message containing text,
// then checks no Event and no status shows a token.
func (f *fixture) waitEvent(eventType, reason, text string) {
	f.t.Helper()
	var all []corev1.Event
	eventually.Until(f.t, 10*time.Second, 20*time.Millisecond, fmt.Sprintf("a %s Event %s %q", eventType, reason, text), func() (bool, string) {
		events, err := f.kube.CoreV1().Events("").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		all = events.Items
		var seen []string
		for _, e := range events.Items {
			if e.InvolvedObject.Name == clusterName && e.Type == eventType && e.Reason == reason && strings.Contains(e.Message, text) {
				return true, ""
			}
			seen = append(seen, e.Type+" "+e.Reason+": "+e.Message)
		}
		return false, strings.Join(seen, "; ")
	})
	status, _ := json.Marshal(f.stored().Status)
	for _, tok := range []string{token, oldToken} {
		for _, e := range all {
			if strings.Contains(e.Message, tok) {
				f.t.Errorf("an Event shows a token of Ferry's: %s", e.Message)
			}
		}
		if strings.Contains(string(status), tok) {
			f.t.Errorf("the Cluster's status shows a token of Ferry's: %s", status)
		}
	}
}

func (f *fixture) wasChanged() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.changed {
		if n == clusterName {
			return true
		}
	}
	return false
}

func TestAClusterAnsweringWithItsCredentialsIsReadyWithItsVersion(t *testing.T) {
	srv, ca := apiServer(t)
	remote := &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team-a"},
		Spec:       gitopsv1alpha1.ApplicationSpec{Destination: gitopsv1alpha1.ApplicationDestination{Cluster: clusterName}},
	}
	local := &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: "team-a"}}
	f := newFixture(t, []runtime.Object{cluster(srv.URL, ca), remote, local}, credentials(token))
	f.probe()

	c := f.ready()
	if c.Status != metav1.ConditionTrue || c.Reason != gitopsv1alpha1.ReasonClusterReachable || c.Message != "reached "+srv.URL {
		t.Errorf("Ready: %s %s %q, want True Reachable \"reached %s\"", c.Status, c.Reason, c.Message, srv.URL)
	}
	st := f.stored().Status
	if st.KubernetesVersion != "v1.37.2" || st.LastProbeTime == nil || st.ObservedGeneration != 1 {
		t.Errorf("status: version %q, last probe %v, observed generation %d; want v1.37.2, a probe time, 1", st.KubernetesVersion, st.LastProbeTime, st.ObservedGeneration)
	}
	if st.Applications != 1 {
		t.Errorf("status.applications %d, want 1 (web targets the cluster, local does not)", st.Applications)
	}
	// Applications can deploy there now, and were told to look again.
	if _, err := f.registry.Applier(clusterName); err != nil {
		t.Errorf("the registry refuses the Ready cluster: %v", err)
	}
	if !f.wasChanged() {
		t.Errorf("OnChange was not told of %s", clusterName)
	}
	f.waitEvent(corev1.EventTypeNormal, gitopsv1alpha1.ReasonClusterReachable, "Cluster is Ready: reached "+srv.URL)
}

func TestAClusterWhoseServerDoesNotAnswerIsUnreachable(t *testing.T) {
	// A port nothing listens on any more.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := "https://" + l.Addr().String()
	_ = l.Close()
	f := newFixture(t, []runtime.Object{cluster(server, nil)}, credentials(token))
	f.probe()

	c := f.ready()
	if c.Status != metav1.ConditionFalse || c.Reason != gitopsv1alpha1.ReasonClusterUnreachable || !strings.Contains(c.Message, "cannot reach") {
		t.Errorf("Ready: %s %s %q, want False Unreachable \"cannot reach ...\"", c.Status, c.Reason, c.Message)
	}
	if _, err := f.registry.Applier(clusterName); err == nil || !strings.Contains(err.Error(), "not Ready") {
		t.Errorf("the registry hands out an unreachable cluster: %v", err)
	}
	f.waitEvent(corev1.EventTypeWarning, gitopsv1alpha1.ReasonClusterUnreachable, "Cluster is not Ready: cannot reach")
}

func TestAClusterRefusingFerrysTokenIsUnauthorized(t *testing.T) {
	srv, ca := apiServer(t)
	f := newFixture(t, []runtime.Object{cluster(srv.URL, ca)}, credentials(oldToken))
	f.probe()

	c := f.ready()
	if c.Status != metav1.ConditionFalse || c.Reason != gitopsv1alpha1.ReasonClusterUnauthorized || !strings.Contains(c.Message, "401 Unauthorized") {
		t.Errorf("Ready: %s %s %q, want False Unauthorized saying 401", c.Status, c.Reason, c.Message)
	}
	f.waitEvent(corev1.EventTypeWarning, gitopsv1alpha1.ReasonClusterUnauthorized, "401 Unauthorized")
}

func TestAClusterWhoseSecretIsMissingHasACredentialsError(t *testing.T) {
	srv, ca := apiServer(t)
	f := newFixture(t, []runtime.Object{cluster(srv.URL, ca)})
	f.probe()

	c := f.ready()
	want := "the Secret ferry-system/prod-creds of spec.credentialsRef does not exist"
	if c.Status != metav1.ConditionFalse || c.Reason != gitopsv1alpha1.ReasonClusterCredentialsError || !strings.Contains(c.Message, want) {
		t.Errorf("Ready: %s %s %q, want False CredentialsError %q", c.Status, c.Reason, c.Message, want)
	}
	if _, err := f.registry.Applier(clusterName); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("the registry says %v, want the cluster not Ready because %q", err, want)
	}
	f.waitEvent(corev1.EventTypeWarning, gitopsv1alpha1.ReasonClusterCredentialsError, want)
}

func TestARemovedClusterIsForgotten(t *testing.T) {
	srv, ca := apiServer(t)
	f := newFixture(t, nil, credentials(token))
	// The registry knows the cluster from before; its Cluster object is gone.
	conn, err := remote.ConnectionFor(cluster(srv.URL, ca).Spec, credentials(token).Data)
	if err != nil {
		t.Fatal(err)
	}
	f.registry.Set(clusterName, conn)
	f.probe()

	if names := f.registry.Names(); len(names) != 0 {
		t.Errorf("the registry still knows %v", names)
	}
	if !f.wasChanged() {
		t.Errorf("OnChange was not told %s went", clusterName)
	}
}

func TestARotatedTokenIsUsedAtOnce(t *testing.T) {
	srv, ca := apiServer(t)
	f := newFixture(t, []runtime.Object{cluster(srv.URL, ca)}, credentials(oldToken))
	f.probe()
	if c := f.ready(); c.Reason != gitopsv1alpha1.ReasonClusterUnauthorized {
		t.Fatalf("Ready with the old token: %s %s %q, want Unauthorized", c.Status, c.Reason, c.Message)
	}

	// The administrator puts the new token in the Secret; the API server gives it a new version.
	rotated := credentials(token)
	rotated.ResourceVersion = "2"
	if _, err := f.kube.CoreV1().Secrets(ferryNamespace).Update(t.Context(), rotated, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.Until(t, 10*time.Second, 10*time.Millisecond, "the controller sees the new Secret", func() (bool, string) {
		s, err := f.ctrl.secrets.Get(secretName)
		if err != nil {
			return false, err.Error()
		}
		return s.ResourceVersion == "2", "resourceVersion " + s.ResourceVersion
	})
	// Well within the probe interval: the new Secret alone makes the controller probe again.
	f.probe()

	if c := f.ready(); c.Status != metav1.ConditionTrue || c.Reason != gitopsv1alpha1.ReasonClusterReachable {
		t.Errorf("Ready with the new token: %s %s %q, want True Reachable", c.Status, c.Reason, c.Message)
	}
	f.waitEvent(corev1.EventTypeNormal, gitopsv1alpha1.ReasonClusterReachable, "Cluster is Ready")
}

func TestACorrectedCABundleIsUsedAtOnce(t *testing.T) {
	srv, ca := apiServer(t)
	// No caBundle: the system's roots, which did not sign the server's certificate.
	f := newFixture(t, []runtime.Object{cluster(srv.URL, nil)}, credentials(token))
	f.probe()
	if c := f.ready(); c.Status != metav1.ConditionFalse || c.Reason != gitopsv1alpha1.ReasonClusterUnreachable || !strings.Contains(c.Message, "certificate") {
		t.Fatalf("Ready without the server's CA: %s %s %q, want False Unreachable about the certificate", c.Status, c.Reason, c.Message)
	}

	// The administrator corrects spec.caBundle; the API server counts a new generation.
	fixed := f.stored()
	fixed.Spec.CABundle = ca
	fixed.Generation = 2
	if _, err := f.ferry.GitopsV1alpha1().Clusters().Update(t.Context(), fixed, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.Until(t, 10*time.Second, 10*time.Millisecond, "the controller sees the new spec", func() (bool, string) {
		cl, err := f.ctrl.clusters.Get(clusterName)
		if err != nil {
			return false, err.Error()
		}
		return cl.Generation == 2, fmt.Sprintf("generation %d", cl.Generation)
	})
	f.probe()

	if c := f.ready(); c.Status != metav1.ConditionTrue || c.Reason != gitopsv1alpha1.ReasonClusterReachable || c.ObservedGeneration != 2 {
		t.Errorf("Ready with the right CA: %s %s %q (generation %d), want True Reachable for generation 2", c.Status, c.Reason, c.Message, c.ObservedGeneration)
	}
}
