'use strict';
// Deterministic complexity (cost) model, computed from the validated document
// before execution so the complexity field can report it truthfully.
//
//   mutation root field  = costs.mutations[name] (+ costs.per_column_value per
//                          key of its column_values JSON) + cost of its selection
//   any other field      = costs.field + (cost of its selection) x multiplier
//   multiplier           = for list fields: length of `ids` if given, else
//                          `limit` if given, else costs.column_values_list for
//                          Board.columns / Item.column_values, else costs.list_default;
//                          ItemsResponse.items uses the `limit` of the items_page
//                          field above it; 1 for non-list fields
//   complexity field     = costs.complexity_field; __typename = 0
const { getNamedType, getNullableType, isListType, Kind, getArgumentValues, typeFromAST } = require('graphql');

function collect(selectionSet, fragments, out = []) {
  for (const sel of selectionSet.selections) {
    if (sel.kind === Kind.FIELD) out.push(sel);
    else if (sel.kind === Kind.INLINE_FRAGMENT) collect(sel.selectionSet, fragments, out);
    else if (sel.kind === Kind.FRAGMENT_SPREAD) {
      const f = fragments[sel.name.value];
      if (f) collect(f.selectionSet, fragments, out);
    }
  }
  return out;
}

function countColumnValues(v) {
  if (v === null || v === undefined) return 0;
  let o = v;
  if (typeof v === 'string') { try { o = JSON.parse(v); } catch (e) { return 0; } }
  return o && typeof o === 'object' && !Array.isArray(o) ? Object.keys(o).length : 0;
}

// Returns { total, perRootField: [{ responseKey, fieldName, cost, args }] }.
function computeCost(schema, document, operation, variables, costs) {
  const fragments = {};
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  const rootType = operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();

  function argsOf(fieldDef, node) {
    try { return getArgumentValues(fieldDef, node, variables || {}); } catch (e) { return {}; }
  }

  function selectionCost(selectionSet, parentType, pendingLimit) {
    if (!selectionSet) return 0;
    let sum = 0;
    for (const node of collect(selectionSet, fragments)) {
      sum += fieldCost(node, parentType, pendingLimit);
    }
    return sum;
  }

  function fieldCost(node, parentType, pendingLimit) {
    const name = node.name.value;
    if (name === '__typename') return 0;
    if (name === 'complexity') return costs.complexity_field;
    // For interfaces/unions, look the field up on the parent if it has fields.
    const fieldDef = parentType.getFields ? parentType.getFields()[name] : null;
    if (!fieldDef) return costs.field;
    const args = argsOf(fieldDef, node);
    const childType = getNamedType(fieldDef.type);
    const nullable = getNullableType(fieldDef.type);
    let multiplier = 1;
    let passLimit = null;
    if (isListType(nullable)) {
      if (Array.isArray(args.ids)) multiplier = args.ids.length;
      else if (Number.isInteger(args.limit)) multiplier = args.limit;
      else if (name === 'items' && parentType.name === 'ItemsResponse' && pendingLimit) multiplier = pendingLimit;
      else if (name === 'columns' || name === 'column_values') multiplier = costs.column_values_list;
      else multiplier = costs.list_default;
    } else if (Number.isInteger(args.limit)) {
      passLimit = args.limit;   // items_page / next_items_page -> ItemsResponse.items
    }
    let childSel = 0;
    if (node.selectionSet) {
      // Abstract types: cost the selection against each possible type's
      // fields collectively by using the interface itself when it has fields.
      childSel = selectionCost(node.selectionSet, childType.getFields ? childType : { getFields: () => ({}) }, passLimit);
    }
    return costs.field + childSel * multiplier;
  }

  const perRootField = [];
  let total = 0;
  for (const node of collect(operation.selectionSet, fragments)) {
    const name = node.name.value;
    const fieldDef = rootType.getFields()[name];
    const args = fieldDef ? argsOf(fieldDef, node) : {};
    let c;
    if (operation.operation === 'mutation' && name !== 'complexity' && name !== '__typename') {
      const base = (costs.mutations && costs.mutations[name]) || costs.field;
      const childType = fieldDef ? getNamedType(fieldDef.type) : null;
      const sel = node.selectionSet && childType && childType.getFields ? selectionCost(node.selectionSet, childType, null) : 0;
      c = base + countColumnValues(args.column_values) * costs.per_column_value + sel;
    } else {
      c = fieldCost(node, rootType, null);
    }
    c = Math.round(c);
    perRootField.push({ responseKey: node.alias ? node.alias.value : name, fieldName: name, cost: c, args });
    total += c;
  }
  return { total, perRootField };
}

module.exports = { computeCost, collect };
