-- monhost schema version 1 (SQL Server): staging, sync state, batch log, board lock.
-- Applied by `monhost db init` inside a transaction; every statement is
-- idempotent so a half-applied file can be re-run. Statements end with ';'
-- at the end of a line (that is how db init splits them; no GO batches).
-- Objects live in the connection's default schema (usually dbo).
-- Timestamps are ISO 8601 UTC text ("2026-12-04T16:42:44Z") in every dialect,
-- so that comparisons and retention work the same everywhere.

IF OBJECT_ID(N'STG_MON_CustMasterSchedule', N'U') IS NULL
CREATE TABLE STG_MON_CustMasterSchedule (
  stg_id          BIGINT IDENTITY(1,1) PRIMARY KEY,
  batch_id        NVARCHAR(64)   NOT NULL,
  board_id        NVARCHAR(32)   NOT NULL,
  customer        NVARCHAR(200),
  mapping         NVARCHAR(200),
  source_key      NVARCHAR(300)  NOT NULL,
  key1            NVARCHAR(300),
  key2            NVARCHAR(300),
  key3            NVARCHAR(300),
  key4            NVARCHAR(300),
  item_name       NVARCHAR(1000) NOT NULL,
  group_name      NVARCHAR(255)  NOT NULL,
  group_id        NVARCHAR(64),
  column_values   NVARCHAR(MAX),
  row_hash        NVARCHAR(64),
  state           NVARCHAR(16)   NOT NULL DEFAULT 'PENDING',
  idempotency_key NVARCHAR(80),
  item_id         NVARCHAR(32),
  attempts        INTEGER       NOT NULL DEFAULT 0,
  error           NVARCHAR(MAX),
  sent_at         NVARCHAR(32),
  created_at      NVARCHAR(32)   NOT NULL,
  updated_at      NVARCHAR(32)   NOT NULL
);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'UX_STG_MON_CMS_key' AND object_id = OBJECT_ID(N'STG_MON_CustMasterSchedule'))
  CREATE UNIQUE INDEX UX_STG_MON_CMS_key ON STG_MON_CustMasterSchedule (board_id, source_key);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'IX_STG_MON_CMS_state' AND object_id = OBJECT_ID(N'STG_MON_CustMasterSchedule'))
  CREATE INDEX IX_STG_MON_CMS_state ON STG_MON_CustMasterSchedule (board_id, state);

IF OBJECT_ID(N'STG_MON_CustMasterSchedule_Subitems', N'U') IS NULL
CREATE TABLE STG_MON_CustMasterSchedule_Subitems (
  stg_sub_id      BIGINT IDENTITY(1,1) PRIMARY KEY,
  stg_id          BIGINT        NOT NULL,
  batch_id        NVARCHAR(64)   NOT NULL,
  board_id        NVARCHAR(32)   NOT NULL,
  subitem_board_id NVARCHAR(32),
  source_key      NVARCHAR(300)  NOT NULL,
  subitem_key     NVARCHAR(400)  NOT NULL,
  size_label      NVARCHAR(100)  NOT NULL,
  item_name       NVARCHAR(255)  NOT NULL,
  qty             INTEGER,
  column_values   NVARCHAR(MAX),
  parent_item_id  NVARCHAR(32),
  subitem_id      NVARCHAR(32),
  state           NVARCHAR(16)   NOT NULL DEFAULT 'PENDING',
  idempotency_key NVARCHAR(80),
  attempts        INTEGER       NOT NULL DEFAULT 0,
  error           NVARCHAR(MAX),
  sent_at         NVARCHAR(32),
  created_at      NVARCHAR(32)   NOT NULL,
  updated_at      NVARCHAR(32)   NOT NULL
);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'UX_STG_MON_CMS_Sub_key' AND object_id = OBJECT_ID(N'STG_MON_CustMasterSchedule_Subitems'))
  CREATE UNIQUE INDEX UX_STG_MON_CMS_Sub_key ON STG_MON_CustMasterSchedule_Subitems (board_id, subitem_key);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'IX_STG_MON_CMS_Sub_parent' AND object_id = OBJECT_ID(N'STG_MON_CustMasterSchedule_Subitems'))
  CREATE INDEX IX_STG_MON_CMS_Sub_parent ON STG_MON_CustMasterSchedule_Subitems (stg_id);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'IX_STG_MON_CMS_Sub_state' AND object_id = OBJECT_ID(N'STG_MON_CustMasterSchedule_Subitems'))
  CREATE INDEX IX_STG_MON_CMS_Sub_state ON STG_MON_CustMasterSchedule_Subitems (board_id, state);

IF OBJECT_ID(N'MON_SyncState', N'U') IS NULL
CREATE TABLE MON_SyncState (
  board_id     NVARCHAR(32)  NOT NULL,
  source_key   NVARCHAR(300) NOT NULL,
  key1         NVARCHAR(300),
  key2         NVARCHAR(300),
  key3         NVARCHAR(300),
  key4         NVARCHAR(300),
  item_id      NVARCHAR(32)  NOT NULL,
  group_id     NVARCHAR(64),
  group_name   NVARCHAR(255),
  row_hash     NVARCHAR(64),
  batch_id     NVARCHAR(64),
  synced_at    NVARCHAR(32)  NOT NULL,
  PRIMARY KEY (board_id, source_key)
);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'IX_MON_SyncState_keys' AND object_id = OBJECT_ID(N'MON_SyncState'))
  CREATE INDEX IX_MON_SyncState_keys ON MON_SyncState (board_id, key1);

IF OBJECT_ID(N'MON_SyncState_Subitems', N'U') IS NULL
CREATE TABLE MON_SyncState_Subitems (
  board_id     NVARCHAR(32)  NOT NULL,
  subitem_key  NVARCHAR(400) NOT NULL,
  source_key   NVARCHAR(300) NOT NULL,
  item_id      NVARCHAR(32)  NOT NULL,
  subitem_id   NVARCHAR(32)  NOT NULL,
  size_label   NVARCHAR(100),
  qty          INTEGER,
  batch_id     NVARCHAR(64),
  synced_at    NVARCHAR(32)  NOT NULL,
  PRIMARY KEY (board_id, subitem_key)
);

IF OBJECT_ID(N'MON_BatchProcessing', N'U') IS NULL
CREATE TABLE MON_BatchProcessing (
  batch_id         NVARCHAR(64)  NOT NULL PRIMARY KEY,
  board_id         NVARCHAR(32),
  customer         NVARCHAR(200),
  mapping          NVARCHAR(200),
  kind             NVARCHAR(16),
  status           NVARCHAR(16)  NOT NULL,
  orders_selected  INTEGER      NOT NULL DEFAULT 0,
  items_created    INTEGER      NOT NULL DEFAULT 0,
  items_failed     INTEGER      NOT NULL DEFAULT 0,
  items_skipped    INTEGER      NOT NULL DEFAULT 0,
  subitems_total   INTEGER      NOT NULL DEFAULT 0,
  subitems_created INTEGER      NOT NULL DEFAULT 0,
  subitems_failed  INTEGER      NOT NULL DEFAULT 0,
  api_calls        INTEGER      NOT NULL DEFAULT 0,
  complexity_used  INTEGER      NOT NULL DEFAULT 0,
  duration_s       FLOAT,
  started_at       NVARCHAR(32)  NOT NULL,
  finished_at      NVARCHAR(32),
  host             NVARCHAR(200),
  message          NVARCHAR(MAX)
);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'IX_MON_BatchProcessing_started' AND object_id = OBJECT_ID(N'MON_BatchProcessing'))
  CREATE INDEX IX_MON_BatchProcessing_started ON MON_BatchProcessing (started_at);

IF OBJECT_ID(N'MON_BoardLock', N'U') IS NULL
CREATE TABLE MON_BoardLock (
  board_id     NVARCHAR(32)  NOT NULL PRIMARY KEY,
  holder       NVARCHAR(200) NOT NULL,
  host         NVARCHAR(200),
  pid          INTEGER,
  acquired_at  NVARCHAR(32)  NOT NULL,
  heartbeat_at NVARCHAR(32)  NOT NULL
);
