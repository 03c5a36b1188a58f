{{/* Names and labels. */}}
{{- define "arbiter.fullname" -}}
{{- printf "%s" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "arbiter.labels" -}}
app.kubernetes.io/name: arbiter
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "arbiter.selector" -}}
app.kubernetes.io/name: arbiter
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "arbiter.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The log's in-cluster address. */}}
{{- define "arbiter.logAddress" -}}
{{- printf "%s-log:%d" (include "arbiter.fullname" .) (int .Values.log.port) -}}
{{- end -}}

{{/* Checks that make a wrong install fail at `helm install`, not at 3 am. */}}
{{- define "arbiter.validate" -}}
{{- if not (has .Values.log.store (list "sqlite" "etcd")) -}}
{{- fail (printf "log.store=%s: sqlite or etcd" .Values.log.store) -}}
{{- end -}}
{{- if and (eq .Values.log.store "etcd") (empty .Values.log.etcd.endpoints) -}}
{{- fail "log.etcd.endpoints: the etcd members' host:port, required with log.store=etcd" -}}
{{- end -}}
{{- if and (gt (int .Values.log.replicas) 1) (ne .Values.log.store "etcd") -}}
{{- fail "log.replicas > 1 needs log.store=etcd: the SQLite store is one process's" -}}
{{- end -}}
{{- $ws := .Values.writer.updateStrategy -}}
{{- if not (has $ws.type (list "OnDelete" "RollingUpdate")) -}}
{{- fail "writer.updateStrategy.type: OnDelete or RollingUpdate" -}}
{{- end -}}
{{- if eq $ws.type "RollingUpdate" -}}
{{- $surge := ((($ws.rollingUpdate | default dict).maxSurge) | default 0) | toString -}}
{{- if not (has $surge (list "0" "0%")) -}}
{{- fail "writer.updateStrategy.rollingUpdate.maxSurge must be 0: two writers on one node would share its data directory" -}}
{{- end -}}
{{- end -}}
{{- $stop := add (int .Values.reader.preStopSleepSeconds) (include "arbiter.seconds" .Values.reader.drainGrace | int) 5 -}}
{{- if lt (int .Values.reader.terminationGracePeriodSeconds) $stop -}}
{{- fail (printf "reader.terminationGracePeriodSeconds (%d) must be at least preStopSleepSeconds + drainGrace + 5 s for in-flight calls (%d)" (int .Values.reader.terminationGracePeriodSeconds) $stop) -}}
{{- end -}}
{{- if lt (int .Values.writer.terminationGracePeriodSeconds) (add (include "arbiter.seconds" .Values.writer.drainTimeout | int) 10) -}}
{{- fail "writer.terminationGracePeriodSeconds must exceed writer.drainTimeout by 10 s" -}}
{{- end -}}
{{- end -}}

{{/* A duration of whole seconds or minutes ("5s", "2m") as seconds. */}}
{{- define "arbiter.seconds" -}}
{{- $d := toString . -}}
{{- if hasSuffix "m" $d -}}{{ mul (trimSuffix "m" $d | int) 60 }}
{{- else if hasSuffix "s" $d -}}{{ trimSuffix "s" $d | int }}
{{- else -}}{{ fail (printf "%s: a duration such as 5s or 2m" $d) }}
{{- end -}}
{{- end -}}

{{/* Pod-level security: non-root, the shared uid/gid. */}}
{{- define "arbiter.podSecurity" -}}
runAsNonRoot: true
runAsUser: {{ .Values.uid }}
runAsGroup: {{ .Values.gid }}
fsGroup: {{ .Values.gid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "arbiter.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* TLS flags: every server serves TLS with the pod's certificate (which
     it also presents to the log); requireClientCerts for the log and the
     writer; towardsLog for the writer and readers. */}}
{{- define "arbiter.tlsArgs" -}}
{{- if .root.Values.tls.enabled -}}
- --tls_cert=/etc/arbiter/tls/tls.crt
- --tls_key=/etc/arbiter/tls/tls.key
- --health_listen=0.0.0.0:{{ .root.Values.tls.healthPort }}
{{- if .requireClientCerts }}
- --tls_client_ca=/etc/arbiter/tls/ca.crt
{{- end }}
{{- if .towardsLog }}
- --tls_ca=/etc/arbiter/tls/ca.crt
{{- end }}
{{- end }}
{{- end -}}

{{- define "arbiter.tlsVolume" -}}
{{- if .Values.tls.enabled -}}
- name: tls
  secret:
    secretName: {{ .Values.tls.secretName }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "arbiter.tlsMount" -}}
{{- if .Values.tls.enabled -}}
- name: tls
  mountPath: /etc/arbiter/tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* gRPC probes speak plaintext: with TLS they use the health-only port. */}}
{{- define "arbiter.readiness" -}}
readinessProbe:
  grpc:
    port: {{ if .root.Values.tls.enabled }}{{ .root.Values.tls.healthPort }}{{ else }}{{ .port }}{{ end }}
  periodSeconds: 2
  failureThreshold: 1
  successThreshold: 1
{{- end -}}

{{/* Liveness is the port answering, not SERVING: a reader that refuses
     because its host is stale must not be restarted for it. */}}
{{- define "arbiter.liveness" -}}
livenessProbe:
  tcpSocket:
    port: {{ .port }}
  initialDelaySeconds: 10
  periodSeconds: 10
  failureThreshold: 6
{{- end -}}

{{- define "arbiter.metricsAnnotations" -}}
{{- if .root.Values.metrics.annotations -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}
