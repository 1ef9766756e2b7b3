#!/usr/bin/env bash
# The broker's entry point, with apache/kafka's interface: every KAFKA_* environment variable
# (except the JVM option ones) becomes a server.properties entry over single-node KRaft defaults
# (`_` -> `.`, `__` -> `_`, `___` -> `-`); CLUSTER_ID names the cluster when storage is first
# formatted. Then the JVM replaces this shell (exec), so SIGTERM reaches the broker directly.
set -euo pipefail

CONFIG="/opt/kafka/config/runtime/server.properties"
# shellcheck disable=SC2054 # commas are inside property values
declare -A conf=(
  [process.roles]=broker,controller
  [node.id]=1
  [controller.quorum.voters]=1@localhost:9093
  [listeners]=PLAINTEXT://:9092,CONTROLLER://:9093
  [advertised.listeners]=PLAINTEXT://localhost:9092
  [controller.listener.names]=CONTROLLER
  [inter.broker.listener.name]=PLAINTEXT
  [listener.security.protocol.map]=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
  [log.dirs]=/var/lib/kafka/data
  [num.partitions]=1
  [offsets.topic.replication.factor]=1
  [transaction.state.log.replication.factor]=1
  [transaction.state.log.min.isr]=1
  [share.coordinator.state.topic.replication.factor]=1
  [share.coordinator.state.topic.min.isr]=1
  [group.initial.rebalance.delay.ms]=0
)
for var in $(compgen -e); do
  case "$var" in
    KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_LOG4J_OPTS | \
      KAFKA_GC_LOG_OPTS | KAFKA_JMX_OPTS | KAFKA_TOOLS_HEAP_OPTS | KAFKA_DEBUG) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  key="${var#KAFKA_}"
  key="${key,,}"
  key="${key//___/-}"
  key="${key//__/@}"
  key="${key//_/.}"
  key="${key//@/_}"
  conf[$key]="${!var}"
done
: >"$CONFIG"
for key in "${!conf[@]}"; do printf '%s=%s\n' "$key" "${conf[$key]}" >>"$CONFIG"; done

LOG4J="-Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties"
if [[ ! -f "${conf[log.dirs]%%,*}/meta.properties" ]]; then
  cluster_id="${CLUSTER_ID:-$(java -cp "/opt/kafka/libs/*" "$LOG4J" kafka.tools.StorageTool random-uuid)}"
  java -cp "/opt/kafka/libs/*" "$LOG4J" kafka.tools.StorageTool format --ignore-formatted \
    -t "$cluster_id" -c "$CONFIG"
fi
# shellcheck disable=SC2086 # JVM options are word lists
exec java ${KAFKA_HEAP_OPTS} ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC} ${KAFKA_OPTS:-} \
  -Djava.awt.headless=true -cp "/opt/kafka/libs/*" "$LOG4J" kafka.Kafka "$CONFIG"
