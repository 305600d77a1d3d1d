package application

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	informers "github.com/ferry-gitops/ferry/pkg/generated/informers/externalversions"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwindow"
)

// watchSyncWindows keeps a cache of the SyncWindows, and looks again at once at every
// Application of a namespace whose windows are created, changed or deleted: a freeze takes
// hold, or ends, without waiting for the interval.
func (c *Controller) watchSyncWindows(factory informers.SharedInformerFactory) {
	informer := factory.Gitops().V1alpha1().SyncWindows()
	c.windows = informer.Lister()
	c.windowsSynced = informer.Informer().HasSynced
	enqueueNamespace := func(obj interface{}) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		w, ok := obj.(*gitopsv1alpha1.SyncWindow)
		if !ok {
			return
		}
		apps, err := c.lister.Applications(w.Namespace).List(labels.Everything())
		if err != nil {
			return
		}
		for _, app := range apps {
			c.enqueue(app)
		}
	}
	_, _ = informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueNamespace,
		UpdateFunc: func(_, cur interface{}) { enqueueNamespace(cur) },
		DeleteFunc: enqueueNamespace,
	})
}

// windowOf is what the SyncWindows of app's namespace say of it now.
func (c *Controller) windowOf(app *gitopsv1alpha1.Application) syncwindow.Verdict {
	if c.windows == nil {
		return syncwindow.Verdict{}
	}
	list, err := c.windows.SyncWindows(app.Namespace).List(labels.Everything())
	if err != nil {
		klog.Background().Error(err, "Cannot list the sync windows; syncing as if there were none", "namespace", app.Namespace)
		return syncwindow.Verdict{}
	}
	windows := make([]gitopsv1alpha1.SyncWindow, len(list))
	for i, w := range list {
		windows[i] = *w
	}
	return syncwindow.Evaluate(time.Now(), windows, app.Labels)
}

// windowOpensMargin is how long after a window's end the Application is looked at again: at
// its very end the window is over, the margin only absorbs the timer's imprecision.
const windowOpensMargin = time.Second

// lookWhenOpen shortens the next look to when the windows let the Application sync again, so a
// commit held during a window is applied when it ends rather than up to an interval later.
func lookWhenOpen(window syncwindow.Verdict, after time.Duration, now time.Time) time.Duration {
	if !window.Blocked || window.Until.IsZero() {
		return after
	}
	if until := window.Until.Sub(now) + windowOpensMargin; until < after {
		return max(until, windowOpensMargin)
	}
	return after
}

// writeWindow writes the SyncWindow condition: True while a window holds automated syncs,
// saying which, until when and what a user can do; False (Open) while the windows let the
// Application sync. An Application no window selects has none (and loses it when its last
// window goes). A health refresh keeps what the last sync wrote.
func (o outcome) writeWindow(st *gitopsv1alpha1.ApplicationStatus, app *gitopsv1alpha1.Application) {
	w := o.window
	switch {
	case o.healthOnly:
	case !w.Selected:
		meta.RemoveStatusCondition(&st.Conditions, gitopsv1alpha1.ConditionSyncWindow)
	case !w.Blocked:
		setCondition(st, app, gitopsv1alpha1.ConditionSyncWindow, metav1.ConditionFalse, gitopsv1alpha1.ReasonWindowOpen,
			"the SyncWindows selecting this Application let it sync now")
	default:
		msg := w.String() + ": automated syncs wait, and a commit pushed meanwhile is applied when it ends; "
		if w.ManualAllowed {
			msg += "requested syncs run (the window allows manual syncs): kubectl ferry sync " + app.Name
		} else {
			msg += "to sync now, a user allowed the verb override on syncwindows sets spec.overrideSyncWindows in POST applications/" + app.Name + "/sync"
		}
		setCondition(st, app, gitopsv1alpha1.ConditionSyncWindow, metav1.ConditionTrue, w.Reason, truncate(msg, maxMessage))
	}
}
