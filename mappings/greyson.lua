-- greyson.lua: GREYSON (raw names GREYSON, GREYSON CLOTHIERS). Everything
-- comes from default.lua; Greyson sends its own alternate PO, and its
-- CUSTOMER SEASON is often blank, so the group uses the AAG season first.
return {
  extends = "default",
  customer = "GREYSON",

  columns = {
    -- Greyson's pattern ids arrive with a "PAT-" prefix the planners drop
    text_mkr5cz8m = function(r)
      local p = nonempty(r["PATTERN ID"])
      return p and p:gsub("^PAT%-", "")
    end,
  },

  group = function(r, m)
    local season = nonempty(r["AAG SEASON"]) or nonempty(r["CUSTOMER SEASON"]) or "UNKNOWN_SEASON"
    return "GREYSON " .. season
  end,
}
