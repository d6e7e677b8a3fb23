"""Xledger's limits and the GraphQL documents the adapter sends (ACCOUNTING_APIS §1)."""

from __future__ import annotations

# Stay under the burst limit of about 20 requests per 5 s per token (ACCOUNTING_APIS §1.5),
# with room for network jitter between our clock and Xledger's.
BURST_LIMIT = 19
BURST_WINDOW = 5.5
# The documented maximum of `first` (§1.5): fewer calls, which Xledger bills.
PAGE_SIZE = 10000
# References per `extIdentifier_in` filter when reading back.
# A batch holds at most 500 lines, so one readback covers every reference it sent.
READBACK_CHUNK = 500
# Line target fields sent as lookups `{code: …}`, and those sent as plain values.
LOOKUPS = ("account", "glObject1", "project", "taxRule", "subledger")
PLAIN = ("text", "invoiceNumber", "yourReference")
# How long Xledger's own samples wait after each rate-limit code.
BURST_WAIT = 5.0
CONCURRENCY_WAIT = 2.0
CREDITS_WAIT = 20 * 60.0

ENTITIES = """
query ($first: Int, $after: String, $filter: Entity_Filter) {
  entities(first: $first, after: $after, filter: $filter) {
    edges { cursor node { dbId code description } }
    pageInfo { hasNextPage }
  }
}"""
ACCOUNTS = """
query ($first: Int, $after: String) {
  accounts(first: $first, after: $after) {
    edges { cursor node { dbId code description } }
    pageInfo { hasNextPage }
  }
}"""
PROJECTS = """
query ($first: Int, $after: String) {
  projects(first: $first, after: $after) {
    edges { cursor node { dbId code description } }
    pageInfo { hasNextPage }
  }
}"""
OBJECT_KINDS = """
query ($first: Int, $after: String) {
  objectKinds(first: $first, after: $after) {
    edges { cursor node { dbId name } }
    pageInfo { hasNextPage }
  }
}"""
OBJECT_VALUES = """
query ($first: Int, $after: String, $filter: ObjectValue_Filter) {
  objectValues(first: $first, after: $after, filter: $filter) {
    edges { cursor node { dbId code description } }
    pageInfo { hasNextPage }
  }
}"""
GL_IMPORT_ITEMS = """
query ($first: Int, $after: String, $filter: GLImportItem_Filter) {
  glImportItems(first: $first, after: $after, filter: $filter) {
    edges { cursor node { dbId extIdentifier trRegNumber createdAt } }
    pageInfo { hasNextPage }
  }
}"""
GL_IMPORT_ITEM_ERRORS = """
query ($first: Int, $after: String, $filter: GLImportItemError_Filter) {
  glImportItemErrors(first: $first, after: $after, filter: $filter) {
    edges { cursor node { dbId glImportItemDbId extIdentifier trRegNumber message } }
    pageInfo { hasNextPage }
  }
}"""
ADD_GL_IMPORT_ITEMS = """
mutation ($inputs: [AddGLImportItemsInput!]!) {
  addGLImportItems(inputs: $inputs) {
    edges { clientId node { dbId } }
  }
}"""
# Reference kind → (objectKinds name) for kinds kept as object values.
OBJECT_KIND_NAMES = {"tax_code": "TAX_RULE", "dimension": "GL_OBJECT_1"}
