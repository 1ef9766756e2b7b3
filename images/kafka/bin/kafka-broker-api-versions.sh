#!/usr/bin/env bash
# kafka-broker-api-versions.sh: as in the Apache Kafka distribution.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
