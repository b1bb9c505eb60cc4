"""`corridor deploy render --check` and `corridor deploy partner`, and `partners add --kafka-manifest`."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from corridor.cli.deploy import deploy
from corridor.cli.partners import partners
from corridor.core.partners import partner_acls
from corridor.deploy.render import bindings_of_rules


def test_render_check_passes_on_the_committed_files() -> None:
    result = CliRunner().invoke(deploy, ["render", "--check"])
    assert result.exit_code == 0, result.output


def test_partner_prints_its_kafka_user_and_topic() -> None:
    result = CliRunner().invoke(deploy, ["partner", "hbl-karachi"])
    assert result.exit_code == 0, result.output
    user, topic = yaml.safe_load_all(result.output)
    assert (user["kind"], topic["kind"]) == ("KafkaUser", "KafkaTopic")
    assert bindings_of_rules("User:hbl-karachi", user["spec"]["authorization"]["acls"]) == sorted(
        partner_acls("hbl-karachi")
    )


def test_a_bad_partner_id_is_refused_with_the_reason() -> None:
    result = CliRunner().invoke(deploy, ["partner", "HBL Karachi"])
    assert result.exit_code == 2
    assert "PARTNER_ID" in result.output and "invalid partner id" in result.output


def test_partners_add_checks_the_id_before_touching_the_database() -> None:
    result = CliRunner().invoke(
        partners, ["add", "Bad_Id", "--role", "supplier", "--name", "X", "--kafka-manifest", "-"]
    )
    assert result.exit_code == 2 and "invalid partner id" in result.output
