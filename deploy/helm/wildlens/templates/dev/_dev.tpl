{{/*
A single-replica StatefulSet and its Service for one dev backend. Takes (dict "root" $
"component" name "image" ref "port" n "extraPorts" list "env" list "args" list "dataPath" path
"size" size "resources" map "writable" list-of-paths).
The official images write outside their data folder at start-up, so their root filesystem is
left writable; everything else matches the service pods.
*/}}
{{- define "wildlens.devBackend" -}}
{{- $root := .root }}
{{- $fullname := include "wildlens.componentName" . }}
apiVersion: v1
kind: Service
metadata:
  name: {{ $fullname }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "wildlens.labels" . | nindent 4 }}
spec:
  ports:
    - name: main
      port: {{ .port }}
      targetPort: {{ .port }}
    {{- range .extraPorts }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .port }}
    {{- end }}
  selector:
    {{- include "wildlens.selectorLabels" . | nindent 4 }}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ $fullname }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "wildlens.labels" . | nindent 4 }}
spec:
  serviceName: {{ $fullname }}
  replicas: 1
  selector:
    matchLabels:
      {{- include "wildlens.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "wildlens.labels" . | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        # The uid the official postgres and rabbitmq images create for themselves; MinIO runs as any.
        runAsUser: 999
        runAsGroup: 999
        fsGroup: 999
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: {{ .component }}
          image: {{ .image }}
          {{- with .args }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          env:
            {{- toYaml .env | nindent 12 }}
          ports:
            - name: main
              containerPort: {{ .port }}
            {{- range .extraPorts }}
            - name: {{ .name }}
              containerPort: {{ .port }}
            {{- end }}
          readinessProbe:
            tcpSocket:
              port: main
            periodSeconds: 5
          resources:
            {{- toYaml .resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: [ALL]
          volumeMounts:
            - name: data
              mountPath: {{ .dataPath }}
            {{- range $i, $path := .writable }}
            - name: {{ printf "scratch-%d" $i }}
              mountPath: {{ $path }}
            {{- end }}
      volumes:
        {{- range $i, $path := .writable }}
        - name: {{ printf "scratch-%d" $i }}
          emptyDir: {}
        {{- end }}
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: [ReadWriteOnce]
        {{- with $root.Values.devDependencies.storageClass }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ .size }}
{{- end }}
