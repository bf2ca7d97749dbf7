-- monhost schema version 1 (SQLite): staging, sync state, batch log, board lock.
-- Applied by `monhost db init` inside a transaction; every statement is
-- idempotent so a half-applied file can be re-run. Statements end with ';'
-- at the end of a line (that is how db init splits them).
-- Timestamps are ISO 8601 UTC text ("2026-12-04T16:42:44Z") in every dialect,
-- so that comparisons and retention work the same everywhere.

CREATE TABLE IF NOT EXISTS STG_MON_CustMasterSchedule (
  stg_id          INTEGER PRIMARY KEY AUTOINCREMENT,
  batch_id        VARCHAR(64)   NOT NULL,
  board_id        VARCHAR(32)   NOT NULL,
  customer        VARCHAR(200),
  mapping         VARCHAR(200),
  source_key      VARCHAR(300)  NOT NULL,
  key1            VARCHAR(300),
  key2            VARCHAR(300),
  key3            VARCHAR(300),
  key4            VARCHAR(300),
  item_name       VARCHAR(1000) NOT NULL,
  group_name      VARCHAR(255)  NOT NULL,
  group_id        VARCHAR(64),
  column_values   TEXT,
  row_hash        VARCHAR(64),
  state           VARCHAR(16)   NOT NULL DEFAULT 'PENDING',
  idempotency_key VARCHAR(80),
  item_id         VARCHAR(32),
  attempts        INTEGER       NOT NULL DEFAULT 0,
  error           TEXT,
  sent_at         VARCHAR(32),
  created_at      VARCHAR(32)   NOT NULL,
  updated_at      VARCHAR(32)   NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS UX_STG_MON_CMS_key ON STG_MON_CustMasterSchedule (board_id, source_key);
CREATE INDEX IF NOT EXISTS IX_STG_MON_CMS_state ON STG_MON_CustMasterSchedule (board_id, state);

CREATE TABLE IF NOT EXISTS STG_MON_CustMasterSchedule_Subitems (
  stg_sub_id      INTEGER PRIMARY KEY AUTOINCREMENT,
  stg_id          INTEGER       NOT NULL,
  batch_id        VARCHAR(64)   NOT NULL,
  board_id        VARCHAR(32)   NOT NULL,
  subitem_board_id VARCHAR(32),
  source_key      VARCHAR(300)  NOT NULL,
  subitem_key     VARCHAR(400)  NOT NULL,
  size_label      VARCHAR(100)  NOT NULL,
  item_name       VARCHAR(255)  NOT NULL,
  qty             INTEGER,
  column_values   TEXT,
  parent_item_id  VARCHAR(32),
  subitem_id      VARCHAR(32),
  state           VARCHAR(16)   NOT NULL DEFAULT 'PENDING',
  idempotency_key VARCHAR(80),
  attempts        INTEGER       NOT NULL DEFAULT 0,
  error           TEXT,
  sent_at         VARCHAR(32),
  created_at      VARCHAR(32)   NOT NULL,
  updated_at      VARCHAR(32)   NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS UX_STG_MON_CMS_Sub_key ON STG_MON_CustMasterSchedule_Subitems (board_id, subitem_key);
CREATE INDEX IF NOT EXISTS IX_STG_MON_CMS_Sub_parent ON STG_MON_CustMasterSchedule_Subitems (stg_id);
CREATE INDEX IF NOT EXISTS IX_STG_MON_CMS_Sub_state ON STG_MON_CustMasterSchedule_Subitems (board_id, state);

CREATE TABLE IF NOT EXISTS MON_SyncState (
  board_id     VARCHAR(32)  NOT NULL,
  source_key   VARCHAR(300) NOT NULL,
  key1         VARCHAR(300),
  key2         VARCHAR(300),
  key3         VARCHAR(300),
  key4         VARCHAR(300),
  item_id      VARCHAR(32)  NOT NULL,
  group_id     VARCHAR(64),
  group_name   VARCHAR(255),
  row_hash     VARCHAR(64),
  batch_id     VARCHAR(64),
  synced_at    VARCHAR(32)  NOT NULL,
  PRIMARY KEY (board_id, source_key)
);
CREATE INDEX IF NOT EXISTS IX_MON_SyncState_keys ON MON_SyncState (board_id, key1);

CREATE TABLE IF NOT EXISTS MON_SyncState_Subitems (
  board_id     VARCHAR(32)  NOT NULL,
  subitem_key  VARCHAR(400) NOT NULL,
  source_key   VARCHAR(300) NOT NULL,
  item_id      VARCHAR(32)  NOT NULL,
  subitem_id   VARCHAR(32)  NOT NULL,
  size_label   VARCHAR(100),
  qty          INTEGER,
  batch_id     VARCHAR(64),
  synced_at    VARCHAR(32)  NOT NULL,
  PRIMARY KEY (board_id, subitem_key)
);

CREATE TABLE IF NOT EXISTS MON_BatchProcessing (
  batch_id         VARCHAR(64)  NOT NULL PRIMARY KEY,
  board_id         VARCHAR(32),
  customer         VARCHAR(200),
  mapping          VARCHAR(200),
  kind             VARCHAR(16),
  status           VARCHAR(16)  NOT NULL,
  orders_selected  INTEGER      NOT NULL DEFAULT 0,
  items_created    INTEGER      NOT NULL DEFAULT 0,
  items_failed     INTEGER      NOT NULL DEFAULT 0,
  items_skipped    INTEGER      NOT NULL DEFAULT 0,
  subitems_total   INTEGER      NOT NULL DEFAULT 0,
  subitems_created INTEGER      NOT NULL DEFAULT 0,
  subitems_failed  INTEGER      NOT NULL DEFAULT 0,
  api_calls        INTEGER      NOT NULL DEFAULT 0,
  complexity_used  INTEGER      NOT NULL DEFAULT 0,
  duration_s       REAL,
  started_at       VARCHAR(32)  NOT NULL,
  finished_at      VARCHAR(32),
  host             VARCHAR(200),
  message          TEXT
);
CREATE INDEX IF NOT EXISTS IX_MON_BatchProcessing_started ON MON_BatchProcessing (started_at);

CREATE TABLE IF NOT EXISTS MON_BoardLock (
  board_id     VARCHAR(32)  NOT NULL PRIMARY KEY,
  holder       VARCHAR(200) NOT NULL,
  host         VARCHAR(200),
  pid          INTEGER,
  acquired_at  VARCHAR(32)  NOT NULL,
  heartbeat_at VARCHAR(32)  NOT NULL
);
