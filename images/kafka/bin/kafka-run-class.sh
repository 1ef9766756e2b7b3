#!/usr/bin/env bash
# kafka-run-class.sh CLASS ARGS...: a Kafka tool's main class on the broker's class path.
set -euo pipefail
# shellcheck disable=SC2086 # JVM options are a word list
exec java ${KAFKA_TOOLS_HEAP_OPTS:--Xmx256m} -XX:TieredStopAtLevel=1 -Xshare:auto \
  -cp "/opt/kafka/libs/*" -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties "$@"
