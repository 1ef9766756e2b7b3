{{/*
Expand the name of the chart.
*/}}
{{- define "loan-scorer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "loan-scorer.fullname" -}}
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

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "loan-scorer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "loan-scorer.labels" -}}
helm.sh/chart: {{ include "loan-scorer.chart" . }}
{{ include "loan-scorer.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: loan-scorer
{{- end }}

{{/*
Selector labels
*/}}
{{- define "loan-scorer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "loan-scorer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "loan-scorer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "loan-scorer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: repository@digest when a digest is set, else repository:tag (tag defaults to
the chart's appVersion).
*/}}
{{- define "loan-scorer.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The librdkafka settings rendered into LOAN_SCORER_KAFKA_EXTRA_CONFIG: kafka.extraConfig, plus
ssl.ca.location pointing at the mounted CA when a TLS Secret is given and the key is not set.
*/}}
{{- define "loan-scorer.kafkaExtraConfig" -}}
{{- $config := deepCopy .Values.kafka.extraConfig }}
{{- if and .Values.kafka.tls.existingSecret (not (hasKey $config "ssl.ca.location")) }}
{{- $_ := set $config "ssl.ca.location" (printf "%s/%s" .Values.kafka.tls.mountPath .Values.kafka.tls.caKey) }}
{{- end }}
{{- toJson $config }}
{{- end }}

{{/*
The ConfigMap holding the decision policy: the chart's own when policy.content is set, the named
one when policy.existingConfigMap is, else empty (the policy bundled in the image).
*/}}
{{- define "loan-scorer.policyConfigMap" -}}
{{- if .Values.policy.content }}
{{- printf "%s-policy" (include "loan-scorer.fullname" .) }}
{{- else if .Values.policy.existingConfigMap }}
{{- .Values.policy.existingConfigMap }}
{{- end }}
{{- end }}

{{/*
Cross-field rules the JSON schema cannot express. Included by the workload, so every render
checks them; each failure says what to change.
*/}}
{{- define "loan-scorer.validate" -}}
{{- if eq (int .Values.scorer.opsPort) (int .Values.scorer.httpPort) }}
{{- fail "scorer.opsPort must differ from scorer.httpPort: the probes and /metrics are served apart from the API." }}
{{- end }}
{{- if and .Values.api.auth.jwt.existingSecret (not (and .Values.api.auth.jwt.issuer .Values.api.auth.jwt.audience)) }}
{{- fail "api.auth.jwt.existingSecret needs api.auth.jwt.issuer and api.auth.jwt.audience: tokens are checked against both." }}
{{- end }}
{{- $partitions := int .Values.kafka.inputPartitions }}
{{- if and .Values.keda.enabled .Values.autoscaling.enabled }}
{{- fail "keda.enabled and autoscaling.enabled are mutually exclusive: KEDA manages its own HPA. Enable one of them." }}
{{- end }}
{{- if and .Values.keda.enabled (gt (int .Values.keda.maxReplicaCount) $partitions) }}
{{- fail (printf "keda.maxReplicaCount (%d) is above kafka.inputPartitions (%d): replicas beyond the partition count get no partition and idle." (int .Values.keda.maxReplicaCount) $partitions) }}
{{- end }}
{{- if and .Values.keda.enabled (gt (int .Values.keda.minReplicaCount) (int .Values.keda.maxReplicaCount)) }}
{{- fail "keda.minReplicaCount is above keda.maxReplicaCount." }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.maxReplicas) $partitions) }}
{{- fail (printf "autoscaling.maxReplicas (%d) is above kafka.inputPartitions (%d): replicas beyond the partition count get no partition and idle." (int .Values.autoscaling.maxReplicas) $partitions) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas is above autoscaling.maxReplicas." }}
{{- end }}
{{- if and (not .Values.keda.enabled) (not .Values.autoscaling.enabled) (gt (int .Values.replicaCount) $partitions) }}
{{- fail (printf "replicaCount (%d) is above kafka.inputPartitions (%d): replicas beyond the partition count get no partition and idle." (int .Values.replicaCount) $partitions) }}
{{- end }}
{{- if and .Values.policy.content .Values.policy.existingConfigMap }}
{{- fail "policy.content and policy.existingConfigMap are mutually exclusive: give the policy inline or name a ConfigMap, not both." }}
{{- end }}
{{- $drain := add (int .Values.scorer.shutdownTimeoutSeconds) (int .Values.preStopSleepSeconds) }}
{{- if le (int .Values.terminationGracePeriodSeconds) $drain }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed scorer.shutdownTimeoutSeconds + preStopSleepSeconds (%d), or Kubernetes kills the scorer mid-commit." (int .Values.terminationGracePeriodSeconds) $drain) }}
{{- end }}
{{- $protocol := index .Values.kafka.extraConfig "security.protocol" | default "" | upper }}
{{- if and (hasPrefix "SASL" $protocol) (not .Values.kafka.auth.existingSecret) }}
{{- fail "kafka.extraConfig sets a SASL security.protocol but kafka.auth.existingSecret is empty: name the Secret holding the SASL username and password." }}
{{- end }}
{{- if and .Values.metrics.prometheusRule.enabled (not (contains "loan-scorer" (include "loan-scorer.fullname" .))) }}
{{- fail "metrics.prometheusRule.enabled: the alerts on the scrape itself (LoanScorerTargetDown, LoanScorerAbsent) select scrape jobs whose name contains \"loan-scorer\", and the ServiceMonitor's job is the Service name: keep \"loan-scorer\" in fullnameOverride (or the release name)." }}
{{- end }}
{{- if and .Values.keda.enabled .Values.keda.sasl (not .Values.kafka.auth.existingSecret) }}
{{- fail "keda.sasl is set but kafka.auth.existingSecret is empty: KEDA needs the SASL credentials too." }}
{{- end }}
{{- if and .Values.state.persistence.enabled (ne .Values.workload.kind "StatefulSet") }}
{{- fail "state.persistence.enabled needs workload.kind: StatefulSet: the claim per pod is a volumeClaimTemplate, which a Deployment has not. Set workload.kind=StatefulSet, or leave persistence off (an emptyDir)." }}
{{- end }}
{{- end }}

{{/* Where the API's credential Secrets are mounted: whole directories, so Secret updates (symlink
swaps) reach the pod and the scorer re-reads the files without a restart. */}}
{{- define "loan-scorer.apiKeysDir" -}}/etc/loan-scorer/api-keys{{- end }}
{{- define "loan-scorer.jwksDir" -}}/etc/loan-scorer/jwks{{- end }}
{{- define "loan-scorer.apiTlsDir" -}}/etc/loan-scorer/api-tls{{- end }}
