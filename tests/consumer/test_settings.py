from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from consumer.config.environment import (
    UnknownSettingError,
    known_variables,
    load_settings,
    unknown_variables,
)
from consumer.config.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("LOAN_SCORER_"):
            monkeypatch.delenv(name)


def test_defaults_are_the_documented_contract() -> None:
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.input_topic == "loan-applications"
    assert settings.output_topic == "loan-scores"
    assert settings.dlq_topic == "loan-applications.dlq"
    assert settings.group_id == "loan-scorer"
    assert settings.http_port == 8000
    assert settings.delivery == "exactly-once"
    assert settings.shutdown_timeout_s == 20.0


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAN_SCORER_INPUT_TOPIC", "apps")
    monkeypatch.setenv("LOAN_SCORER_DELIVERY", "at-least-once")
    monkeypatch.setenv("LOAN_SCORER_BATCH_MAX_EVENTS", "64")
    settings = Settings()
    assert (settings.input_topic, settings.delivery, settings.batch_max_events) == (
        "apps",
        "at-least-once",
        64,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LOAN_SCORER_DELIVERY", "twice", "delivery"),
        ("LOAN_SCORER_HTTP_PORT", "70000", "http_port"),
        ("LOAN_SCORER_BATCH_MAX_EVENTS", "0", "batch_max_events"),
        ("LOAN_SCORER_KAFKA_EXTRA_CONFIG", "not json", "JSON object"),
        ("LOAN_SCORER_KAFKA_EXTRA_CONFIG", '["a"]', "JSON object"),
        ("LOAN_SCORER_KAFKA_EXTRA_CONFIG", '{"enable.idempotence": false}', "enable.idempotence"),
        ("LOAN_SCORER_OUTPUT_TOPIC", "loan-applications", "must all be different"),
        ("LOAN_SCORER_DEDUP_TOPIC", "loan-scores", "must all be different"),
    ],
)
def test_invalid_configuration_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_sasl_credentials_reach_librdkafka_but_never_the_redacted_view(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOAN_SCORER_KAFKA_SASL_USERNAME", "scorer")
    monkeypatch.setenv("LOAN_SCORER_KAFKA_SASL_PASSWORD", "hunter2-very-secret")
    monkeypatch.setenv(
        "LOAN_SCORER_KAFKA_EXTRA_CONFIG",
        '{"security.protocol": "SASL_SSL", "ssl.key.password": "also-secret"}',
    )
    settings = Settings()

    librdkafka = settings.kafka_common_config()
    assert librdkafka["sasl.password"] == "hunter2-very-secret"
    assert librdkafka["security.protocol"] == "SASL_SSL"

    shown = repr(settings) + str(settings.redacted())
    assert "hunter2-very-secret" not in shown
    assert "also-secret" not in shown
    assert settings.redacted()["kafka_extra_config"]["security.protocol"] == "SASL_SSL"


def test_half_configured_sasl_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAN_SCORER_KAFKA_SASL_USERNAME", "scorer")
    with pytest.raises(ValidationError, match="SASL"):
        Settings()


def test_registry_credentials_reach_the_registry_client_but_never_the_redacted_view(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from consumer.kafka.schema_registry import registry_client

    monkeypatch.setenv(
        "LOAN_SCORER_SCHEMA_REGISTRY_URL", "https://registry.example/apis/ccompat/v7"
    )
    monkeypatch.setenv("LOAN_SCORER_SCHEMA_REGISTRY_USERNAME", "scorer")
    monkeypatch.setenv("LOAN_SCORER_SCHEMA_REGISTRY_PASSWORD", "registry-very-secret")
    settings = Settings()

    client = registry_client(settings)
    config = client.config()  # type: ignore[no-untyped-call]  # the client is untyped here
    assert config["basic.auth.user.info"] == "scorer:registry-very-secret"
    shown = repr(settings) + str(settings.redacted())
    assert "registry-very-secret" not in shown
    assert settings.redacted()["schema_registry_url"] == "https://registry.example/apis/ccompat/v7"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LOAN_SCORER_SCHEMA_REGISTRY_USERNAME", "scorer", "SCHEMA_REGISTRY_USERNAME"),
        ("LOAN_SCORER_SCHEMA_REGISTRY_URL", "https://u:p@registry.example", "credentials"),
    ],
)
def test_half_configured_or_url_borne_registry_credentials_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_a_registry_url_with_an_at_sign_in_its_path_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOAN_SCORER_SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081/x@y")
    assert Settings().schema_registry_url == "http://127.0.0.1:8081/x@y"


def test_transactional_id_is_stable_per_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAN_SCORER_INSTANCE_ID", "loan-scorer-2")
    assert Settings().transactional_id == "loan-scorer-loan-scorer-2"
    # Two instances of one group never share an id (one would fence the other).
    monkeypatch.setenv("LOAN_SCORER_INSTANCE_ID", "loan-scorer-3")
    assert Settings().transactional_id == "loan-scorer-loan-scorer-3"


def test_env_file_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "scorer.env"
    env_file.write_text("LOAN_SCORER_GROUP_ID=from-file\nLOAN_SCORER_INPUT_TOPIC=file-topic\n")
    monkeypatch.setenv("LOAN_SCORER_INPUT_TOPIC", "env-topic")
    settings = load_settings(env_file)
    assert settings.group_id == "from-file"
    assert settings.input_topic == "env-topic"


def test_mlflow_home_from_the_env_file_reaches_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry import store

    # Recorded by monkeypatch, so the export below is undone after the test.
    monkeypatch.setenv("LOAN_SCORER_MLFLOW_HOME", "placeholder")
    monkeypatch.delenv("LOAN_SCORER_MLFLOW_HOME")
    env_file = tmp_path / "scorer.env"
    env_file.write_text(f"LOAN_SCORER_MLFLOW_HOME={tmp_path / 'mlflow'}\n")
    load_settings(env_file)
    assert store.home() == (tmp_path / "mlflow").resolve()


def test_the_environment_wins_over_the_env_file_for_exported_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry import store

    monkeypatch.setenv("LOAN_SCORER_MLFLOW_HOME", str(tmp_path / "from-env"))
    env_file = tmp_path / "scorer.env"
    env_file.write_text(f"LOAN_SCORER_MLFLOW_HOME={tmp_path / 'from-file'}\n")
    assert load_settings(env_file).mlflow_home == tmp_path / "from-env"
    assert store.home() == (tmp_path / "from-env").resolve()


def test_every_setting_read_from_the_environment_elsewhere_is_exported() -> None:
    """A LOAN_SCORER_* variable read with os.environ outside the settings would ignore
    --env-file, unless load_settings exports it."""
    import re

    from consumer.config.environment import EXPORTED_TO_ENVIRONMENT

    root = Path(__file__).resolve().parents[2]
    read = re.compile(r"""environ(?:\.get\(|\[)\s*["']LOAN_SCORER_([A-Z0-9_]+)["']""")
    names = {
        match.lower()
        for package in ("consumer", "registry", "training", "scoring", "impact", "schemas")
        for source in (root / package).rglob("*.py")
        for match in read.findall(source.read_text())
    }
    assert "mlflow_home" in names  # the scan finds what it is meant to find
    assert names <= set(EXPORTED_TO_ENVIRONMENT)


def test_missing_env_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="settings file not found"):
        load_settings(tmp_path / "absent.env")


def test_a_misspelt_variable_is_refused_naming_the_closest_valid_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOAN_SCORER_KAFKA_BOOTSTRAP_SERVER", "broker:9092")
    with pytest.raises(UnknownSettingError) as caught:
        load_settings()
    assert caught.value.unknown == {
        "LOAN_SCORER_KAFKA_BOOTSTRAP_SERVER": "LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS"
    }
    assert "did you mean LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS?" in str(caught.value)


def test_an_unknown_variable_with_no_close_name_is_refused_without_a_guess(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOAN_SCORER_ZZZ", "1")
    with pytest.raises(UnknownSettingError) as caught:
        load_settings()
    assert caught.value.unknown == {"LOAN_SCORER_ZZZ": None}
    assert "did you mean" not in str(caught.value)


def test_a_misspelt_variable_in_the_env_file_is_refused(tmp_path: Path) -> None:
    env_file = tmp_path / "scorer.env"
    env_file.write_text("LOAN_SCORER_GROUP_ID=g\nLOAN_SCORER_OUTPUT_TOPC=scores\n")
    with pytest.raises(UnknownSettingError, match="did you mean LOAN_SCORER_OUTPUT_TOPIC"):
        load_settings(env_file)


def test_every_setting_and_only_those_are_known_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "LOAN_SCORER_AUTO_OFFSET_RESET" in known_variables()
    assert unknown_variables(known_variables()) == {}
    assert unknown_variables(["PATH", "KAFKA_PORT", "loan_scorer_group_id"]) == {}
    monkeypatch.setenv("LOAN_SCORER_GROUP_ID", "valid")
    assert load_settings().group_id == "valid"


def test_the_cli_exits_2_naming_the_unknown_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from consumer.cli import app

    monkeypatch.setenv("LOAN_SCORER_INPUT_TOPICS", "apps")
    result = CliRunner().invoke(app, ["tail", "--limit", "0"])
    assert result.exit_code == 2
    assert "LOAN_SCORER_INPUT_TOPICS: unknown; did you mean LOAN_SCORER_INPUT_TOPIC?" in (
        result.stderr
    )


def test_each_consumer_group_keeps_its_own_changelog_of_scored_ids() -> None:
    # Two groups reading one input (a second deployment, a challenger) must each score it.
    first = Settings.model_validate({"group_id": "loan-scorer"})
    second = Settings.model_validate({"group_id": "loan-scorer-challenger"})
    assert first.changelog_topic == "loan-scorer-scored-ids-changelog"
    assert second.changelog_topic != first.changelog_topic
    assert Settings.model_validate({"dedup_topic": "ids"}).changelog_topic == "ids"


def test_challengers_are_read_from_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LOAN_SCORER_CHALLENGERS",
        '[{"model_dir": "build/challenger"}, {"model_dir": "m2", "mode": "canary", "share": 0.1}]',
    )
    settings = Settings()
    assert [(c.model_dir, c.mode, c.share) for c in settings.challengers] == [
        (Path("build/challenger"), "shadow", 0.0),
        (Path("m2"), "canary", 0.1),
    ]
    assert settings.shadow_topic == "loan-scores.shadow"
    assert settings.outcomes_topic == "loan-outcomes"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('[{"model_dir": "m", "mode": "canary"}]', "share above 0"),
        ('[{"model_dir": "m", "share": 0.2}]', "leave share out"),
        (
            '[{"model_dir": "a", "mode": "canary", "share": 0.6},'
            ' {"model_dir": "b", "mode": "canary", "share": 0.5}]',
            "more than 1",
        ),
        ('[{"model_dir": "m", "mode": "referee"}]', "mode"),
        ('{"model_dir": "m"}', "JSON list"),
        ("[not json", "JSON list"),
    ],
)
def test_a_wrong_challenger_setting_is_refused_saying_why(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("LOAN_SCORER_CHALLENGERS", value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_the_shadow_topic_cannot_be_the_output_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAN_SCORER_SHADOW_TOPIC", "loan-scores")
    with pytest.raises(ValidationError, match="shadow and outcomes topics"):
        Settings()


def test_security_settings_have_variables_of_their_own_that_reach_librdkafka(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOAN_SCORER_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("LOAN_SCORER_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("LOAN_SCORER_KAFKA_SSL_CA_LOCATION", "/etc/kafka/ca.pem")
    monkeypatch.setenv("LOAN_SCORER_KAFKA_SASL_USERNAME", "scorer")
    monkeypatch.setenv("LOAN_SCORER_KAFKA_SASL_PASSWORD", "s3cret-scram")
    settings = Settings()
    librdkafka = settings.kafka_common_config()
    assert {key: librdkafka[key] for key in ("security.protocol", "sasl.mechanism")} == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
    }
    assert librdkafka["ssl.ca.location"] == "/etc/kafka/ca.pem"
    assert librdkafka["sasl.password"] == "s3cret-scram"
    assert "s3cret-scram" not in repr(settings) + str(settings.redacted())


@pytest.mark.parametrize(
    ("name", "value", "key"),
    [
        ("LOAN_SCORER_KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "security.protocol"),
        ("LOAN_SCORER_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "sasl.mechanism"),
        ("LOAN_SCORER_KAFKA_SSL_CA_LOCATION", "/etc/kafka/ca.pem", "ssl.ca.location"),
    ],
)
def test_a_security_setting_given_twice_with_different_values_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, key: str
) -> None:
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("LOAN_SCORER_KAFKA_EXTRA_CONFIG", f'{{"{key}": "PLAIN-other"}}')
    with pytest.raises(ValidationError, match=f"{key} is .* set it in one place"):
        Settings()
    monkeypatch.setenv("LOAN_SCORER_KAFKA_EXTRA_CONFIG", f'{{"{key}": "{value}"}}')
    assert Settings().kafka_common_config()[key] == value  # the same value twice is harmless


def test_an_unknown_security_protocol_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAN_SCORER_KAFKA_SECURITY_PROTOCOL", "TLS")
    with pytest.raises(ValidationError, match="kafka_security_protocol"):
        Settings()


def test_clients_do_not_rebootstrap_past_their_reconnect_backoff_unless_told_to() -> None:
    assert Settings().kafka_common_config()["metadata.recovery.strategy"] == "none"
    assert Settings().kafka_common_config()["reconnect.backoff.ms"] == 2_000
    slower = Settings(kafka_extra_config={"reconnect.backoff.ms": 5_000})
    assert slower.kafka_common_config()["reconnect.backoff.ms"] == 5_000
    told = Settings(kafka_extra_config={"metadata.recovery.strategy": "rebootstrap"})
    assert told.kafka_common_config()["metadata.recovery.strategy"] == "rebootstrap"
