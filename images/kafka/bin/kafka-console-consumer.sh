#!/usr/bin/env bash
# kafka-console-consumer.sh: as in the Apache Kafka distribution.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
