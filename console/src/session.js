// Who is signed in, and which views their role may open. The server decides every right; this
// only hides what a role cannot use.
import { reactive } from 'vue'
import { api, ApiError, storedKey, storeKey } from './api'

export const VIEWS = [
  { name: 'agent', path: '/agent', label: '坐席', roles: ['agent', 'bot', 'manager', 'editor', 'reviewer', 'admin'] },
  { name: 'editor', path: '/editor', label: '知识管理', roles: ['editor', 'reviewer', 'admin'] },
  // The analytics are the managers' (and every role above them, as the API allows).
  { name: 'dashboard', path: '/dashboard', label: '服务经理看板', roles: ['manager', 'editor', 'reviewer', 'admin'] },
]

export const ROLE_LABELS = {
  agent: '坐席',
  bot: '机器人',
  manager: '服务经理',
  editor: '知识管理员',
  reviewer: '审核员',
  admin: '管理员',
}

export const session = reactive({
  resolved: false,
  /** The server runs without keys (loopback): no sign-in. */
  open: false,
  role: null,
  keyId: null,
  org: null,
})

export function mayOpen(viewName) {
  const view = VIEWS.find((v) => v.name === viewName)
  return !!(view && session.role && view.roles.includes(session.role))
}

export function visibleViews() {
  return VIEWS.filter((v) => mayOpen(v.name))
}

/** Asks the server who `key` (null: no key) is. Resolves to `{role, key_id, org}` or throws. */
async function identify(key) {
  try {
    return await api.me(key)
  } catch (e) {
    // A server without `/v1/me`: a key that may search is at least an agent's.
    if (e instanceof ApiError && e.status === 404) {
      await api.search('保护装置', { limit: 1, key })
      return { role: key ? 'agent' : 'admin', key_id: null, org: null }
    }
    throw e
  }
}

function apply(me, open) {
  session.open = open
  session.role = me.role
  session.keyId = me.key_id || null
  session.org = me.org || null
  session.resolved = true
}

/** On start: the stored key, else the open mode, else nobody (sign-in). */
export async function resolveSession() {
  const key = storedKey()
  if (key) {
    try {
      apply(await identify(key), false)
      return
    } catch (e) {
      if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) throw e
      storeKey(null)
    }
  }
  try {
    const me = await identify(null)
    apply(me, true)
  } catch (e) {
    if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) throw e
    session.resolved = true
  }
}

/** Signs in with a pasted key; throws ApiError when the server refuses it. */
export async function signIn(key) {
  const me = await identify(key)
  storeKey(key)
  apply(me, false)
}

export function signOut() {
  storeKey(null)
  session.role = null
  session.keyId = null
  session.org = null
}
