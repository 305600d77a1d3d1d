package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// demo makes a local Git repository holding artifacts/examples/guestbook/ at path guestbook,
// served to Ferry as a file:// URL (the stack runs Ferry with --allow-file-repositories), applies
// artifacts/examples/application.yaml pointing at it and waits for it to be Ready.
func demo(ctx context.Context, s, second *localstack.Stack) error {
	repo := filepath.Join(s.Dir, "demo", "examples.git")
	work := filepath.Join(s.Dir, "demo", "work")
	if _, err := os.Stat(repo); err != nil {
		logf("FERRY_DEMO=1: creating the demo Git repository %s from artifacts/examples/guestbook/", repo)
		if err := os.RemoveAll(work); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(work, "guestbook"), 0o755); err != nil {
			return err
		}
		files, err := filepath.Glob(filepath.Join(s.RepoRoot, "artifacts", "examples", "guestbook", "*.yaml"))
		if err != nil {
			return err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(work, "guestbook", filepath.Base(f)), data, 0o644); err != nil {
				return err
			}
		}
		for _, argv := range [][]string{
			{"init", "--quiet", "--bare", "--initial-branch=main", repo},
			{"init", "--quiet", "--initial-branch=main", work},
			{"-C", work, "add", "--all"},
			{"-C", work, "-c", "user.name=Ferry demo", "-c", "user.email=demo@ferry.invalid", "commit", "--quiet", "-m", "guestbook example"},
			{"-C", work, "push", "--quiet", repo, "main"},
		} {
			if out, err := exec.CommandContext(ctx, "git", argv...).CombinedOutput(); err != nil {
				return fmt.Errorf("git %s: %v: %s", strings.Join(argv, " "), err, out)
			}
		}
	}
	logf("FERRY_DEMO=1: applying artifacts/examples/tenant.yaml: namespace guestbook and its ServiceAccount deployer, admin of that namespace only")
	if out, err := s.RunKubectl(ctx, "", "apply", "-f", filepath.Join(s.RepoRoot, "artifacts", "examples", "tenant.yaml")); err != nil {
		return fmt.Errorf("kubectl apply of the demo tenant: %v: %s", err, out)
	}
	logf("FERRY_DEMO=1: applying artifacts/examples/application.yaml with repoURL file://%s; it acts as guestbook/deployer", repo)
	manifest, err := os.ReadFile(filepath.Join(s.RepoRoot, "artifacts", "examples", "application.yaml"))
	if err != nil {
		return err
	}
	app := regexp.MustCompile(`repoURL: .*`).ReplaceAllLiteralString(string(manifest), "repoURL: file://"+repo)
	out, err := s.RunKubectl(ctx, app, "apply", "-f", "-")
	if err != nil {
		return fmt.Errorf("kubectl apply of the demo Application: %v: %s", err, out)
	}
	fmt.Print(out)
	logf("waiting for the guestbook Application to be Ready (kubectl wait --for=condition=Ready)")
	if out, err := s.RunKubectl(ctx, "", "wait", "--for=condition=Ready", "application/guestbook", "-n", "guestbook", "--timeout=90s"); err != nil {
		conditions, _ := s.RunKubectl(ctx, "", "get", "application", "guestbook", "-n", "guestbook", "-o",
			`jsonpath={range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}`)
		return fmt.Errorf("the demo Application did not become Ready (%v: %s); its conditions:\n%s\nnext: read them and %s",
			err, strings.TrimSpace(out), conditions, filepath.Join(s.Dir, "logs", "ferry-apiserver.log"))
	}
	// The stack's Node (kwok) runs the guestbook's Pods: the Deployment becomes Available and the
	// Application Healthy, as on a real cluster.
	logf("waiting for the guestbook Deployment to be Available and the Application Healthy")
	if out, err := s.RunKubectl(ctx, "", "wait", "--for=jsonpath={.status.health.status}=Healthy", "application/guestbook", "-n", "guestbook", "--timeout=90s"); err != nil {
		health, _ := s.RunKubectl(ctx, "", "get", "--raw", "/apis/gitops.ferry.dev/v1alpha1/namespaces/guestbook/applications/guestbook/health")
		return fmt.Errorf("the demo Application did not become Healthy (%v: %s); its health:\n%s\nnext: kubectl -n guestbook describe deployment guestbook, and %s",
			err, strings.TrimSpace(out), health, filepath.Join(s.Dir, "logs", "kwok.log"))
	}
	for _, args := range [][]string{
		{"get", "applications", "-A"},
		{"get", "deployments,configmaps,services,serviceaccounts", "-n", "guestbook", "-l", "gitops.ferry.dev/app"},
		{"get", "pods", "-n", "guestbook", "-o", "wide"},
	} {
		logf("kubectl %s", strings.Join(args, " "))
		out, err := s.RunKubectl(ctx, "", args...)
		fmt.Print(out)
		if err != nil {
			return fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
		}
	}
	// What the Application may deploy is what its ServiceAccount may: its namespace, nothing else.
	for _, ns := range []string{"guestbook", "kube-system"} {
		args := []string{"auth", "can-i", "create", "deployments", "-n", ns, "--as=system:serviceaccount:guestbook:deployer"}
		logf("kubectl %s", strings.Join(args, " "))
		out, _ := s.RunKubectl(ctx, "", args...) // "no" exits 1
		fmt.Print(out)
	}
	if second != nil {
		if err := fleetDemo(ctx, s, second, repo); err != nil {
			return err
		}
	}
	fmt.Printf(`
The demo repository's working copy is %[1]s: edit guestbook/*.yaml there, then
  git -C %[1]s commit -am change && git -C %[1]s push %[2]s main
and Ferry applies it at the next check of Git (spec.syncPolicy.interval, 3m by default), or
at once after a sync request:
  kubectl ferry sync guestbook -n guestbook    (or: kubectl create --raw /apis/gitops.ferry.dev/v1alpha1/namespaces/guestbook/applications/guestbook/sync \
    -f <(echo '{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationSync"}'))
Edit a deployed object by hand (kubectl -n guestbook edit configmap guestbook-config) and
Ferry puts Git's version back within a second (selfHeal).
Watch it in the web UI, acting as you on 127.0.0.1: kubectl ferry ui   (or: go run ./cmd/kubectl-ferry ui)
`, work, repo)
	return nil
}

func summary(s, second *localstack.Stack) {
	fmt.Printf(`
Ferry local stack is up (FERRY_DEV_DIR=%s).
  export KUBECONFIG=%s   # admin (system:masters)
  alias kubectl=%s         # v1.37 kubectl matching the control plane
  kubectl get applications -A
Test users (no permissions until bound; e.g. kubectl create rolebinding v --clusterrole ferry-view --user viewer):
`, s.Dir, s.Kubeconfig(), s.Kubectl())
	for _, u := range localstack.TestUsers {
		fmt.Printf("  %-7s KUBECONFIG=%s\n", u, filepath.Join(s.Dir, "kubeconfig-"+u))
	}
	fmt.Printf("Ports: etcd %s, kube-apiserver %s, kube-controller-manager %s, kube-scheduler %s, kwok %s, ferry-apiserver %s\n",
		s.Env["ETCD_PORT"], s.Env["KUBE_PORT"], s.Env["KCM_PORT"], s.Env["SCHEDULER_PORT"], s.Env["KWOK_PORT"], s.Env["FERRY_PORT"])
	fmt.Printf("Node:  %s, a kwok fake: Pods become Running and Ready, Job Pods complete (label %s=true makes one fail);\n"+
		"       kubectl logs [-f] shows every Pod the same log, a line %q every %s\n", localstack.NodeName, localstack.FailLabel, "... INFO "+localstack.PodLogMessage+" n=N", localstack.PodLogInterval)
	if second != nil {
		fmt.Printf("Second cluster (Cluster staging): KUBECONFIG=%s, kube-apiserver 127.0.0.1:%s\n", second.Kubeconfig(), second.Env["KUBE_PORT"])
	}
	fmt.Printf("Logs:  %s/   Restart Ferry: hack/local-up.sh --restart-ferry   Stop: hack/local-down.sh [--purge]\n", filepath.Join(s.Dir, "logs"))
}

// fleetDemo registers the cluster Ferry runs in as Cluster local and the second cluster as
// staging, applies artifacts/examples/applicationset.yaml pointing at the demo repository, and
// waits until the guestbook runs on both.
func fleetDemo(ctx context.Context, s, second *localstack.Stack, repo string) error {
	for _, c := range []struct {
		name, env string
		stack     *localstack.Stack
	}{{"local", "dev", s}, {"staging", "staging", second}} {
		logf("FERRY_DEMO=1: registering Cluster %s (https://127.0.0.1:%s), its admin token in Secret ferry-system/%s-credentials", c.name, c.stack.Env["KUBE_PORT"], c.name)
		ca, err := os.ReadFile(filepath.Join(c.stack.Dir, "pki", "ca.crt"))
		if err != nil {
			return err
		}
		manifest := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %[1]s-credentials, namespace: ferry-system}
stringData: {token: %[2]s}
---
apiVersion: gitops.ferry.dev/v1alpha1
kind: Cluster
metadata:
  name: %[1]s
  labels: {env: %[3]s, demo: guestbook}
spec:
  server: https://127.0.0.1:%[4]s
  caBundle: %[5]s
  credentialsRef: {name: %[1]s-credentials}
`, c.name, c.stack.Token("admin"), c.env, c.stack.Env["KUBE_PORT"], base64.StdEncoding.EncodeToString(ca))
		if out, err := s.RunKubectl(ctx, manifest, "apply", "-f", "-"); err != nil {
			return fmt.Errorf("registering Cluster %s: %v: %s", c.name, err, out)
		}
	}
	logf("waiting for both Clusters to be Ready")
	if out, err := s.RunKubectl(ctx, "", "wait", "--for=condition=Ready", "clusters.gitops.ferry.dev/local", "clusters.gitops.ferry.dev/staging", "--timeout=60s"); err != nil {
		return fmt.Errorf("the demo Clusters did not become Ready (%v: %s); next: kubectl describe clusters.gitops.ferry.dev", err, strings.TrimSpace(out))
	}
	logf("FERRY_DEMO=1: applying artifacts/examples/applicationset.yaml with repoURL file://%s: the guestbook on every Cluster labelled demo=guestbook", repo)
	manifest, err := os.ReadFile(filepath.Join(s.RepoRoot, "artifacts", "examples", "applicationset.yaml"))
	if err != nil {
		return err
	}
	set := regexp.MustCompile(`repoURL: .*`).ReplaceAllLiteralString(string(manifest), "repoURL: file://"+repo)
	if out, err := s.RunKubectl(ctx, set, "apply", "-f", "-"); err != nil {
		return fmt.Errorf("kubectl apply of the demo ApplicationSet: %v: %s", err, out)
	}
	logf("waiting for the ApplicationSet's two Applications to be Healthy")
	ns := []string{"-n", "ferry-system"}
	if out, err := s.RunKubectl(ctx, "", append([]string{"wait", "--for=condition=Ready", "applicationset/guestbook-fleet", "--timeout=60s"}, ns...)...); err != nil {
		return fmt.Errorf("the demo ApplicationSet did not become Ready (%v: %s); next: kubectl -n ferry-system describe applicationset guestbook-fleet", err, strings.TrimSpace(out))
	}
	if out, err := s.RunKubectl(ctx, "", append([]string{"wait", "--for=jsonpath={.status.health.status}=Healthy", "application/guestbook-local", "application/guestbook-staging", "--timeout=120s"}, ns...)...); err != nil {
		return fmt.Errorf("the ApplicationSet's Applications did not become Healthy (%v: %s); next: kubectl -n ferry-system get applications -o wide", err, strings.TrimSpace(out))
	}
	for _, args := range [][]string{
		{"get", "clusters.gitops.ferry.dev"},
		{"get", "applicationsets", "-A"},
		{"get", "applications", "-n", "ferry-system"},
	} {
		logf("kubectl %s", strings.Join(args, " "))
		out, err := s.RunKubectl(ctx, "", args...)
		fmt.Print(out)
		if err != nil {
			return fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
		}
	}
	logf("KUBECONFIG=%s kubectl get pods -n guestbook-staging -o wide   (the staging cluster)", second.Kubeconfig())
	out, err := second.RunKubectl(ctx, "", "get", "pods", "-n", "guestbook-staging", "-o", "wide")
	fmt.Print(out)
	return err
}
