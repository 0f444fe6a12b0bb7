"""Found by attacking the capacity machine with many examples (issue #16): `holds and holding sessions differ`
was the audit's mistake, not the store's. A hold whose end is exactly the audit's instant is over for the store
and for the audit's reading of the sessions, but the audit's raw SQL bound that instant as text on SQLite
('… 13:54:00' < '… 13:54:00.000000') and so still counted the hold as kept."""

from __future__ import annotations

import sqlalchemy
from capacity_audit import audit
from test_capacity_machine import CATALOGUE, Capacity

from execplanner.store.database import Store


def test_a_hold_ending_at_the_audited_instant_is_over_on_both_sides(database_url):
    stores = [Store.open(database_url), Store.open(database_url, migrate=False)]
    Capacity.url, Capacity.stores = database_url, stores
    try:
        machine = Capacity()  # the sequence hypothesis found: the fourth ask's holds end 114 minutes on
        for later in (None, None, None, 0):
            machine.ask(cores=1, later=later, public=False, replica=0, volume=0)
        machine.time_passes(minutes=114)
        engine = sqlalchemy.create_engine(database_url)
        with engine.connect() as conn:
            ends = conn.execute(sqlalchemy.text("SELECT ends FROM holds")).scalars().all()
        engine.dispose()
        assert any(str(end).startswith(machine.now.strftime("%Y-%m-%d %H:%M:%S")) for end in ends)  # the boundary
        audit(database_url, CATALOGUE, machine.now)
    finally:
        for store in stores:
            store.close()
