// Package notify is what an Alert sends and where: which triggers an Application's status holds
// (triggers.go), the Alert's CEL condition (when.go) and message template (template.go), the
// request each kind of AlertProvider takes (providers.go), and its delivery with retries under
// the notification address policy (address.go, send.go). It knows nothing of the API server:
// the registry checks Alerts and AlertProviders with it at write time, the notification
// controller sends with it.
package notify
