'use strict';
// monday-shaped errors (API 2025-01+ unified format):
//   { errors: [ { message, locations?, path?, extensions: { code, status_code?, error_data?, retry_in_seconds? } } ],
//     account_id, extensions: { request_id } }
// Application errors travel with HTTP 200; transport-level ones (401, 400, 409,
// 423, 429, 5xx) carry the matching HTTP status.
const { GraphQLError } = require('graphql');

// Thrown from resolvers: becomes an entry in errors[] with path + locations,
// while the other root fields (aliases) keep their data.
function appError(code, message, { statusCode = 200, errorData = {}, extra = {} } = {}) {
  return new GraphQLError(message, {
    extensions: { code, status_code: statusCode, error_data: errorData, ...extra },
  });
}

function columnValueError(column, value, reason) {
  return appError('ColumnValueException', reason || `invalid value, please check our API documentation for the correct data structure for this column`, {
    errorData: { column_id: column.id, column_type: column.type, column_value: value === undefined ? null : value },
  });
}

function notFound(resourceType, id) {
  return appError('ResourceNotFoundException', `${resourceType[0].toUpperCase()}${resourceType.slice(1)} with id ${id} not found`, {
    statusCode: 404, errorData: { resource_type: resourceType, resource_id: id === undefined || id === null ? null : String(id) },
  });
}

// A whole-response error body (no data), used for transport-level failures.
function errorBody(code, message, extensions = {}, accountId) {
  const body = { errors: [{ message, extensions: { code, ...extensions } }] };
  if (accountId !== undefined) body.account_id = accountId;
  return body;
}

module.exports = { appError, columnValueError, notFound, errorBody, GraphQLError };
