-- default.lua: ORDERS_UNIFIED -> "Customer Master Schedule", the shared
-- mapping every customer file extends. It reproduces the legacy YAML
-- mapping (orders_unified_monday_mapping.yaml v1.1): its 37 exact matches,
-- 6 mapped fields, ORDER TYPE value map, cleaning rules and the item name,
-- group and size-subitem rules of the legacy Python code.
-- Keys of `columns` are monday column ids (the title is in the comment);
-- values are ORDERS_UNIFIED column names, functions of the row, or tables.
return {
  source = "ORDERS_UNIFIED",
  board = 9200517329,          -- Customer Master Schedule
  subitem_board = 9200771505,  -- its subitems board

  -- an order line: at most one monday item per key
  key = { "AAG ORDER NUMBER", "CUSTOMER STYLE", "CUSTOMER COLOUR DESCRIPTION" },

  customer_column = "CUSTOMER NAME",
  aliases = "customers",       -- mappings/customers.lua: canonical = {aliases}

  -- applied to the source values first, so names and groups see them too
  clean = {
    ["US TARIFF RATE"] = { replace = { TRUE = "0" } }, -- a boolean typed into a rate
    ["CUSTOMER STYLE"] = "trim",                        -- spaces and control characters
    ["STYLE DESCRIPTION"] = "trim",
    ["CUSTOMER COLOUR DESCRIPTION"] = "trim",
  },

  columns = {
    -- exact matches (same name on both sides)
    text_mkr5wya6 = "AAG ORDER NUMBER",
    dropdown_mkr58de6 = "AAG SEASON",
    text_mkrh94rx = "CUSTOMER ALT PO",
    dropdown_mkr5rgs6 = "CUSTOMER SEASON",
    date_mkr5zp5 = "ORDER DATE PO RECEIVED",
    dropdown_mkr5w5e = "DROP",
    text_mkr5ej2x = "PO NUMBER",
    text_mkr5cz8m = "PATTERN ID",
    long_text_mkr5p0cf = "STYLE DESCRIPTION",
    dropdown_mkr5s5n3 = "CATEGORY",
    color_mkr5yf27 = "UNIT OF MEASURE",                  -- status
    dropdown_mkr518fc = { "ORDER TYPE", map = { ACTIVE = "RECEIVED", CANCELLED = "CANCELLED" } },
    text_mkr5kbc6 = "DESTINATION",
    text_mkr5ps35 = "DESTINATION WAREHOUSE",
    dropdown_mkr5kk5 = "DELIVERY TERMS",
    text_mkr5wcpw = "PLANNED DELIVERY METHOD",
    long_text_mkr5hass = "NOTES",
    numeric_mkr5cact = "CUSTOMER PRICE",
    numeric_mkr5yne4 = "USA ONLY LSTP 75% EX WORKS",
    numeric_mkr5erhv = "EX WORKS (USD)",
    numeric_mkr5k68 = "ADMINISTRATION FEE",
    numeric_mkr5h612 = "DESIGN FEE",
    numeric_mkr5gp6a = "FX CHARGE",
    text_mkr5s3tm = "HANDLING",
    numeric_mkr57cem = "SURCHARGE FEE",
    numeric_mkr56xx8 = "DISCOUNT",
    numeric_mkr5nhr7 = "FINAL FOB (USD)",
    dropdown_mkr5k8yn = "HS CODE",
    numeric_mkr5r6at = "US DUTY RATE",
    numeric_mkr5ev2q = "US DUTY",
    -- The YAML sent FREIGHT to text_mkr5kyf4, a column the board does not
    -- have (monday refused it); the board's FREIGHT column is this one.
    numeric_mksfr0r2 = "FREIGHT",
    numeric_mkr55zg1 = "US TARIFF RATE",
    numeric_mkr51ndy = "US TARIFF",
    numeric_mkr5js0x = "DDP US (USD)",
    numeric_mkr58nvp = "SMS PRICE USD",
    text_mkr5ptvg = "FINAL PRICES Y/N",
    long_text_mkr5znxn = "NOTES FOR PRICE",

    -- mapped fields (names differ)
    dropdown_mkr542p2 = function(r, m) return m.customer end, -- CUSTOMER: canonical name
    dropdown_mkr5tgaa = "CUSTOMER STYLE",                     -- STYLE
    text_mkrhra2c = "ALIAS/RELATED ITEM",                     -- ALIAS RELATED ITEM
    dropdown_mkr5677f = "CUSTOMER COLOUR DESCRIPTION",        -- COLOR
    date_mkr554yz = "ETA CUSTOMER WAREHOUSE DATE",            -- CUSTOMER REQ IN DC DATE
    date_mkr57811 = "EX FACTORY DATE",                        -- CUSTOMER EX FACTORY DATE
  },

  -- "JWHD100120 WHITE JOO-00505"
  item_name = function(r)
    return join(" ", r["CUSTOMER STYLE"], r["CUSTOMER COLOUR DESCRIPTION"], r["AAG ORDER NUMBER"])
  end,

  -- "GREYSON SPRING SUMMER 2026": canonical customer, then the customer's
  -- season, else the AAG season, else UNKNOWN_SEASON (never "None")
  group = function(r, m)
    local season = nonempty(r["CUSTOMER SEASON"]) or nonempty(r["AAG SEASON"]) or "UNKNOWN_SEASON"
    return (m.customer or "UNKNOWN_CUSTOMER"):upper() .. " " .. season
  end,

  -- one subitem per size column with a quantity > 0, in column order; the
  -- size columns are the INT columns between these two, found in the
  -- source table's column list
  subitems = {
    sizes = { after = "INFOR COLOUR CODE", before = "TOTAL QTY" },
    name = "Size %s",
    size_column = "dropdown_mkrak7qp", -- Size
    qty_column = "numeric_mkra7j8e",   -- Order Qty
  },
}
