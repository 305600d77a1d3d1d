package validation

import (
	"crypto/x509"
	"encoding/pem"
	"net/url"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
)

// MaxCABundleBytes bounds spec.caBundle of a Cluster.
const MaxCABundleBytes = 64 << 10

// ValidateClusterName is the name rule of Clusters: a DNS-1123 subdomain.
var ValidateClusterName = apimachineryvalidation.NameIsDNSSubdomain

// ValidateCluster validates a new Cluster.
func ValidateCluster(c *gitops.Cluster) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&c.ObjectMeta, false, ValidateClusterName, field.NewPath("metadata"))
	return append(allErrs, validateClusterSpec(&c.Spec, field.NewPath("spec"))...)
}

// ValidateClusterUpdate validates an update of a Cluster's spec and metadata.
func ValidateClusterUpdate(c, old *gitops.Cluster) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateClusterSpec(&c.Spec, field.NewPath("spec"))...)
}

// ValidateClusterStatusUpdate validates an update through the status subresource.
func ValidateClusterStatusUpdate(c, old *gitops.Cluster) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	st, path := &c.Status, field.NewPath("status")
	if st.ObservedGeneration < 0 {
		allErrs = append(allErrs, field.Invalid(path.Child("observedGeneration"), st.ObservedGeneration, "must not be negative"))
	}
	if st.Applications < 0 {
		allErrs = append(allErrs, field.Invalid(path.Child("applications"), st.Applications, "must not be negative"))
	}
	return append(allErrs, metav1validation.ValidateConditions(st.Conditions, path.Child("conditions"))...)
}

func validateClusterSpec(spec *gitops.ClusterSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	serverPath := fldPath.Child("server")
	switch u, err := url.Parse(spec.Server); {
	case spec.Server == "":
		allErrs = append(allErrs, field.Required(serverPath, "the https URL of the cluster's kube-apiserver"))
	case err != nil:
		allErrs = append(allErrs, field.Invalid(serverPath, spec.Server, "not a URL"))
	case u.Scheme != "https":
		allErrs = append(allErrs, field.Invalid(serverPath, spec.Server, "must be an https URL: credentials are never sent in clear"))
	case u.Host == "":
		allErrs = append(allErrs, field.Invalid(serverPath, spec.Server, "names no host"))
	case u.User != nil:
		allErrs = append(allErrs, field.Invalid(serverPath, "<redacted>", "must not hold credentials: put them in the Secret of spec.credentialsRef"))
	case u.RawQuery != "" || u.Fragment != "":
		allErrs = append(allErrs, field.Invalid(serverPath, spec.Server, "must have no query or fragment"))
	case len(spec.Server) > MaxRepoURLLength:
		allErrs = append(allErrs, field.TooLong(serverPath, "", MaxRepoURLLength))
	}
	if n := len(spec.CABundle); n > MaxCABundleBytes {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("caBundle"), "", MaxCABundleBytes))
	} else if n > 0 && !holdsCertificate(spec.CABundle) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("caBundle"), "<bytes>", "holds no PEM certificate"))
	}
	refPath := fldPath.Child("credentialsRef", "name")
	if spec.CredentialsRef.Name == "" {
		allErrs = append(allErrs, field.Required(refPath, "a Secret in Ferry's namespace holding a token, or tls.crt and tls.key"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(spec.CredentialsRef.Name) {
			allErrs = append(allErrs, field.Invalid(refPath, spec.CredentialsRef.Name, msg))
		}
	}
	if n := spec.TLSServerName; n != "" {
		for _, msg := range validation.IsDNS1123Subdomain(n) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("tlsServerName"), n, msg))
		}
	}
	return allErrs
}

// holdsCertificate reports whether pemBytes holds at least one parseable certificate and no
// other kind of block.
func holdsCertificate(pemBytes []byte) bool {
	found := false
	for rest := pemBytes; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return found
		}
		if block.Type != "CERTIFICATE" {
			return false
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return false
		}
		found = true
	}
}
