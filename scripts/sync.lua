-- sync.lua: the standard workflow, ORDERS_UNIFIED -> monday.
--   monhost run scripts/sync.lua [--customer NAME | --po PO | --all] [--dry-run] [--limit N]
-- The steps are in scripts/monhost/pipeline/ (see docs/pipeline.md); copy
-- this file and call them yourself to change the workflow.
os.exit(require("monhost.pipeline.runner").main({ ... }), true)
