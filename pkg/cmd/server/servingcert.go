package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-gitops/ferry/pkg/servingcert"
)

// ServingCertOptions let the server make and keep its own serving certificate, for a plain
// `kubectl apply -f install.yaml`: kubectl ferry install and the Helm chart make it instead.
type ServingCertOptions struct {
	// Secret is "namespace/name" of the Secret that holds the certificate; empty serves with
	// --tls-cert-file (or a self-signed certificate for local use).
	Secret string
	// APIService routes to this server; the certificate is for its Service and its caBundle is
	// set to the certificate's CA.
	APIService string
}

func (s *ServingCertOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&s.Secret, "serving-cert-secret", s.Secret,
		"namespace/name of a Secret to keep the serving certificate in: at start the server takes the certificate from it, or makes one "+
			"(with a CA of its own, for the Service of --serving-cert-apiservice) when it is missing or expires within 90 days, and sets that "+
			"APIService's caBundle to the CA. Replicas agree on one certificate. Instead of --tls-cert-file; release install.yaml uses it.")
	fs.StringVar(&s.APIService, "serving-cert-apiservice", s.APIService,
		"the APIService routing to this server, whose Service the certificate of --serving-cert-secret is for and whose caBundle it sets")
}

// secretRef splits Secret into namespace and name.
func (s *ServingCertOptions) secretRef() (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(s.Secret, "/")
	if !ok || len(validation.IsDNS1123Label(namespace)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return "", "", fmt.Errorf("--serving-cert-secret %q is not namespace/name, such as ferry-system/ferry-apiserver-tls", s.Secret)
	}
	return namespace, name, nil
}

func (o *Options) validateServingCert() []error {
	s := o.ServingCert
	if s.Secret == "" {
		return nil
	}
	var errs []error
	if _, _, err := s.secretRef(); err != nil {
		errs = append(errs, err)
	}
	if ck := o.RecommendedOptions.SecureServing.ServerCert.CertKey; ck.CertFile != "" || ck.KeyFile != "" {
		errs = append(errs, fmt.Errorf("--serving-cert-secret and --tls-cert-file/--tls-private-key-file both choose the serving certificate: give one"))
	}
	if s.APIService == "" {
		errs = append(errs, fmt.Errorf("--serving-cert-apiservice must name the APIService routing to this server"))
	}
	return errs
}

// applyServingCert takes (or makes) the certificate of --serving-cert-secret and serves with it,
// from files of its own under TMPDIR.
func (o *Options) applyServingCert(ctx context.Context) error {
	namespace, name, err := o.ServingCert.secretRef()
	if err != nil {
		return err
	}
	cfg, err := o.targetConfig()
	if err != nil {
		return err
	}
	if cfg == nil {
		return fmt.Errorf("--serving-cert-secret needs the cluster: run in a pod or give --kubeconfig")
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cert, err := servingcert.Ensurer{Core: core, Dynamic: dyn, Namespace: namespace, Name: name, APIService: o.ServingCert.APIService}.Ensure(ctx)
	if err != nil {
		return fmt.Errorf("--serving-cert-secret: %w", err)
	}
	dir, err := os.MkdirTemp("", "ferry-serving-cert-")
	if err != nil {
		return fmt.Errorf("--serving-cert-secret: writing the certificate for serving (TMPDIR must be writable): %w", err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, cert.Cert, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, cert.Key, 0o600); err != nil {
		return err
	}
	ck := &o.RecommendedOptions.SecureServing.ServerCert.CertKey
	ck.CertFile, ck.KeyFile = certFile, keyFile
	return nil
}
