package notification

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/notify"
)

var utilerrorsAggregate = utilerrors.NewAggregate

// selects says whether alert reports on app.
func selects(a *gitopsv1alpha1.Alert, app *gitopsv1alpha1.Application) bool {
	if a.Spec.Selector == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(a.Spec.Selector)
	return err == nil && sel.Matches(labels.Set(app.Labels))
}

// firedKey is the key a trigger last fired with for an Application, or "".
func firedKey(st *gitopsv1alpha1.AlertStatus, app string, t gitopsv1alpha1.AlertTrigger) string {
	for _, f := range st.Fired {
		if f.Application == app && f.Trigger == t {
			return f.Key
		}
	}
	return ""
}

// setFired records that t fired for app with key.
func setFired(st *gitopsv1alpha1.AlertStatus, app string, t gitopsv1alpha1.AlertTrigger, key string, at metav1.Time) {
	for i := range st.Fired {
		if st.Fired[i].Application == app && st.Fired[i].Trigger == t {
			st.Fired[i].Key, st.Fired[i].At = key, at
			return
		}
	}
	st.Fired = append(st.Fired, gitopsv1alpha1.AlertFired{Application: app, Trigger: t, Key: key, At: at})
}

// boundFired keeps the newest MaxAlertFired entries: status must stay small. An entry dropped
// can fire again, so an Alert should select at most MaxAlertFired / len(triggers) Applications.
func boundFired(st *gitopsv1alpha1.AlertStatus) {
	if len(st.Fired) <= gitopsv1alpha1.MaxAlertFired {
		return
	}
	sort.SliceStable(st.Fired, func(i, j int) bool { return st.Fired[j].At.Before(&st.Fired[i].At) })
	st.Fired = st.Fired[:gitopsv1alpha1.MaxAlertFired]
}

// alertApplication sends what a wants to hear of app's firings. Each is first claimed in the
// Alert's status (the same key twice is sent once, by whichever replica claimed it), then
// delivered, then recorded.
func (c *Controller) alertApplication(ctx context.Context, a *gitopsv1alpha1.Alert, app *gitopsv1alpha1.Application, firings []notify.Firing) error {
	// An Alert whose spec was not taken note of yet reports from the state it records then
	// (syncAlert), not what held before it existed.
	if a.Spec.Suspend || a.Status.ObservedGeneration != a.Generation || !selects(a, app) {
		return nil
	}
	var when *notify.When
	var errs []error
	for _, f := range firings {
		if !slices.Contains(a.Spec.Triggers, f.Trigger) || firedKey(&a.Status, app.Name, f.Trigger) == f.Key {
			continue
		}
		if a.Spec.When != "" && when == nil {
			var err error
			if when, err = notify.CompileWhen(a.Spec.When); err != nil {
				return fmt.Errorf("spec.when: %w", err) // refused at write time; a newer Ferry may differ
			}
		}
		if ok, err := when.Holds(app, f.Trigger); err != nil || !ok {
			if err != nil {
				klog.FromContext(ctx).V(2).Info("spec.when failed", "alert", klog.KObj(a), "application", klog.KObj(app), "err", err)
			}
			continue
		}
		claimed, err := c.claim(ctx, a, app.Name, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if claimed {
			c.deliver(ctx, a, app, f)
		}
	}
	return utilerrors.NewAggregate(errs)
}

// claim records in the Alert's status that f fired for app, unless it already has (another
// replica, or an earlier look): only the claimant sends.
func (c *Controller) claim(ctx context.Context, a *gitopsv1alpha1.Alert, app string, f notify.Firing) (bool, error) {
	claimed := false
	err := c.updateStatus(ctx, a.Namespace, a.Name, func(fresh *gitopsv1alpha1.Alert) bool {
		if fresh.UID != a.UID || fresh.Generation != a.Generation || firedKey(&fresh.Status, app, f.Trigger) == f.Key {
			claimed = false
			return false
		}
		setFired(&fresh.Status, app, f.Trigger, f.Key, metav1.Now())
		boundFired(&fresh.Status)
		claimed = true
		return true
	})
	return claimed, err
}

// updateStatus applies mutate to the Alert as the API has it now and writes its status when
// mutate says it changed, again on a conflict.
func (c *Controller) updateStatus(ctx context.Context, namespace, name string, mutate func(*gitopsv1alpha1.Alert) bool) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		fresh, err := c.cfg.Ferry.GitopsV1alpha1().Alerts(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !mutate(fresh) {
			return nil
		}
		_, err = c.cfg.Ferry.GitopsV1alpha1().Alerts(namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{FieldManager: "ferry"})
		return err
	})
}

// deliver sends one alert and records how it went: in the Alert's status, as an Event on the
// Application and in ferry_notifications_total.
func (c *Controller) deliver(ctx context.Context, a *gitopsv1alpha1.Alert, app *gitopsv1alpha1.Application, f notify.Firing) {
	providerType := "unknown"
	attempts, err := func() (int, error) {
		p, err := c.providers.AlertProviders(a.Namespace).Get(a.Spec.ProviderRef.Name)
		if err != nil {
			return 0, fmt.Errorf("AlertProvider %q: %w", a.Spec.ProviderRef.Name, errNotFound(err))
		}
		providerType = string(p.Spec.Type)
		target, err := c.target(ctx, p)
		if err != nil {
			return 0, err
		}
		tmpl, err := notify.ParseTemplate(a.Spec.Template)
		if err != nil {
			return 0, fmt.Errorf("spec.template: %w", err)
		}
		data := notify.DataOf(app, f, time.Now())
		text, err := notify.Render(tmpl, data)
		if err != nil {
			return 0, err
		}
		req, err := notify.Build(target, data, text)
		if err != nil {
			return 0, err
		}
		return c.cfg.Sender.Send(ctx, req)
	}()
	if errors.Is(err, notify.ErrNotReported) {
		return
	}
	result, evType, reason, msg := gitopsv1alpha1.AlertDeliverySent, corev1.EventTypeNormal, "AlertSent",
		fmt.Sprintf("%s at %s sent to %s by Alert %s", f.Trigger, gitopsv1alpha1.ShortRevision(f.Revision), a.Spec.ProviderRef.Name, a.Name)
	if err != nil {
		result, evType, reason = gitopsv1alpha1.AlertDeliveryFailed, corev1.EventTypeWarning, "AlertFailed"
		msg = fmt.Sprintf("%s at %s not delivered to %s by Alert %s after %d attempts: %v", f.Trigger, gitopsv1alpha1.ShortRevision(f.Revision), a.Spec.ProviderRef.Name, a.Name, attempts, err)
	}
	observe(providerType, result)
	c.recorder.Event(app, evType, reason, msg)
	d := gitopsv1alpha1.AlertDelivery{
		Time: metav1.Now(), Application: app.Name, Trigger: f.Trigger, Revision: f.Revision,
		Provider: a.Spec.ProviderRef.Name, Result: result, Attempts: int32(attempts),
	}
	cond := metav1.Condition{Type: gitopsv1alpha1.AlertConditionDelivered, Status: metav1.ConditionTrue, Reason: gitopsv1alpha1.ReasonDeliverySucceeded,
		Message: fmt.Sprintf("%s of %s delivered", f.Trigger, app.Name)}
	if err != nil {
		d.Error = truncate(err.Error(), 512)
		cond.Status, cond.Reason = metav1.ConditionFalse, gitopsv1alpha1.ReasonDeliveryFailed
		cond.Message = truncate(fmt.Sprintf("%s of %s failed after %d attempts: %v", f.Trigger, app.Name, attempts, err), 1024)
	}
	if err := c.updateStatus(ctx, a.Namespace, a.Name, func(fresh *gitopsv1alpha1.Alert) bool {
		st := &fresh.Status
		st.RecentDeliveries = append([]gitopsv1alpha1.AlertDelivery{d}, st.RecentDeliveries...)
		if len(st.RecentDeliveries) > gitopsv1alpha1.MaxAlertDeliveries {
			st.RecentDeliveries = st.RecentDeliveries[:gitopsv1alpha1.MaxAlertDeliveries]
		}
		cond.ObservedGeneration = fresh.Generation
		meta.SetStatusCondition(&st.Conditions, cond)
		return true
	}); err != nil {
		klog.FromContext(ctx).Error(err, "Could not record a delivery", "alert", klog.KObj(a))
	}
}

func errNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return errors.New("not found")
	}
	return err
}

// target resolves a provider: its address (spec.address, else the Secret's "address", checked
// as spec.address is at write time) and token.
func (c *Controller) target(ctx context.Context, p *gitopsv1alpha1.AlertProvider) (notify.Target, error) {
	t := notify.Target{Type: p.Spec.Type, Address: p.Spec.Address, Channel: p.Spec.Channel}
	if ref := p.Spec.SecretRef; ref != nil {
		if c.cfg.Kube == nil {
			return t, errors.New("no client to read the provider's Secret")
		}
		s, err := c.cfg.Kube.CoreV1().Secrets(p.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return t, fmt.Errorf("reading Secret %s of AlertProvider %s: %w", ref.Name, p.Name, errNotFound(err))
		}
		t.Token = string(s.Data[gitopsv1alpha1.AlertProviderSecretKeyToken])
		if t.Address == "" {
			t.Address = string(s.Data[gitopsv1alpha1.AlertProviderSecretKeyAddress])
			if t.Address == "" {
				return t, fmt.Errorf("AlertProvider %s has no spec.address and its Secret %s no %q", p.Name, ref.Name, gitopsv1alpha1.AlertProviderSecretKeyAddress)
			}
			if err := notify.CheckAddress(t.Address, c.cfg.Addresses); err != nil {
				// The address is the secret: say what is wrong with it, not what it is.
				return t, fmt.Errorf("the address in Secret %s of AlertProvider %s %v", ref.Name, p.Name, err)
			}
		}
	}
	return t, nil
}

// syncAlert takes note of a new or changed Alert: the state its Applications are in now is
// recorded as fired (without sending), so that it reports what changes from then on; entries
// of Applications that are gone are dropped; Ready says whether its provider exists.
func (c *Controller) syncAlert(ctx context.Context, it item) error {
	a, err := c.alerts.Alerts(it.namespace).Get(it.name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	apps, err := c.apps.Applications(a.Namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	baselined := false
	err = c.updateStatus(ctx, a.Namespace, a.Name, func(fresh *gitopsv1alpha1.Alert) bool {
		before := fresh.Status.DeepCopy()
		st := &fresh.Status
		now := metav1.Now()
		baselined = st.ObservedGeneration != fresh.Generation
		if baselined {
			for _, app := range apps {
				if !selects(fresh, app) {
					continue
				}
				for _, f := range notify.Firings(app) {
					if slices.Contains(fresh.Spec.Triggers, f.Trigger) && firedKey(st, app.Name, f.Trigger) == "" {
						setFired(st, app.Name, f.Trigger, f.Key, now)
					}
				}
			}
			st.ObservedGeneration = fresh.Generation
		}
		exists := map[string]bool{}
		for _, app := range apps {
			exists[app.Name] = true
		}
		st.Fired = slices.DeleteFunc(st.Fired, func(f gitopsv1alpha1.AlertFired) bool { return !exists[f.Application] })
		boundFired(st)
		ready := metav1.Condition{Type: gitopsv1alpha1.AlertConditionReady, Status: metav1.ConditionTrue, Reason: gitopsv1alpha1.ReasonSucceeded,
			Message: "reporting changes of the selected Applications", ObservedGeneration: fresh.Generation}
		if _, err := c.providers.AlertProviders(fresh.Namespace).Get(fresh.Spec.ProviderRef.Name); err != nil {
			ready.Status, ready.Reason = metav1.ConditionFalse, gitopsv1alpha1.ReasonAlertProviderNotFound
			ready.Message = fmt.Sprintf("AlertProvider %q: %v", fresh.Spec.ProviderRef.Name, errNotFound(err))
		} else if fresh.Spec.Suspend {
			ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, gitopsv1alpha1.ReasonAlertSuspended, "spec.suspend is true: nothing is sent"
		}
		meta.SetStatusCondition(&st.Conditions, ready)
		return !apiequality.Semantic.DeepEqual(*before, *st)
	})
	if err != nil {
		return err
	}
	if baselined {
		for _, app := range apps {
			c.queue.Add(item{kind: appItem, namespace: app.Namespace, name: app.Name})
		}
	}
	return nil
}

// syncProvider writes an AlertProvider's Ready condition: whether its Secret can be read and it
// has an address.
func (c *Controller) syncProvider(ctx context.Context, it item) error {
	p, err := c.providers.AlertProviders(it.namespace).Get(it.name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	cond := metav1.Condition{Type: gitopsv1alpha1.AlertConditionReady, Status: metav1.ConditionTrue, Reason: gitopsv1alpha1.ReasonSucceeded,
		Message: "ready to deliver", ObservedGeneration: p.Generation}
	if _, err := c.target(ctx, p); err != nil {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "SecretError", truncate(err.Error(), 1024)
	}
	st := p.Status.DeepCopy()
	st.ObservedGeneration = p.Generation
	meta.SetStatusCondition(&st.Conditions, cond)
	if apiequality.Semantic.DeepEqual(*st, p.Status) {
		return nil
	}
	updated := p.DeepCopy()
	updated.Status = *st
	_, err = c.cfg.Ferry.GitopsV1alpha1().AlertProviders(p.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: "ferry"})
	if apierrors.IsConflict(err) {
		c.queue.Add(it)
		return nil
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
