{{/*
Names, labels, image references and the environment shared by every Wildlens pod.
*/}}

{{/* The services, in the order objects are rendered. */}}
{{- define "wildlens.serviceNames" -}}
ingest catalogue citsci training inference
{{- end }}

{{- define "wildlens.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release-chart, unless the release name already contains the chart name. Kept to 50
characters so that "-<component>" suffixes still fit the 63-character limit of object names.
*/}}
{{- define "wildlens.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "wildlens.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that never change for an object's life: selectors use exactly these. Takes (dict "root" $ "component" name). */}}
{{- define "wildlens.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wildlens.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* All labels. Takes (dict "root" $ "component" name). */}}
{{- define "wildlens.labels" -}}
helm.sh/chart: {{ include "wildlens.chart" .root }}
{{ include "wildlens.selectorLabels" . }}
app.kubernetes.io/part-of: wildlens
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/* Name of one component's objects. Takes (dict "root" $ "component" name). */}}
{{- define "wildlens.componentName" -}}
{{- printf "%s-%s" (include "wildlens.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "wildlens.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wildlens.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* An image reference; a digest wins over the tag. Takes (dict "root" $ "image" imageValues). */}}
{{- define "wildlens.imageRef" -}}
{{- $repo := .image.repository }}
{{- with .root.Values.imageRegistry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}
{{- end }}
{{- if .image.digest }}
{{- printf "%s@%s" $repo .image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/* True ("true") when a service runs on a GPU. Takes (dict "root" $ "component" name). */}}
{{- define "wildlens.gpuEnabled" -}}
{{- $svc := index .root.Values .component }}
{{- $elsewhere := and (eq .component "training") (include "wildlens.trainingWorkers" .root) }}
{{- if and (hasKey $svc "gpu") $svc.gpu.enabled (not $elsewhere) }}true{{ end }}
{{- end }}

{{/*
True ("true") when training runs in training worker pods of their own (training.worker): they
get the training GPU then, and the training API pods train nothing. Takes the root context.
*/}}
{{- define "wildlens.trainingWorkers" -}}
{{- if and .Values.training.enabled .Values.training.worker.enabled }}true{{ end }}
{{- end }}

{{/* A service's image: the GPU variant when its gpu block is on. Takes (dict "root" $ "component" name). */}}
{{- define "wildlens.serviceImage" -}}
{{- $svc := index .root.Values .component }}
{{- if include "wildlens.gpuEnabled" . }}
{{- include "wildlens.imageRef" (dict "root" .root "image" $svc.gpu.image) }}
{{- else }}
{{- include "wildlens.imageRef" (dict "root" .root "image" $svc.image) }}
{{- end }}
{{- end }}

{{/* Backend URLs: the values, or the dev backends when they are on. */}}
{{- define "wildlens.databaseUrl" -}}
{{- if .Values.database.url }}{{ .Values.database.url }}
{{- else if .Values.devDependencies.enabled }}
{{- $pg := .Values.devDependencies.postgresql }}
{{- printf "postgresql+asyncpg://%s@%s:5432/%s" $pg.database (include "wildlens.componentName" (dict "root" . "component" "postgresql")) $pg.database }}
{{- end }}
{{- end }}

{{- define "wildlens.brokerUrl" -}}
{{- if .Values.broker.url }}{{ .Values.broker.url }}
{{- else if .Values.devDependencies.enabled }}
{{- printf "amqp://%s:5672/%s" (include "wildlens.componentName" (dict "root" . "component" "rabbitmq")) .Values.devDependencies.rabbitmq.vhost }}
{{- end }}
{{- end }}

{{- define "wildlens.storageUrl" -}}
{{- if .Values.storage.url }}{{ .Values.storage.url }}
{{- else if .Values.devDependencies.enabled }}
{{- printf "s3://%s:9000/%s?secure=false&region=us-east-1" (include "wildlens.componentName" (dict "root" . "component" "minio")) .Values.devDependencies.minio.bucket }}
{{- end }}
{{- end }}

{{/* Where the platform's public (and, in the catalogue, private) key is mounted. */}}
{{- define "wildlens.keysDir" -}}/etc/wildlens/keys{{- end }}

{{/*
Shared non-secret settings as a YAML map: the ConfigMap's data, the migrations Job's
environment (a pre-install hook runs before the ConfigMap exists), and the input of the
checksum/config annotation that rolls the pods when they change.
*/}}
{{- define "wildlens.configData" -}}
WILDLENS_MODE: distributed
# Embedded-mode scratch only; the root filesystem is read-only and /tmp is an emptyDir.
WILDLENS_DATA_DIR: /tmp/wildlens
WILDLENS_DATABASE_URL: {{ include "wildlens.databaseUrl" . | quote }}
WILDLENS_BROKER_URL: {{ include "wildlens.brokerUrl" . | quote }}
WILDLENS_STORAGE_URL: {{ include "wildlens.storageUrl" . | quote }}
{{- with .Values.storage.publicEndpoint }}
WILDLENS_STORAGE__PUBLIC_ENDPOINT: {{ . | quote }}
{{- end }}
WILDLENS_STORAGE__CREATE_BUCKET: {{ .Values.storage.createBucket | quote }}
WILDLENS_LOG_LEVEL: {{ .Values.config.logLevel | quote }}
WILDLENS_LOG_JSON: {{ .Values.config.logJson | quote }}
WILDLENS_AUTH__ISSUER: {{ .Values.auth.issuer | quote }}
WILDLENS_AUTH__PUBLIC_KEY_FILE: {{ printf "%s/public.pem" (include "wildlens.keysDir" .) | quote }}
# The migrations Job owns the schema; a service never migrates as it starts.
WILDLENS_MIGRATE_ON_START: "false"
# Where each enabled service answers the others (inside the cluster, not through the Ingress).
{{- range $name := splitList " " (include "wildlens.serviceNames" .) }}
{{- if (index $.Values $name).enabled }}
{{ printf "WILDLENS_SERVICES__%s_URL" (upper $name) }}: {{ printf "http://%s:%v" (include "wildlens.componentName" (dict "root" $ "component" $name)) $.Values.service.port | quote }}
{{- end }}
{{- end }}
{{- range $key, $value := .Values.config.extraEnv }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* Secret names and keys of each credential. */}}
{{- define "wildlens.credentialsSecret" -}}
{{- printf "%s-credentials" (include "wildlens.fullname" .) }}
{{- end }}

{{- define "wildlens.signingKeySecret" -}}
{{- default (printf "%s-signing-key" (include "wildlens.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{/* The credentials as environment variables from their Secrets. */}}
{{- define "wildlens.secretEnv" -}}
{{- $own := include "wildlens.credentialsSecret" . -}}
- name: WILDLENS_DATABASE__PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default $own .Values.database.existingSecret }}
      key: {{ ternary .Values.database.existingSecretPasswordKey "database-password" (not (empty .Values.database.existingSecret)) }}
- name: WILDLENS_BROKER__USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ default $own .Values.broker.existingSecret }}
      key: {{ ternary .Values.broker.existingSecretUsernameKey "broker-username" (not (empty .Values.broker.existingSecret)) }}
- name: WILDLENS_BROKER__PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default $own .Values.broker.existingSecret }}
      key: {{ ternary .Values.broker.existingSecretPasswordKey "broker-password" (not (empty .Values.broker.existingSecret)) }}
- name: WILDLENS_STORAGE__ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ default $own .Values.storage.existingSecret }}
      key: {{ ternary .Values.storage.existingSecretAccessKeyKey "storage-access-key" (not (empty .Values.storage.existingSecret)) }}
- name: WILDLENS_STORAGE__SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ default $own .Values.storage.existingSecret }}
      key: {{ ternary .Values.storage.existingSecretSecretKeyKey "storage-secret-key" (not (empty .Values.storage.existingSecret)) }}
- name: WILDLENS_AUTH__SERVICE_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ default $own .Values.auth.serviceSecret.existingSecret }}
      key: {{ ternary .Values.auth.serviceSecret.existingSecretKey "service-secret" (not (empty .Values.auth.serviceSecret.existingSecret)) }}
{{- end }}

{{/* Whether the chart owns the credentials Secret (some credential has no existingSecret). */}}
{{- define "wildlens.ownsCredentials" -}}
{{- if or (not .Values.database.existingSecret) (not .Values.broker.existingSecret) (not .Values.storage.existingSecret) (not .Values.auth.serviceSecret.existingSecret) }}true{{ end }}
{{- end }}

{{- define "wildlens.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "wildlens.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext }}
{{- end }}
