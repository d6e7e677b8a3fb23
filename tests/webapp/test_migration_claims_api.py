"""Migration 0002 moves existing claims and exports to one ledger per claim."""

from __future__ import annotations

import pytest
from peewee import IntegrityError

from tests import services
from webapp.db import open_database
from webapp.migrate import runner, upgrade

ROWS = """
INSERT INTO organization (id, name, slug, time_zone, default_locale, created_at) VALUES
  (1, 'Én', 'en', 'Europe/Oslo', 'nb', '2026-01-01 00:00:00'),
  (2, 'To', 'to', 'Europe/Oslo', 'nb', '2026-01-01 00:00:00'),
  (3, 'Tre', 'tre', 'Europe/Oslo', 'nb', '2026-01-01 00:00:00');
INSERT INTO integration (id, organization_id, type_key, name, status, version, wizard_step,
  created_at, updated_at) VALUES
  (10, 1, 'xledger', 'Xledger', 'connected', 1, 'done', '2026-01-01', '2026-01-01'),
  (20, 2, 'xledger', 'Xledger A', 'connected', 1, 'done', '2026-01-01', '2026-01-01'),
  (21, 2, 'xledger', 'Xledger B', 'connected', 1, 'done', '2026-01-01', '2026-01-01'),
  (22, 2, 'dataverse', 'Dataverse', 'connected', 1, 'done', '2026-01-01', '2026-01-01');
INSERT INTO expense_claim (id, organization_id, claim_number, claimant_name, claimant_email,
  claimant_number, purpose, department, project, status, approved_by, created_at) VALUES
  (100, 1, 'A-1', 'Kari', '', '', '', '', '', 'approved', '', '2026-02-01 10:00:00'),
  (101, 1, 'A-2', 'Ola', '', '', '', '', '', 'approved', '', '2026-02-01 10:00:00'),
  (200, 2, 'B-1', 'Per', '', '', '', '', '', 'approved', '', '2026-02-01 10:00:00'),
  (201, 2, 'B-2', 'Pål', '', '', '', '', '', 'approved', '', '2026-02-01 10:00:00'),
  (202, 2, 'B-3', 'Espen', '', '', '', '', '', 'approved', '', '2026-02-01 10:00:00'),
  (300, 3, 'C-1', 'Ask', '', '', '', '', '', 'approved', '', '2026-02-01 10:00:00');
INSERT INTO sync_run (id, integration_id, trigger, status, total_count, exported_count,
  failed_count, skipped_count, created_at) VALUES
  (1, 10, 'manual', 'succeeded', 1, 1, 0, 0, '2026-02-02'),
  (2, 20, 'manual', 'succeeded', 2, 2, 0, 0, '2026-02-02'),
  (3, 21, 'manual', 'succeeded', 2, 2, 0, 0, '2026-02-03'),
  (4, 22, 'manual', 'failed', 1, 0, 1, 0, '2026-02-01');
INSERT INTO export_item (integration_id, claim_id, run_id, reference, status, external_id,
  created_at, updated_at) VALUES
  (10, 100, 1, 'LL-10-100', 'exported', 'V1', '2026-02-02 00:00:00', '2026-02-02 00:00:00'),
  (20, 200, 2, 'LL-20-200', 'exported', 'V2', '2026-02-02 00:00:00', '2026-02-02 00:00:00'),
  (21, 200, 3, 'LL-21-200', 'exported', 'V3', '2026-02-03 00:00:00', '2026-02-03 00:00:00'),
  (22, 201, 4, 'LL-22-201', 'failed', NULL, '2026-02-01 00:00:00', '2026-02-01 00:00:00'),
  (21, 201, 3, 'LL-21-201', 'exported', 'V4', '2026-02-03 00:00:00', '2026-02-03 00:00:00');
"""


def _migrate_with_data(database) -> None:
    with database.connection_context():
        assert runner(database).up(target="0001_initial") == ["0001_initial"]
        with database.atomic():
            for statement in ROWS.strip().split(";"):
                if statement.strip():
                    database.execute_sql(statement)
        assert "0002_claims_api" in upgrade(database)

        def one(sql):
            return database.execute_sql(sql).fetchall()

        # The only integration of organisation 1 is its default; both its claims go there.
        assert one("SELECT default_integration_id FROM organization ORDER BY id") == [
            (10,),
            (None,),
            (None,),
        ]
        routed = dict(one("SELECT id, integration_id FROM expense_claim"))
        assert routed[100] == 10 and routed[101] == 10
        # Claim 200 was booked by A first, then again by B: A keeps it, B's voucher is listed.
        assert routed[200] == 20
        # Claim 201 failed in Dataverse, then was booked in B: the booking wins.
        assert routed[201] == 21
        # Never exported in an organisation with three integrations: left for a person.
        assert routed[202] is None and routed[300] is None
        items = one("SELECT claim_id, integration_id, status FROM export_item ORDER BY claim_id")
        assert items == [(100, 10, "exported"), (200, 20, "exported"), (201, 21, "exported")]
        duplicates = one(
            "SELECT organization_id, integration_id, claim_id, external_id, status "
            "FROM export_duplicate ORDER BY claim_id"
        )
        assert duplicates == [(2, 21, 200, "V3", "exported"), (2, 22, 201, None, "failed")]
        assert one("SELECT updated_at FROM expense_claim WHERE id = 100")[0][0] is not None

        # One ledger per claim is now the database's rule, whichever integration tries.
        with pytest.raises(IntegrityError), database.atomic():
            database.execute_sql(
                "INSERT INTO export_item (integration_id, claim_id, run_id, reference, status, "
                "created_at, updated_at) VALUES (22, 200, 4, 'LL-22-200', 'pending', "
                "'2026-02-04', '2026-02-04')"
            )
        # external_id is unique per organisation (and free across organisations).
        database.execute_sql("UPDATE expense_claim SET external_id = 'x-1' WHERE id = 100")
        database.execute_sql("UPDATE expense_claim SET external_id = 'x-1' WHERE id = 200")
        with pytest.raises(IntegrityError), database.atomic():
            database.execute_sql("UPDATE expense_claim SET external_id = 'x-1' WHERE id = 101")


def test_existing_data_on_postgresql():
    with services.postgres_database() as url:
        database = open_database(url)
        _migrate_with_data(database)
        database.close()


def test_existing_data_on_sqlite(tmp_path):
    _migrate_with_data(open_database(f"sqlite:///{tmp_path / 'ledgerlink.db'}"))


def _down_and_up(database) -> None:
    with database.connection_context():
        upgrade(database)

        def indexes() -> set[str]:
            return {index.name for index in database.get_indexes("expense_claim")}

        def run_indexes() -> set[str]:
            return {index.name for index in database.get_indexes("sync_run")}

        assert "sync_run_integration_id_id" in run_indexes()
        assert runner(database).down() == ["0008_speed"]
        assert "sync_run_integration_id" in run_indexes()
        assert "sync_run_integration_id_id" not in run_indexes()
        assert "expense_claim_latest_approved" in indexes()
        assert runner(database).down() == ["0007_latest_approved"]
        assert "expense_claim_latest_approved" not in indexes()
        assert runner(database).down() == ["0006_walk"]
        assert runner(database).down() == ["0005_health"]
        assert "connection_issue" not in database.get_tables()
        assert runner(database).down() == ["0004_run_notes"]
        assert runner(database).down() == ["0003_session_epoch"]
        assert runner(database).down() == ["0002_claims_api"]
        assert "api_key" not in database.get_tables()
        assert "0002_claims_api" in upgrade(database)
        assert "api_key" in database.get_tables()


def test_down_and_up_again_on_postgresql():
    with services.postgres_database() as url:
        database = open_database(url)
        _down_and_up(database)
        database.close()


def test_down_and_up_again_on_sqlite(tmp_path):
    _down_and_up(open_database(f"sqlite:///{tmp_path / 'ledgerlink.db'}"))
