-- rhythm.lua: RHYTHM, ordered as "RHYTHM (AU)" and "RHYTHM (US)" (both
-- canonicalise to RHYTHM through mappings/customers.lua). Rhythm's ORDER
-- TYPE has an extra FORECAST value the board shows as a planning status.
return {
  extends = "default",
  customer = "RHYTHM",

  columns = {
    dropdown_mkr518fc = { "ORDER TYPE", map = {
      ACTIVE = "RECEIVED",
      CANCELLED = "CANCELLED",
      FORECAST = "FORECAST",
    } },
    -- the AU and US offices both write DESTINATION; keep it in upper case
    text_mkr5kbc6 = { "DESTINATION", clean = "upper" },
  },
}
