package image_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/install"
	"github.com/ferry-gitops/ferry/pkg/servingcert"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// serviceAccountDir is where the kubelet mounts a pod's ServiceAccount token.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// TestTheImageRunsAsTheManifestsRunIt starts the server from the image's layer with exactly the
// container of kubectl ferry install's manifests — its args, env, user, volumes and their
// mountPaths, read-only root filesystem and working directory — in both etcd modes, against a
// real kube-apiserver with the manifests' RBAC applied. It must answer /readyz and sync an
// Application from Git, which writes to etcd's data, the Git cache and TMPDIR: a path the
// manifests leave outside their volumes fails here as it would in a cluster. The one change to
// the container: it binds 127.0.0.1 on a free port, since it shares the host's network.
func TestTheImageRunsAsTheManifestsRunIt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the image and starts a control plane")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: it mounts the pod's volumes into the image's root filesystem in a mount namespace, as a container runtime does")
	}
	img := buildImageOnly(t, t.TempDir())
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}

	stack, err := localstack.Start(localstack.Options{NoNode: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Stop)
	admin := stack.RestConfig("admin")
	kube := kubernetes.NewForConfigOrDie(admin)
	cluster := install.Cluster{
		Dynamic: dynamic.NewForConfigOrDie(admin),
		Mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(admin))),
		Out:     testWriter{t},
	}

	// A kustomize application as users write them: a generated ConfigMap, a Deployment and a
	// Service.
	git := gittest.NewServer(t)
	repo := git.NewRepo("shop")
	sha := repo.Commit("main", map[string]string{
		"shop/kustomization.yaml": "resources: [deployment.yaml, service.yaml]\nconfigMapGenerator:\n- name: shop-config\n  literals: [CURRENCY=EUR, PAGE_SIZE=25]\n",
		"shop/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers:
      - name: shop
        image: registry.example.com/shop:1.4.2
        ports: [{containerPort: 8080}]
        envFrom: [{configMapRef: {name: shop-config}}]
`,
		"shop/service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: shop}\nspec:\n  selector: {app: shop}\n  ports: [{port: 80, targetPort: 8080}]\n",
	}, "the shop")

	for _, mode := range []struct {
		name string
		opts install.Options
	}{
		{"etcd embedded", install.Options{}},
		{"etcd external", etcdExternal(t, stack, install.Options{})},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			serving, err := install.NewServingCert()
			if err != nil {
				t.Fatal(err)
			}
			opts := mode.opts
			opts.Image, opts.Serving = "ferry-apiserver:"+version, serving
			objs, err := install.Render(opts)
			if err != nil {
				t.Fatal(err)
			}
			// Everything but the APIService: kube-apiserver cannot route to a process outside a
			// pod, and the server is reached directly here.
			var toApply []*unstructured.Unstructured
			for _, o := range objs {
				if o.GetKind() != "APIService" {
					toApply = append(toApply, o)
				}
			}
			if err := cluster.Apply(ctx, toApply, false); err != nil {
				t.Fatalf("applying the manifests: %v", err)
			}

			r := startReplica(t, ctx, img, cfg, objs, kube, stack)
			port, spec, stop := r.port, r.spec, r.stop
			waitReady(t, ctx, r, serving.CA)

			// Sync an Application through the server itself, as the admin user.
			appNS := "shop-" + opts.Mode()
			if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appNS}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			ferry := versioned.NewForConfigOrDie(&rest.Config{
				Host:            "https://127.0.0.1:" + strconv.Itoa(port),
				BearerToken:     admin.BearerToken,
				TLSClientConfig: rest.TLSClientConfig{CAData: serving.CA, ServerName: install.ServiceDNSName},
				Timeout:         30 * time.Second,
			})
			var app gitopsv1alpha1.Application
			if err := yaml.Unmarshal(fmt.Appendf(nil, `
metadata: {name: shop, namespace: %s}
spec:
  source: {repoURL: %q, revision: main, path: shop}
  destination: {namespace: %s}
  syncPolicy: {automated: {prune: true}}
`, install.Namespace, repo.URL(), appNS), &app); err != nil {
				t.Fatal(err)
			}
			if _, err := ferry.GitopsV1alpha1().Applications(install.Namespace).Create(ctx, &app, metav1.CreateOptions{}); err != nil {
				t.Fatalf("creating an Application on the server from the image: %v\n%s", err, r.logTail(40))
			}
			eventually.Until(t, 3*time.Minute, 500*time.Millisecond, "the Application Synced to "+sha, func() (bool, string) {
				got, err := ferry.GitopsV1alpha1().Applications(install.Namespace).Get(ctx, "shop", metav1.GetOptions{})
				if err != nil {
					return false, err.Error() + "\n" + r.logTail(40)
				}
				ok := got.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && got.Status.Sync.Revision == sha
				return ok, fmt.Sprintf("%+v\n%s", got.Status, r.logTail(40))
			})
			dep, err := kube.AppsV1().Deployments(appNS).Get(ctx, "shop", metav1.GetOptions{})
			if err != nil || *dep.Spec.Replicas != 2 || dep.Spec.Template.Spec.Containers[0].Image != "registry.example.com/shop:1.4.2" {
				t.Fatalf("the synced Deployment: %v, %v", dep, err)
			}

			// Each volume holds what it is for.
			stop()
			nonEmpty := func(mountPath string) {
				t.Helper()
				for _, m := range spec.Mounts {
					if m.Target == mountPath {
						entries, err := os.ReadDir(m.Source)
						if err != nil || len(entries) == 0 {
							t.Errorf("the volume at %s is empty after a sync (%v)", mountPath, err)
						}
						return
					}
				}
				t.Errorf("no volume at %s", mountPath)
			}
			nonEmpty("/var/cache/ferry/git")
			if opts.Mode() == install.EtcdEmbedded {
				nonEmpty("/var/lib/ferry")
			}
		})
	}

	// The manifests of an external etcd as kubectl ferry install --export writes them for an etcd
	// that takes TLS clients only (install-external-etcd.yaml of make release plus the etcd
	// client Secret and flags): no key and no caBundle in them. Two replicas start together
	// against the external etcd; they must agree on one certificate, store it in the Secret and
	// set the APIService's caBundle to its CA. A restart keeps it.
	t.Run("install.yaml, two replicas make one certificate", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		objs, err := install.Render(etcdExternal(t, stack, install.Options{Image: "ferry-apiserver:" + version, ServerMakesCert: true}))
		if err != nil {
			t.Fatal(err)
		}
		// The cases above installed a certificate of the installer's: this installation starts
		// without one.
		if err := kube.CoreV1().Secrets(install.Namespace).Delete(ctx, install.ServingSecret, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		if err := cluster.Apply(ctx, objs, false); err != nil {
			t.Fatalf("applying install.yaml: %v", err)
		}
		replicas := []*replica{
			startReplica(t, ctx, img, cfg, objs, kube, stack),
			startReplica(t, ctx, img, cfg, objs, kube, stack),
		}
		var stored *corev1.Secret
		eventually.Until(t, 2*time.Minute, 200*time.Millisecond, "the Secret "+install.ServingSecret, func() (bool, string) {
			s, err := kube.CoreV1().Secrets(install.Namespace).Get(ctx, install.ServingSecret, metav1.GetOptions{})
			if err != nil {
				return false, err.Error() + "\n" + replicas[0].logTail(40)
			}
			stored = s
			return true, ""
		})
		ca := stored.Data["ca.crt"]
		// Each replica serves a certificate of that CA, for the Service's name.
		for _, r := range replicas {
			waitReady(t, ctx, r, ca)
		}
		got, err := cluster.Dynamic.Resource(servingcert.APIServices).Get(ctx, install.APIServiceName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if bundle, _, _ := unstructured.NestedString(got.Object, "spec", "caBundle"); bundle != base64.StdEncoding.EncodeToString(ca) {
			t.Errorf("the APIService's caBundle is not the CA of Secret %s", install.ServingSecret)
		}

		replicas[0].stop()
		again := startReplica(t, ctx, img, cfg, objs, kube, stack)
		waitReady(t, ctx, again, ca)
		after, err := kube.CoreV1().Secrets(install.Namespace).Get(ctx, install.ServingSecret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if after.ResourceVersion != stored.ResourceVersion {
			t.Errorf("a restart replaced the serving certificate (resourceVersion %s, then %s)", stored.ResourceVersion, after.ResourceVersion)
		}
	})
}

// replica is one server started from the image as the manifests' pod.
type replica struct {
	server *sandboxed
	port   int
	spec   sandboxSpec
	// logTail is the end of the server's log.
	logTail func(lines int) string
	stop    func()
}

// startReplica starts the server of objs from the image, as the kubelet would start its pod.
func startReplica(t *testing.T, ctx context.Context, img v1.Image, cfg *v1.ConfigFile, objs []*unstructured.Unstructured, kube kubernetes.Interface, stack *localstack.Stack) *replica {
	t.Helper()
	r := &replica{port: freePort(t)}
	logFile, err := os.Create(filepath.Join(t.TempDir(), "ferry-apiserver.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	r.logTail = func(lines int) string { return localstack.TailFile(logFile.Name(), lines) }
	r.spec = sandboxFor(t, ctx, img, cfg, podOf(t, objs), objs, kube, stack, r.port)
	r.server = startSandboxed(t, r.spec, logFile)
	stopped := false
	r.stop = func() {
		if !stopped && !r.server.stop(30*time.Second) {
			t.Errorf("ferry-apiserver did not stop within 30s of SIGTERM")
		}
		stopped = true
	}
	t.Cleanup(r.stop)
	return r
}

// etcdExternal is o with the stack's etcd as an external etcd: its https:// URL, its CA and
// Ferry's client certificate, as kubectl ferry install --etcd-servers --etcd-ca-file
// --etcd-cert-file --etcd-key-file reads them.
func etcdExternal(t *testing.T, stack *localstack.Stack, o install.Options) install.Options {
	t.Helper()
	o.EtcdServers = []string{stack.EtcdURL()}
	ca, cert, key := stack.FerryEtcdClientFiles()
	for file, into := range map[string]*[]byte{ca: &o.EtcdCA, cert: &o.EtcdCert, key: &o.EtcdKey} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		*into = data
	}
	return o
}

// pod is the server's pod template, as the manifests give it.
type pod struct {
	workload  *unstructured.Unstructured
	spec      corev1.PodSpec
	container corev1.Container
	claims    []corev1.PersistentVolumeClaim
}

func podOf(t *testing.T, objs []*unstructured.Unstructured) pod {
	t.Helper()
	for _, o := range objs {
		if (o.GetKind() == "StatefulSet" || o.GetKind() == "Deployment") && o.GetName() == install.ServerName {
			p := pod{workload: o}
			tmpl, _, _ := unstructured.NestedMap(o.Object, "spec", "template", "spec")
			if err := runtimeConvert(tmpl, &p.spec); err != nil {
				t.Fatal(err)
			}
			claims, _, _ := unstructured.NestedSlice(o.Object, "spec", "volumeClaimTemplates")
			if err := runtimeConvert(claims, &p.claims); err != nil {
				t.Fatal(err)
			}
			if len(p.spec.Containers) != 1 {
				t.Fatalf("the server's pod has %d containers", len(p.spec.Containers))
			}
			p.container = p.spec.Containers[0]
			return p
		}
	}
	t.Fatal("the manifests have no server workload")
	return pod{}
}

func runtimeConvert(in, out any) error {
	b, err := yaml.Marshal(in)
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(b, out)
}

// sandboxFor lays out the container's filesystem: the image's layer as root, and a directory
// for each volume the container mounts, filled as the kubelet fills it.
func sandboxFor(t *testing.T, ctx context.Context, img v1.Image, cfg *v1.ConfigFile, p pod, objs []*unstructured.Unstructured, kube kubernetes.Interface, stack *localstack.Stack, port int) sandboxSpec {
	t.Helper()
	sc, csc := p.spec.SecurityContext, p.container.SecurityContext
	if sc == nil || sc.RunAsUser == nil || sc.RunAsGroup == nil || sc.FSGroup == nil || csc == nil {
		t.Fatal("the server's pod sets no user, group or fsGroup")
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Fatal("the server's container does not keep its root filesystem read-only")
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || *sc.RunAsUser == 0 {
		t.Fatal("the server's pod may run as root")
	}
	uid, gid, fsGroup := int(*sc.RunAsUser), int(*sc.RunAsGroup), int(*sc.FSGroup)
	if cfg.Config.User != fmt.Sprintf("%d:%d", uid, gid) {
		t.Errorf("the image's user %q is not the manifests' %d:%d", cfg.Config.User, uid, gid)
	}

	dir := t.TempDir()
	// The root must be traversable by the server's user, as the layer's directories are.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	extractLayers(t, img, root)
	volumeDir := func(name string) string {
		d := filepath.Join(dir, "volumes", name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// What the kubelet does with fsGroup: the volume is the group's, writable by it.
	writableByGroup := func(d string) {
		if err := os.Chown(d, 0, fsGroup); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o2775); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles := func(d string, files map[string][]byte) {
		writableByGroup(d)
		for name, data := range files {
			f := filepath.Join(d, name)
			if err := os.WriteFile(f, data, 0o640); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(f, 0, fsGroup); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(d, 0o2755); err != nil { // secret volumes are read-only to the pod
			t.Fatal(err)
		}
	}
	secretData := func(name string) (map[string][]byte, bool) {
		for _, o := range objs {
			if o.GetKind() == "Secret" && o.GetName() == name {
				data := map[string][]byte{}
				encoded, _, _ := unstructured.NestedStringMap(o.Object, "data")
				for k, v := range encoded {
					b, err := base64.StdEncoding.DecodeString(v)
					if err != nil {
						t.Fatal(err)
					}
					data[k] = b
				}
				return data, true
			}
		}
		return nil, false
	}

	var mounts []sandboxMount
	for _, vm := range p.container.VolumeMounts {
		if vm.SubPath != "" || !path.IsAbs(vm.MountPath) {
			t.Fatalf("volumeMount %s: only whole volumes at absolute paths are supported here", vm.Name)
		}
		src := volumeDir(vm.Name)
		var vol *corev1.Volume
		for i := range p.spec.Volumes {
			if p.spec.Volumes[i].Name == vm.Name {
				vol = &p.spec.Volumes[i]
			}
		}
		switch {
		case vol != nil && vol.EmptyDir != nil:
			writableByGroup(src)
		case vol != nil && vol.Secret != nil:
			data, ok := secretData(vol.Secret.SecretName)
			if !ok && (vol.Secret.Optional == nil || !*vol.Secret.Optional) {
				t.Fatalf("volume %s: the manifests have no Secret %s", vm.Name, vol.Secret.SecretName)
			}
			writeFiles(src, data)
		case vol == nil && hasClaim(p.claims, vm.Name):
			writableByGroup(src)
		default:
			t.Fatalf("volume %s: a kind of volume this test does not lay out", vm.Name)
		}
		mounts = append(mounts, sandboxMount{Source: src, Target: vm.MountPath, ReadOnly: vm.ReadOnly})
	}

	// The ServiceAccount's token, as the kubelet mounts it into every pod.
	saName := p.spec.ServiceAccountName
	token, err := kube.CoreV1().ServiceAccounts(install.Namespace).CreateToken(ctx, saName,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("a token for ServiceAccount %s/%s: %v", install.Namespace, saName, err)
	}
	kubeCA, err := os.ReadFile(stack.RestConfig("admin").CAFile)
	if err != nil {
		t.Fatal(err)
	}
	sa := volumeDir("kube-api-access")
	writeFiles(sa, map[string][]byte{"token": []byte(token.Status.Token), "ca.crt": kubeCA, "namespace": []byte(install.Namespace)})
	mounts = append(mounts, sandboxMount{Source: sa, Target: serviceAccountDir, ReadOnly: true})

	for _, m := range append(mounts, sandboxMount{Target: "/proc"}, sandboxMount{Target: "/dev"}) {
		if err := os.MkdirAll(filepath.Join(root, m.Target), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	argv := append([]string{}, cfg.Config.Entrypoint...)
	if len(p.container.Command) > 0 {
		argv = append([]string{}, p.container.Command...)
	}
	argv = append(argv, p.container.Args...)
	// The test's Git server is on 127.0.0.1, which the egress policy denies by default (in a
	// pod, loopback is the pod itself).
	argv = append(argv, "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(port), "--egress-allow-cidrs=127.0.0.1/32")

	env := append([]string{}, cfg.Config.Env...)
	for _, e := range p.container.Env {
		if e.ValueFrom != nil {
			t.Fatalf("env %s: valueFrom is not laid out by this test", e.Name)
		}
		env = append(env, e.Name+"="+e.Value)
	}
	env = append(env, "HOSTNAME="+install.ServerName+"-0",
		"KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT="+stack.Env["KUBE_PORT"])

	workDir := cfg.Config.WorkingDir
	if p.container.WorkingDir != "" {
		workDir = p.container.WorkingDir
	}
	if workDir == "" {
		workDir = "/"
	}
	return sandboxSpec{Root: root, Mounts: mounts, UID: uid, GID: gid, Dir: workDir, Argv: argv, Env: env}
}

func hasClaim(claims []corev1.PersistentVolumeClaim, name string) bool {
	for _, c := range claims {
		if c.Name == name {
			return true
		}
	}
	return false
}

// waitReady polls /readyz without credentials, as the kubelet's probe does, verifying the
// serving certificate against the APIService's CA and the Service's name.
func waitReady(t *testing.T, ctx context.Context, r *replica, ca []byte) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: install.ServiceDNSName}}}
	url := "https://127.0.0.1:" + strconv.Itoa(r.port) + "/readyz"
	start, lastReport := time.Now(), time.Now()
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			body := new(bytes.Buffer)
			_, _ = body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("/readyz answered 200 %s after start", time.Since(start).Round(100*time.Millisecond))
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		select {
		case <-r.server.exited:
			t.Fatalf("ferry-apiserver exited before it was ready (%v); its log:\n%s", r.server.err, r.logTail(60))
		default:
		}
		if time.Since(start) > 2*time.Minute || ctx.Err() != nil {
			t.Fatalf("/readyz is not 200 after 2m (last: %s); the server's log:\n%s", last, r.logTail(60))
		}
		if time.Since(lastReport) > 15*time.Second {
			t.Logf("waiting for /readyz (%s): %s", time.Since(start).Round(time.Second), strings.SplitN(last, "\n", 2)[0])
			lastReport = time.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
