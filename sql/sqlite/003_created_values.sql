-- monhost schema version 3 (SQLite): the create flow records what it sent.
-- Staging keeps, per order, the fingerprint of the source row it was
-- transformed from (src_hash, under the mapping's plan_fp), so finalize can
-- write the created item's name, column values and fingerprint to
-- MON_SyncState_Values: the first update run after a create is then a
-- no-change scan instead of transforming every order again.
-- Applied by `monhost db init` inside a transaction; idempotent (SQLite has
-- no ADD COLUMN IF NOT EXISTS: schema.init skips an ADD COLUMN whose column
-- exists).

ALTER TABLE STG_MON_CustMasterSchedule ADD COLUMN src_hash VARCHAR(64);
ALTER TABLE STG_MON_CustMasterSchedule ADD COLUMN plan_fp VARCHAR(64);
