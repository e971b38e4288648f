{{/*
The objects of one service. Every templates/<service>/*.yaml includes one of these with
(dict "root" $ "component" "<service>"), so that the five services stay the same shape and a
fix reaches all of them.
*/}}

{{- define "wildlens.deployment" -}}
{{- $root := .root }}
{{- $name := .component }}
{{- $svc := index $root.Values $name }}
{{- if $svc.enabled }}
{{- $gpu := include "wildlens.gpuEnabled" . }}
{{- $fullname := include "wildlens.componentName" . }}
{{- $resources := deepCopy $svc.resources }}
{{- $nodeSelector := deepCopy $svc.nodeSelector }}
{{- $tolerations := $svc.tolerations }}
{{- if $gpu }}
{{- $limits := default dict $resources.limits }}
{{- $_ := set $limits "nvidia.com/gpu" $svc.gpu.count }}
{{- $_ := set $resources "limits" $limits }}
{{- $nodeSelector = merge (deepCopy $svc.gpu.nodeSelector) $nodeSelector }}
{{- $tolerations = concat $svc.tolerations $svc.gpu.tolerations }}
{{- end }}
{{- $detector := dict }}
{{- if hasKey $svc "detector" }}{{ $detector = $svc.detector }}{{ end }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "wildlens.labels" . | nindent 4 }}
spec:
  {{- if not $svc.autoscaling.enabled }}
  replicas: {{ $svc.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "wildlens.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        checksum/config: {{ include "wildlens.configData" $root | sha256sum }}
        {{- with $svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "wildlens.labels" . | nindent 8 }}
    spec:
      serviceAccountName: {{ include "wildlens.serviceAccountName" $root }}
      # The services never call the Kubernetes API.
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if and $gpu $svc.gpu.runtimeClassName }}
      runtimeClassName: {{ $svc.gpu.runtimeClassName }}
      {{- end }}
      securityContext:
        {{- include "wildlens.podSecurityContext" $root | nindent 8 }}
      {{- if eq (default "" $detector.source) "initContainer" }}
      initContainers:
        - name: detector-bundle
          image: {{ required "inference.detector.initContainer.image is required when inference.detector.source is initContainer" $detector.initContainer.image }}
          imagePullPolicy: IfNotPresent
          {{- if $detector.initContainer.command }}
          command:
            {{- toYaml $detector.initContainer.command | nindent 12 }}
          {{- else }}
          command: ["cp", "-R", "/bundle/.", {{ $detector.mountPath | quote }}]
          {{- end }}
          securityContext:
            {{- include "wildlens.containerSecurityContext" $root | nindent 12 }}
          resources:
            {{- toYaml $detector.initContainer.resources | nindent 12 }}
          volumeMounts:
            - name: detector
              mountPath: {{ $detector.mountPath }}
      {{- end }}
      containers:
        - name: {{ $name }}
          image: {{ include "wildlens.serviceImage" . }}
          imagePullPolicy: {{ $svc.image.pullPolicy }}
          args: ["serve", {{ $name | quote }}, "--port", "8000", "--no-migrate"]
          ports:
            - name: http
              containerPort: 8000
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ printf "%s-config" (include "wildlens.fullname" $root) }}
          env:
            {{- include "wildlens.secretEnv" $root | nindent 12 }}
            {{- if eq $name "catalogue" }}
            # The token issuer, and the only pod that sees the private key.
            - name: WILDLENS_AUTH__PRIVATE_KEY_FILE
              value: {{ printf "%s/private.pem" (include "wildlens.keysDir" $root) | quote }}
            {{- end }}
            {{- if and (eq $name "training") (include "wildlens.trainingWorkers" $root) }}
            # Training jobs go to the training worker pods; these serve the API only.
            - name: WILDLENS_TRAINING__TRAINING_JOBS
              value: "0"
            {{- end }}
            {{- if $detector.source }}
            - name: WILDLENS_INFERENCE__DETECTOR
              value: {{ $detector.mountPath | quote }}
            {{- end }}
            {{- with $svc.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          # Slow first starts (model loading, cold caches) get their own budget so that the
          # liveness probe can stay strict afterwards.
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 5
            failureThreshold: 60
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          # /readyz checks the database, the broker and the storage: a pod that cannot reach
          # them is taken out of the Service instead of being restarted.
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 5
            timeoutSeconds: 5
            failureThreshold: 3
          resources:
            {{- toYaml $resources | nindent 12 }}
          securityContext:
            {{- include "wildlens.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: signing-key
              mountPath: {{ include "wildlens.keysDir" $root }}
              readOnly: true
            {{- if $detector.source }}
            - name: detector
              mountPath: {{ $detector.mountPath }}
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $root.Values.tmpSizeLimit }}
        - name: signing-key
          secret:
            secretName: {{ include "wildlens.signingKeySecret" $root }}
            # Readable by the pod's group (fsGroup) only.
            defaultMode: 0440
            items:
              - key: {{ $root.Values.auth.publicKeyKey }}
                path: public.pem
              {{- if eq $name "catalogue" }}
              - key: {{ $root.Values.auth.privateKeyKey }}
                path: private.pem
              {{- end }}
        {{- if eq (default "" $detector.source) "pvc" }}
        - name: detector
          persistentVolumeClaim:
            claimName: {{ required "inference.detector.pvc.claimName is required when inference.detector.source is pvc" $detector.pvc.claimName }}
            readOnly: true
        {{- else if eq (default "" $detector.source) "initContainer" }}
        - name: detector
          emptyDir:
            sizeLimit: {{ $detector.initContainer.sizeLimit }}
        {{- end }}
      {{- with $nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      affinity:
        {{- if $svc.affinity }}
        {{- toYaml $svc.affinity | nindent 8 }}
        {{- else }}
        # Replicas on different nodes where possible, so that one node going down leaves the
        # service up.
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- include "wildlens.selectorLabels" . | nindent 20 }}
        {{- end }}
{{- end }}
{{- end }}

{{- define "wildlens.service" -}}
{{- $svc := index .root.Values .component }}
{{- if $svc.enabled }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "wildlens.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "wildlens.labels" . | nindent 4 }}
spec:
  type: {{ .root.Values.service.type }}
  ports:
    - name: http
      port: {{ .root.Values.service.port }}
      targetPort: http
      protocol: TCP
  selector:
    {{- include "wildlens.selectorLabels" . | nindent 4 }}
{{- end }}
{{- end }}

{{/*
Autoscaling: a CPU HorizontalPodAutoscaler, or, with queueDepth on, a KEDA ScaledObject that
scales on the RabbitMQ queues and CPU together (KEDA owns the HPA then, so the chart renders
none).
*/}}
{{- define "wildlens.hpa" -}}
{{- $root := .root }}
{{- $svc := index $root.Values .component }}
{{- $as := $svc.autoscaling }}
{{- if and $svc.enabled $as.enabled }}
{{- $fullname := include "wildlens.componentName" . }}
{{- if $as.queueDepth.enabled }}
{{- if not $as.queueDepth.queues }}
{{- fail (printf "%s.autoscaling.queueDepth.queues must name at least one queue" .component) }}
{{- end }}
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: {{ $fullname }}-rabbitmq
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "wildlens.labels" . | nindent 4 }}
spec:
  secretTargetRef:
    {{- $own := include "wildlens.credentialsSecret" $root }}
    - parameter: username
      name: {{ default $own $root.Values.broker.existingSecret }}
      key: {{ ternary $root.Values.broker.existingSecretUsernameKey "broker-username" (not (empty $root.Values.broker.existingSecret)) }}
    - parameter: password
      name: {{ default $own $root.Values.broker.existingSecret }}
      key: {{ ternary $root.Values.broker.existingSecretPasswordKey "broker-password" (not (empty $root.Values.broker.existingSecret)) }}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ $fullname }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "wildlens.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    name: {{ $fullname }}
  minReplicaCount: {{ $as.minReplicas }}
  maxReplicaCount: {{ $as.maxReplicas }}
  # RabbitMQ is reached with the URL the pods use (it carries no credentials) and the broker
  # credentials from the TriggerAuthentication.
  triggers:
    {{- range $as.queueDepth.queues }}
    - type: rabbitmq
      metadata:
        protocol: amqp
        mode: QueueLength
        queueName: {{ . | quote }}
        value: {{ $as.queueDepth.messagesPerReplica | quote }}
        hostFromEnv: WILDLENS_BROKER_URL
      authenticationRef:
        name: {{ $fullname }}-rabbitmq
    {{- end }}
    - type: cpu
      metricType: Utilization
      metadata:
        value: {{ $as.targetCPUUtilizationPercentage | quote }}
{{- else }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $fullname }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "wildlens.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $fullname }}
  minReplicas: {{ $as.minReplicas }}
  maxReplicas: {{ $as.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $as.targetCPUUtilizationPercentage }}
{{- end }}
{{- end }}
{{- end }}

{{- define "wildlens.pdb" -}}
{{- $svc := index .root.Values .component }}
{{- if and $svc.enabled $svc.pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "wildlens.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "wildlens.labels" . | nindent 4 }}
spec:
  minAvailable: {{ $svc.pdb.minAvailable }}
  selector:
    matchLabels:
      {{- include "wildlens.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}

{{- define "wildlens.serviceMonitor" -}}
{{- $svc := index .root.Values .component }}
{{- $sm := .root.Values.metrics.serviceMonitor }}
{{- if and $svc.enabled $sm.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "wildlens.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "wildlens.labels" . | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "wildlens.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
{{- end }}
{{- end }}
