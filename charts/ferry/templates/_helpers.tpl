{{/*
Helpers of the generated templates. Each writes what kubectl ferry install writes for the same
option (package install, render.go); the chart's test compares the two.
*/}}

{{/* The server's image: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "ferry.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Refuses values that go only together, naming them (kubectl ferry install's checks). */}}
{{- define "ferry.validate" -}}
{{- if and (not .Values.etcd.servers) (or .Values.etcd.ca .Values.etcd.cert .Values.etcd.key) }}
{{- fail "etcd.ca, etcd.cert and etcd.key go with etcd.servers (an etcd cluster you run)" }}
{{- end }}
{{- if ne (empty .Values.etcd.cert) (empty .Values.etcd.key) }}
{{- fail "etcd.cert and etcd.key go together" }}
{{- end }}
{{- end }}

{{/* The server's flags for an etcd cluster of the user's; the client files are mounted from the
Secret ferry-etcd-client at /var/run/ferry/etcd. */}}
{{- define "ferry.etcdArgs" -}}
- --etcd-servers={{ join "," .Values.etcd.servers }}
{{- if .Values.etcd.ca }}
- --etcd-cafile=/var/run/ferry/etcd/ca.crt
{{- end }}
{{- if .Values.etcd.cert }}
- --etcd-certfile=/var/run/ferry/etcd/tls.crt
- --etcd-keyfile=/var/run/ferry/etcd/tls.key
{{- end }}
{{- end }}

{{/* The data of the Secret ferry-etcd-client; empty when etcd needs no client files. */}}
{{- define "ferry.etcdClientData" -}}
{{- if .Values.etcd.ca }}
ca.crt: {{ .Values.etcd.ca | b64enc }}
{{- end }}
{{- if .Values.etcd.cert }}
tls.crt: {{ .Values.etcd.cert | b64enc }}
tls.key: {{ .Values.etcd.key | b64enc }}
{{- end }}
{{- end }}

{{/*
The serving certificate, base64-encoded, as YAML: the one already in the Secret
ferry-apiserver-tls when there is one (an upgrade keeps it, so kube-apiserver keeps trusting the
running server), otherwise a CA of this installation's own and a certificate it signs for the
Service, for a year. To rotate, delete the Secret and upgrade. helm template finds no Secret and
always makes a new one.
*/}}
{{- define "ferry.servingCert" -}}
{{- $existing := lookup "v1" "Secret" "ferry-system" "ferry-apiserver-tls" }}
{{- $data := dict }}
{{- if $existing }}{{ $data = $existing.data | default dict }}{{ end }}
{{- if and (index $data "ca.crt") (index $data "tls.crt") (index $data "tls.key") }}
ca.crt: {{ index $data "ca.crt" }}
tls.crt: {{ index $data "tls.crt" }}
tls.key: {{ index $data "tls.key" }}
{{- else }}
{{- $svc := "ferry-apiserver.ferry-system.svc" }}
{{- $ca := genCA "ferry-apiserver-ca" 3650 }}
{{- $cert := genSignedCert $svc nil (list "ferry-apiserver" "ferry-apiserver.ferry-system" $svc (printf "%s.cluster.local" $svc)) 365 $ca }}
ca.crt: {{ $ca.Cert | b64enc }}
tls.crt: {{ $cert.Cert | b64enc }}
tls.key: {{ $cert.Key | b64enc }}
{{- end }}
{{- end }}
