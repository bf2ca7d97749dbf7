-- monhost schema version 2 (SQLite): change detection (docs/changes.md).
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
-- idempotent. Statements end with ';' at the end of a line.

CREATE TABLE IF NOT EXISTS MON_SyncState_Values (
  board_id      VARCHAR(32)   NOT NULL,
  source_key    VARCHAR(300)  NOT NULL,
  item_name     VARCHAR(1000),
  column_values TEXT,
  src_hash      VARCHAR(64),
  plan_fp       VARCHAR(64),
  customer      VARCHAR(200),
  mapping       VARCHAR(200),
  status        VARCHAR(16)   NOT NULL DEFAULT 'ACTIVE',
  status_at     VARCHAR(32),
  error         TEXT,
  attempts      INTEGER       NOT NULL DEFAULT 0,
  updated_at    VARCHAR(32)   NOT NULL,
  PRIMARY KEY (board_id, source_key)
);
CREATE INDEX IF NOT EXISTS IX_MON_SyncState_Values_map ON MON_SyncState_Values (board_id, mapping, customer);

CREATE TABLE IF NOT EXISTS MON_SyncState_SubitemValues (
  board_id        VARCHAR(32)   NOT NULL,
  subitem_key     VARCHAR(400)  NOT NULL,
  source_key      VARCHAR(300)  NOT NULL,
  parent_item_id  VARCHAR(32),
  size_label      VARCHAR(100),
  item_name       VARCHAR(255),
  column_values   TEXT,
  qty             INTEGER,
  state           VARCHAR(16)   NOT NULL DEFAULT 'SYNCED',
  idempotency_key VARCHAR(80),
  error           TEXT,
  updated_at      VARCHAR(32)   NOT NULL,
  PRIMARY KEY (board_id, subitem_key)
);
CREATE INDEX IF NOT EXISTS IX_MON_SyncState_SubVal_src ON MON_SyncState_SubitemValues (board_id, source_key);

-- the update step reads the synced subitems of a block of orders by source key
CREATE INDEX IF NOT EXISTS IX_MON_SyncState_Sub_src ON MON_SyncState_Subitems (board_id, source_key);
