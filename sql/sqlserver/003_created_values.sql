-- monhost schema version 3 (SQL Server): the create flow records what it
-- sent. Staging keeps, per order, the fingerprint of the source row it was
-- transformed from (src_hash, under the mapping's plan_fp), so finalize can
-- write the created item's name, column values and fingerprint to
-- MON_SyncState_Values: the first update run after a create is then a
-- no-change scan instead of transforming every order again.
-- Applied by `monhost db init` inside a transaction; idempotent.

IF COL_LENGTH(N'STG_MON_CustMasterSchedule', N'src_hash') IS NULL
ALTER TABLE STG_MON_CustMasterSchedule ADD src_hash VARCHAR(64) NULL;
IF COL_LENGTH(N'STG_MON_CustMasterSchedule', N'plan_fp') IS NULL
ALTER TABLE STG_MON_CustMasterSchedule ADD plan_fp VARCHAR(64) NULL;
