-- monhost schema version 2 (SQL Server): change detection (docs/changes.md).
-- Side tables of the sync state, written only by the update step and
-- `monhost reconcile`, so the create flow's tables keep their shape:
--   MON_SyncState_Values: per synced item, the values monday confirmed
--     (item name, column values JSON) to diff against, the fingerprint of
--     the source row they came from (src_hash, under the mapping's plan_fp)
--     for the no-change fast path, the cancelled/missing status and the
--     error of the last failed update.
--   MON_SyncState_SubitemValues: per subitem, its confirmed name and
--     column values; state SENDING while a create_subitem may be in flight.
-- Applied by `monhost db init` inside a transaction; every statement is
-- idempotent. Statements end with ';' at the end of a line (no GO batches).

IF OBJECT_ID(N'MON_SyncState_Values', N'U') IS NULL
CREATE TABLE MON_SyncState_Values (
  board_id      NVARCHAR(32)   NOT NULL,
  source_key    NVARCHAR(300)  NOT NULL,
  item_name     NVARCHAR(1000),
  column_values NVARCHAR(MAX),
  src_hash      NVARCHAR(64),
  plan_fp       NVARCHAR(64),
  customer      NVARCHAR(200),
  mapping       NVARCHAR(200),
  status        NVARCHAR(16)   NOT NULL DEFAULT 'ACTIVE',
  status_at     NVARCHAR(32),
  error         NVARCHAR(MAX),
  attempts      INTEGER       NOT NULL DEFAULT 0,
  updated_at    NVARCHAR(32)   NOT NULL,
  PRIMARY KEY (board_id, source_key)
);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'IX_MON_SyncState_Values_map' AND object_id = OBJECT_ID(N'MON_SyncState_Values'))
  CREATE INDEX IX_MON_SyncState_Values_map ON MON_SyncState_Values (board_id, mapping, customer);

IF OBJECT_ID(N'MON_SyncState_SubitemValues', N'U') IS NULL
CREATE TABLE MON_SyncState_SubitemValues (
  board_id        NVARCHAR(32)   NOT NULL,
  subitem_key     NVARCHAR(400)  NOT NULL,
  source_key      NVARCHAR(300)  NOT NULL,
  parent_item_id  NVARCHAR(32),
  size_label      NVARCHAR(100),
  item_name       NVARCHAR(255),
  column_values   NVARCHAR(MAX),
  qty             INTEGER,
  state           NVARCHAR(16)   NOT NULL DEFAULT 'SYNCED',
  idempotency_key NVARCHAR(80),
  error           NVARCHAR(MAX),
  updated_at      NVARCHAR(32)   NOT NULL,
  PRIMARY KEY (board_id, subitem_key)
);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'IX_MON_SyncState_SubVal_src' AND object_id = OBJECT_ID(N'MON_SyncState_SubitemValues'))
  CREATE INDEX IX_MON_SyncState_SubVal_src ON MON_SyncState_SubitemValues (board_id, source_key);

-- the update step reads the synced subitems of a block of orders by source key
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'IX_MON_SyncState_Sub_src' AND object_id = OBJECT_ID(N'MON_SyncState_Subitems'))
  CREATE INDEX IX_MON_SyncState_Sub_src ON MON_SyncState_Subitems (board_id, source_key);
