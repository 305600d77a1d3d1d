package servingcert

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// APIServices is the resource of kube-apiserver's aggregation layer.
var APIServices = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// Ensurer keeps a server's certificate in a Secret and its CA in an APIService's caBundle.
type Ensurer struct {
	Core    kubernetes.Interface
	Dynamic dynamic.Interface
	// Namespace and Name are the Secret's.
	Namespace, Name string
	// APIService is the APIService that routes to the server, such as v1alpha1.gitops.ferry.dev.
	// The certificate is made for its spec.service.
	APIService string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Ensure returns the certificate of the Secret, first making it when the Secret is missing or
// holds none that is good to keep (FromSecret), and sets the APIService's caBundle to its CA.
// Replicas starting together agree on one certificate: the Secret is created, or replaced only
// at the resourceVersion that was read, and whoever loses the race takes the winner's.
func (e Ensurer) Ensure(ctx context.Context) (Cert, error) {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	service, namespace, caBundle, err := e.apiServiceService(ctx)
	if err != nil {
		return Cert{}, err
	}
	cert, err := e.stored(ctx, service, namespace, now())
	if err != nil {
		return Cert{}, err
	}
	if caBundle != base64.StdEncoding.EncodeToString(cert.CA) {
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"caBundle": cert.CA}}) // []byte marshals as base64
		if _, err := e.Dynamic.Resource(APIServices).Patch(ctx, e.APIService, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "ferry-apiserver"}); err != nil {
			return Cert{}, fmt.Errorf("setting the caBundle of APIService %s: %w", e.APIService, err)
		}
		klog.InfoS("Set the APIService's caBundle to the serving certificate's CA", "apiService", e.APIService)
	}
	return cert, nil
}

// stored returns the Secret's certificate when it is good to keep, else stores a new one; when
// another replica stores first, it takes theirs.
func (e Ensurer) stored(ctx context.Context, service, namespace string, now time.Time) (Cert, error) {
	secrets := e.Core.CoreV1().Secrets(e.Namespace)
	for attempt := 0; attempt < 5; attempt++ {
		existing, err := secrets.Get(ctx, e.Name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return Cert{}, fmt.Errorf("reading Secret %s/%s: %w", e.Namespace, e.Name, err)
		}
		found := err == nil
		if found {
			kept, why := FromSecret(existing.Data, service, namespace, now)
			if why == nil {
				return kept, nil
			}
			klog.InfoS("Replacing the serving certificate", "secret", klog.KRef(e.Namespace, e.Name), "reason", why.Error())
		}
		made, err := New(service, namespace)
		if err != nil {
			return Cert{}, fmt.Errorf("making a serving certificate: %w", err)
		}
		data := map[string][]byte{"ca.crt": made.CA, "tls.crt": made.Cert, "tls.key": made.Key}
		if !found {
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: e.Name, Namespace: e.Namespace,
					Labels: map[string]string{"app.kubernetes.io/name": service, "app.kubernetes.io/part-of": "ferry"}},
				Type: corev1.SecretTypeTLS,
				Data: data,
			}
			_, err = secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: "ferry-apiserver"})
		} else {
			replaced := existing.DeepCopy()
			replaced.Data = data
			_, err = secrets.Update(ctx, replaced, metav1.UpdateOptions{FieldManager: "ferry-apiserver"})
		}
		switch {
		case err == nil:
			klog.InfoS("Stored a new serving certificate", "secret", klog.KRef(e.Namespace, e.Name), "dnsName", DNSName(service, namespace))
			return made, nil
		case !apierrors.IsAlreadyExists(err) && !apierrors.IsConflict(err):
			return Cert{}, fmt.Errorf("storing the serving certificate in Secret %s/%s: %w", e.Namespace, e.Name, err)
		}
		// Another replica wrote it first: read theirs.
	}
	return Cert{}, fmt.Errorf("the Secret %s/%s keeps changing under us: is another installation writing it?", e.Namespace, e.Name)
}

// apiServiceService reads the Service the APIService routes to, and its caBundle (base64).
func (e Ensurer) apiServiceService(ctx context.Context) (name, namespace, caBundle string, err error) {
	obj, err := e.Dynamic.Resource(APIServices).Get(ctx, e.APIService, metav1.GetOptions{})
	if err != nil {
		return "", "", "", fmt.Errorf("reading APIService %s, whose Service the certificate is for: %w", e.APIService, err)
	}
	spec, _ := obj.Object["spec"].(map[string]any)
	svc, _ := spec["service"].(map[string]any)
	name, _ = svc["name"].(string)
	namespace, _ = svc["namespace"].(string)
	if name == "" || namespace == "" {
		return "", "", "", fmt.Errorf("APIService %s has no spec.service: it routes to no Service to make a certificate for", e.APIService)
	}
	caBundle, _ = spec["caBundle"].(string)
	return name, namespace, caBundle, nil
}
