// The one client of the gridkb HTTP API. Every request of the console goes through `request`,
// which adds the API key (from sessionStorage, as `Authorization: Bearer`) and turns the API's
// `{code, message}` errors into `ApiError`. The key is never put in a URL and never logged.

const KEY_SLOT = 'gridkb.apiKey'
/** Dispatched on `window` when the server refuses the stored key. */
export const SIGNED_OUT_EVENT = 'gridkb:signed-out'

export function storedKey() {
  return sessionStorage.getItem(KEY_SLOT)
}

export function storeKey(key) {
  if (key) sessionStorage.setItem(KEY_SLOT, key)
  else sessionStorage.removeItem(KEY_SLOT)
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`)
    this.status = status
    this.code = code || 'http_' + status
    this.details = null
  }
}

function url(path, query) {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === '') continue
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, String(v))
  }
  const search = params.toString()
  return search ? `${path}?${search}` : path
}

async function request(method, path, { query, body, headers, signal, key } = {}) {
  const sent = { Accept: 'application/json', ...headers }
  const apiKey = key === undefined ? storedKey() : key
  if (apiKey) sent.Authorization = `Bearer ${apiKey}`
  const init = { method, headers: sent, signal, cache: 'no-store' }
  if (body instanceof Blob) {
    // An upload (bulk import): the bytes as they are.
    sent['Content-Type'] = 'application/octet-stream'
    init.body = body
  } else if (body !== undefined) {
    sent['Content-Type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  const response = await fetch(url(path, query), init)
  const text = await response.text()
  let data = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    data = null
  }
  if (response.status === 401 && apiKey && key === undefined) {
    // The stored key was revoked or is wrong: forget it and let the console ask for another.
    storeKey(null)
    window.dispatchEvent(new Event(SIGNED_OUT_EVENT))
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data && data.code, (data && data.message) || text.slice(0, 200))
    error.details = data
    throw error
  }
  return { data, headers: response.headers }
}

const get = (path, options) => request('GET', path, options).then((r) => r.data)
const post = (path, body, options) => request('POST', path, { ...options, body }).then((r) => r.data)

export const api = {
  /** Who the key is: `{key_id, role, org}`. `key: null` asks without a key (open loopback mode). */
  me: (key) => get('/v1/me', { key }),
  /** As-you-type search. */
  search: (q, { limit = 10, signal, key } = {}) => get('/v1/search', { query: { q, limit }, signal, key }),
  /** A ticket → category, answer standard, strategies, solutions, cases, device, customer. */
  matchTicket: (text, { signal } = {}) => post('/v1/tickets/match', { text }, { signal }),
  device: (serial) => get(`/v1/devices/${encodeURIComponent(serial)}`),
  expiringWarranties: (days, limit = 1000) => get('/v1/warranties/expiring', { query: { days, limit } }),
  staleItems: () => get('/v1/items/stale'),
  ready: () => get('/readyz', { key: null }),

  // The editors' workspace (issue 12). Writes carry the version read as `If-Match`.
  listItems: (query) => get('/v1/items', { query }),
  /** `{item, etag}`: the item as editors read it and its version tag. */
  getItem: (id) =>
    request('GET', `/v1/items/${encodeURIComponent(id)}`).then((r) => ({ item: r.data, etag: r.headers.get('ETag') })),
  createItem: (input) => post('/v1/items', input),
  updateItem: (id, input, etag) =>
    request('PUT', `/v1/items/${encodeURIComponent(id)}`, { body: input, headers: { 'If-Match': etag } }).then(
      (r) => r.data,
    ),
  /** submit, approve, reject, retire or restore, with a reason (required to reject). */
  itemAction: (id, action, reason, etag) =>
    post(`/v1/items/${encodeURIComponent(id)}/${action}`, reason ? { reason } : {}, {
      headers: etag ? { 'If-Match': etag } : {},
    }),
  versions: (id) => get(`/v1/items/${encodeURIComponent(id)}/versions`),
  diff: (id, from, to) => get(`/v1/items/${encodeURIComponent(id)}/diff`, { query: { from, to } }),
  /** Duplicate and conflict warnings for unsaved text: `{kind, title, body, products, faults,
   * category, id?}` → `{possible_duplicates, conflicts, semantic}`. */
  checkItem: (draft, { signal } = {}) => post('/v1/items/check', draft, { signal }),

  // Entities of the graph and the thesaurus (links' autocomplete, the thesaurus editor).
  /** `{entities: [{id, class, label, aliases, version}]}`; `cls` is one class or none. */
  findEntities: (cls, q, { limit = 10, signal } = {}) => get('/v1/entities', { query: { class: cls, q, limit }, signal }),
  /** `{entity, etag}`: the entity with its links' labels and its version tag. */
  getEntity: (id) =>
    request('GET', `/v1/entities/${encodeURIComponent(id)}`).then((r) => ({ entity: r.data, etag: r.headers.get('ETag') })),
  updateEntity: (id, input, etag) =>
    request('PUT', `/v1/entities/${encodeURIComponent(id)}`, { body: input, headers: { 'If-Match': etag } }).then(
      (r) => ({ ...r.data, etag: r.headers.get('ETag') }),
    ),
  // The improvement loop (issue 15).
  /** A verdict on an answer (`itemId` null) or on one item it showed → `{outcome}`. */
  feedback: (requestId, itemId, verdict, comment) =>
    post('/v1/feedback', { request_id: requestId, item_id: itemId || undefined, verdict, comment: comment || undefined }),
  /** The editors' task queue: `{total, tasks}`; `kind` a list, `status` open|done|dismissed|all. */
  knowledgeTasks: ({ kind, status, limit, offset } = {}) =>
    get('/v1/tasks/knowledge', { query: { kind: kind && kind.length ? kind.join(',') : undefined, status, limit, offset } }),
  setTaskStatus: (id, status) => post(`/v1/tasks/knowledge/${encodeURIComponent(id)}`, { status }),
  /** Starts a bulk import of `file` (a File or Blob) → `{task}`; follow it with `importTask`. */
  startImport: (file, name, { publish } = {}) =>
    post('/v1/import', file, { query: { name, publish: publish ? 'true' : undefined } }),
  importTask: (id) => get(`/v1/tasks/${encodeURIComponent(id)}`),
  /** Customer portraits: proposed tags with their evidence → `{total, items}`; `status` open|rejected|all. */
  tagProposals: (query) => get('/v1/customers/tag-proposals', { query }),
  /** Confirm (written to the customer record) or reject a proposed tag → `{proposal, customer?}`. */
  decideCustomerTag: (customerId, tag, decision) =>
    post(`/v1/customers/${encodeURIComponent(customerId)}/tags`, { tag, decision }),
  /** `GET /v1/analytics/{report}` with `since`, `until` and the report's own parameters. */
  analytics: (report, query, { signal } = {}) => get(`/v1/analytics/${report}`, { query, signal }),

  /** Routes that may not exist yet on this server: resolves to null on 404. */
  optional: (path, query) =>
    get(path, { query }).catch((e) => {
      if (e instanceof ApiError && e.status === 404) return null
      throw e
    }),
}
