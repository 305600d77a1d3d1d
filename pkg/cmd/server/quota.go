package server

import (
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninitializer "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/apiserver/pkg/admission/plugin/resourcequota"
	quota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/apiserver/pkg/quota/v1/generic"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
)

// enableResourceQuota puts the generic ResourceQuota admission plugin in Ferry's chain, so a
// namespace's ResourceQuota (in kube-apiserver) limits its Applications with
// count/applications.gitops.ferry.dev, as it limits any kind. The plugin reads the quotas
// through the server's informers on kube-apiserver and updates their usage;
// kube-controller-manager's quota controller recounts it from Ferry's API. Objects are
// counted with an object-count evaluator, which the plugin makes for any resource it has none
// for.
func enableResourceQuota(o *genericoptions.RecommendedOptions) {
	resourcequota.Register(o.Admission.Plugins)
	o.Admission.RecommendedPluginOrder = append(o.Admission.RecommendedPluginOrder, resourcequota.PluginName)
	previous := o.ExtraAdmissionInitializers
	o.ExtraAdmissionInitializers = func(c *genericapiserver.RecommendedConfig) ([]admission.PluginInitializer, error) {
		var initializers []admission.PluginInitializer
		if previous != nil {
			var err error
			if initializers, err = previous(c); err != nil {
				return nil, err
			}
		}
		return append(initializers, quotaConfigurationInitializer{generic.NewConfiguration(nil, nil)}), nil
	}
}

// quotaConfigurationInitializer gives the quota plugin its configuration; the generic
// initializer, which runs first, gives it the client, the informers and the stop channel.
type quotaConfigurationInitializer struct {
	configuration quota.Configuration
}

func (i quotaConfigurationInitializer) Initialize(plugin admission.Interface) {
	if wants, ok := plugin.(genericadmissioninitializer.WantsQuotaConfiguration); ok {
		wants.SetQuotaConfiguration(i.configuration)
	}
}
