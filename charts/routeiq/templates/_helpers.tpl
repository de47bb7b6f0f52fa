{{/* Names */}}
{{- define "routeiq.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "routeiq.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "routeiq.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels */}}
{{- define "routeiq.selectorLabels" -}}
app.kubernetes.io/name: {{ include "routeiq.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "routeiq.labels" -}}
helm.sh/chart: {{ include "routeiq.chart" . }}
{{ include "routeiq.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: {{ .Values.mode }}
app.kubernetes.io/part-of: routeiq
{{- end }}

{{- define "routeiq.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "routeiq.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The RouteIQ image reference: digest wins over tag; tag defaults to appVersion. */}}
{{- define "routeiq.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "routeiq.isSidecar" -}}
{{- if eq .Values.mode "sidecar" }}true{{ end }}
{{- end }}

{{/* The Secret and key holding the Redis URL ("" when Redis is not configured). */}}
{{- define "routeiq.redisSecretName" -}}
{{- if .Values.redis.existingSecret }}
{{- .Values.redis.existingSecret }}
{{- else if .Values.redis.url }}
{{- printf "%s-redis" (include "routeiq.fullname" .) }}
{{- end }}
{{- end }}

{{/* ROUTEIQ_BUNDLE for the chosen bundle source. */}}
{{- define "routeiq.bundlePath" -}}
{{- if eq .Values.bundle.source "image" }}
{{- "/opt/routeiq/bundle" }}
{{- else if .Values.bundle.subPath }}
{{- printf "%s/%s" (trimSuffix "/" .Values.bundle.mountPath) (trimPrefix "/" .Values.bundle.subPath) }}
{{- else }}
{{- .Values.bundle.mountPath }}
{{- end }}
{{- end }}

{{/* Container env of RouteIQ: the fixed ROUTEIQ_* names of the settings object. */}}
{{- define "routeiq.env" -}}
- name: ROUTEIQ_HTTP_HOST
  value: {{ .Values.routeiq.listenHost | quote }}
- name: ROUTEIQ_HTTP_PORT
  value: {{ .Values.routeiq.httpPort | quote }}
- name: ROUTEIQ_GRPC_HOST
  value: {{ .Values.routeiq.listenHost | quote }}
- name: ROUTEIQ_GRPC_PORT
  value: {{ .Values.routeiq.grpcPort | quote }}
- name: ROUTEIQ_WORKERS
  value: {{ .Values.routeiq.workers | quote }}
- name: ROUTEIQ_INTRA_OP_THREADS
  value: {{ .Values.routeiq.intraOpThreads | quote }}
- name: ROUTEIQ_LOG_LEVEL
  value: {{ .Values.routeiq.logLevel | quote }}
- name: ROUTEIQ_ENCODER_PRECISION
  value: {{ .Values.routeiq.encoderPrecision | quote }}
- name: ROUTEIQ_DEFAULT_PROFILE
  value: {{ .Values.routeiq.defaultProfile | quote }}
{{- with .Values.routeiq.defaultStrategy }}
- name: ROUTEIQ_DEFAULT_STRATEGY
  value: {{ . | quote }}
{{- end }}
- name: ROUTEIQ_HOME
  value: /opt/routeiq/home
- name: ROUTEIQ_BUNDLE
  value: {{ include "routeiq.bundlePath" . | quote }}
{{- if .Values.routeiq.catalogue }}
- name: ROUTEIQ_CATALOGUE
  value: /etc/routeiq/catalogue/catalogue.yaml
{{- end }}
{{- if .Values.routeiq.auth.existingSecret }}
- name: ROUTEIQ_AUTH_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.routeiq.auth.existingSecret }}
      key: {{ .Values.routeiq.auth.existingSecretKey }}
{{- else if .Values.routeiq.allowInsecureBind }}
- name: ROUTEIQ_ALLOW_INSECURE_BIND
  value: "true"
{{- end }}
{{- with include "routeiq.redisSecretName" . }}
- name: ROUTEIQ_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ if $.Values.redis.existingSecret }}{{ $.Values.redis.existingSecretKey }}{{ else }}redis-url{{ end }}
{{- end }}
{{- with .Values.routeiq.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Refuse settings the sidecar would refuse at start, at install time instead. */}}
{{- define "routeiq.validate" -}}
{{- $loopback := list "127.0.0.1" "::1" "localhost" }}
{{- if and (not (has .Values.routeiq.listenHost $loopback)) (not .Values.routeiq.auth.existingSecret) (not .Values.routeiq.allowInsecureBind) }}
{{- fail "routeiq.listenHost is not loopback: set routeiq.auth.existingSecret (a bearer token) or routeiq.allowInsecureBind=true" }}
{{- end }}
{{- if and (eq .Values.mode "sidecar") (has .Values.routeiq.listenHost $loopback) }}
{{- fail "mode=sidecar: kubelet probes reach RouteIQ on the pod IP, so routeiq.listenHost must not be loopback (use auth or networkPolicy to restrict callers)" }}
{{- end }}
{{- end }}
