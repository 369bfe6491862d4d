// The console in a real headless Chromium against the real `gridkb serve` on the demo corpus.
// Run: `npm test` in console/ (after `npm run build` and `cargo build --release -p gridkb`, which
// embeds the build). Screenshots go to docs/ (set GRIDKB_SCREENSHOTS=0 to skip); the measured
// bundle size and Enter → answer-standard times are printed and written to
// $GRIDKB_CONSOLE_REPORT (default: a file in the system's temporary directory).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO, startServer, startBrowser, openPage, percentile } from './harness.mjs'

// 高警 is a homophone slip of 告警 (typed with a pinyin input method): read as 告警 and shown so.
const TICKET = '喂，我们站那台GKB-931A报通道高警，出厂编号GKB1903D74967，厂里不能停电'
const SERIAL = 'GKB1903D74967'
const VIEWPORT = { width: 1366, height: 768 }
const AGENT_JS_BUDGET = 300 * 1024
const TIMED_TICKETS = 40
const ORG = 'org-p01' // the editor's and the reviewer's unit (the corpus's organisation tree)
const SHOTS = process.env.GRIDKB_SCREENSHOTS !== '0'
const REPORT = process.env.GRIDKB_CONSOLE_REPORT || join(tmpdir(), 'gridkb-console-report.json')

// Expected failed requests, which Chromium logs as console errors: asking the server who a
// missing or unknown key is (401 before sign-in), and `/v1/me` on a server that lacks it (404;
// the console then checks the key with a search). Nothing else is tolerated.
const expected = (text, url) => /Failed to load resource/.test(text) && url && new URL(url).pathname === '/v1/me'

let server
let browser
const keys = {}
const report = {}

before(async () => {
  server = await startServer()
  browser = await startBrowser()
}, { timeout: 360_000 })

after(async () => {
  writeFileSync(REPORT, JSON.stringify(report, null, 2) + '\n')
  console.log(`# report: ${REPORT}\n${JSON.stringify(report, null, 2)}`)
  if (browser) await browser.close()
  if (server) await server.stop()
})

async function signIn(page, key) {
  await ensureKeys()
  await page.goto(`${server.base}/signin`)
  await page.locator('input[type=password]').fill(key)
  await page.locator('[data-test=signin]').click()
  await page.waitForURL((u) => !u.pathname.startsWith('/signin'))
}

/** The editor's item list, the workspace's second tab. */
async function openItemsTab(page) {
  await page.locator('.el-tabs__item', { hasText: /^条目$/ }).click()
  await page.locator('[data-test=item-table] .el-table__row').first().waitFor()
}

async function navLabels(page) {
  return page.locator('.views a').allInnerTexts().then((l) => l.map((s) => s.trim()))
}

async function matchTicket(page, text) {
  await page.locator('textarea').fill(text)
  await page.locator('textarea').press('Enter')
  await page.locator('[data-test=answer-standard]').waitFor()
}

test('without keys on loopback the console opens without sign-in, and the agent view stays within its JS budget', async () => {
  const { page, errors } = await openPage(browser.context, { allow: expected })
  const scripts = []
  page.on('response', (r) => {
    if (r.request().resourceType() === 'script') scripts.push(r)
  })
  await page.goto(`${server.base}/`)
  await page.waitForURL(`${server.base}/agent`)
  await page.locator('textarea').waitFor()
  await page.waitForLoadState('networkidle')
  assert.deepEqual(await navLabels(page), ['坐席', '知识管理', '服务经理看板'])
  assert.match(await page.locator('.who').innerText(), /本机免密模式/)

  let compressed = 0
  let raw = 0
  for (const r of scripts) {
    const size = (await r.body()).length
    if (size > 1024) assert.equal(r.headers()['content-encoding'], 'gzip', `${r.url()} is sent gzip-compressed`)
    assert.match(r.headers()['cache-control'] || '', /immutable/)
    compressed += (await r.request().sizes()).responseBodySize
    raw += size
  }
  report.agent_view_js = { files: scripts.length, compressed_bytes: compressed, uncompressed_bytes: raw }
  assert.ok(compressed > 0 && compressed <= AGENT_JS_BUDGET, `agent view loads ${compressed} bytes of compressed JS`)
  const dashboardLoaded = scripts.some((r) => /ManagerDashboard|echarts/i.test(r.url()))
  assert.ok(!dashboardLoaded, 'the dashboard and ECharts are not loaded by the agent view')

  const index = await page.request.get(`${server.base}/agent`)
  assert.equal(index.headers()['cache-control'], 'no-cache')
  assert.match(index.headers()['content-security-policy'], /script-src 'self'/)
  assert.deepEqual(errors, [])
  await page.close()
})

test('the knowledge workspace lists the items and the items that need an editor', async () => {
  // The duplicate-pair scan runs in the background after a start: wait for its end so that the
  // queue's count is final.
  for (let i = 0; ; i++) {
    const { duplicate_scan_pending: pending } = await (await fetch(`${server.base}/v1/tasks/knowledge?limit=1`)).json()
    if (pending === 0) break
    assert.ok(i < 120, `the duplicate-pair scan has ${pending} items left after two minutes`)
    await new Promise((ok) => setTimeout(ok, 1000))
  }
  const { page, errors } = await openPage(browser.context, { allow: expected })
  await page.goto(`${server.base}/`)
  await page.locator('a[data-view=editor]').click()
  // The task queue comes first and lists what the API lists (the demo corpus has overdue reviews
  // or stale items, or nothing: the count is the API's either way).
  await page.locator('[data-test=task-queue][data-loaded=true]').waitFor()
  const { total } = await (await fetch(`${server.base}/v1/tasks/knowledge?limit=1`)).json()
  assert.equal(await page.locator('[data-test=task-total]').innerText(), `${total} 项`)
  await openItemsTab(page)
  if (SHOTS) await page.screenshot({ path: join(REPO, 'docs/console-editor.png') })
  await page.locator('.el-tabs__item', { hasText: '引用旧版标准' }).click()
  await page.locator('[data-test=stale-count][data-loaded=true]').waitFor()
  // The demo corpus may have no item citing a superseded edition: the list matches the API's.
  const { items } = await (await fetch(`${server.base}/v1/items/stale`)).json()
  assert.equal(await page.locator('[data-test=stale-queue] .el-table__row').count(), items.length)
  assert.deepEqual(errors, [])
  await page.close()
})

const CHARTS = ['hot', 'recurring', 'categories', 'zero', 'gaps', 'feedback', 'warranties', 'risk']

/** Waits until every chart of the dashboard is drawn and its report loaded. */
async function dashboardLoaded(page) {
  for (const name of CHARTS) {
    await page.locator(`[data-test=chart-${name}] canvas`).first().waitFor()
    await page.locator(`[data-test=chart-${name}]:not([data-rows=""])`).waitFor()
  }
}

test('the dashboard renders its charts with no console errors', async () => {
  const { page, errors } = await openPage(browser.context, { allow: expected })
  await page.goto(`${server.base}/`)
  await page.locator('a[data-view=dashboard]').click()
  await dashboardLoaded(page)
  await page.locator('[data-test=chart-warranties] button', { hasText: '查看表格' }).click()
  // The table lists what the API answers for the same window.
  const { items } = await (await fetch(`${server.base}/v1/analytics/warranties?days=90&limit=500`)).json()
  assert.equal(await page.locator('[data-test=table-warranties] .el-table__row').count(), items.length)
  if (items.length) {
    const download = page.waitForEvent('download')
    await page.locator('[data-test=csv-warranties]').click()
    const csv = readFileSync(await (await download).path(), 'utf8')
    assert.match(csv, /^\ufeff质保到期,剩余天数,合同/)
    assert.equal(csv.trim().split('\r\n').length, items.length + 1, 'one CSV line per row')
  }
  assert.deepEqual(errors, [])
  await page.close()
})

/** Creates the agent, editor and admin keys once; the server is then closed to callers without one. */
async function ensureKeys() {
  if (keys.agent) return
  for (const role of ['agent', 'manager', 'editor', 'reviewer', 'admin']) keys[role] = server.createKey(role, ORG)
  // An editor of the head office (no organisation): every item's tasks are in its scope.
  keys.hqEditor = server.createKey('editor')
  // The running server picks up the new key file within about a second.
  for (let i = 0; i < 50; i++) {
    const r = await fetch(`${server.base}/v1/search?q=%E4%BF%9D%E6%8A%A4`)
    if (r.status === 401) return
    await new Promise((ok) => setTimeout(ok, 100))
  }
  assert.fail('the server still answers without a key after creating keys')
}

test('an agent pastes a ticket with a device serial and sees the answer standard and the warranty state', async () => {
  await ensureKeys()
  const { page, errors } = await openPage(browser.context, { allow: expected })
  await page.goto(`${server.base}/agent`)
  await page.waitForURL(/\/signin/)
  await signIn(page, keys.agent)
  assert.equal(new URL(page.url()).pathname, '/agent')
  assert.deepEqual(await navLabels(page), ['坐席'])
  assert.equal(await page.evaluate(() => location.href.includes('gkb_')), false, 'the key is never in the URL')

  await matchTicket(page, TICKET)
  const answer = page.locator('[data-test=answer-text]')
  await answer.waitFor()
  assert.ok((await answer.innerText()).length > 20, 'an answer standard is shown')
  const warranty = page.locator('[data-test=warranty]')
  assert.match(await warranty.getAttribute('data-state'), /^(in_warranty|expiring|expired)$/)
  assert.match(await warranty.innerText(), /在保|即将到期|已过保/)
  assert.match(await page.locator('[data-test=device-card]').innerText(), new RegExp(SERIAL))
  assert.match(await page.locator('[data-test=category]').innerText(), /故障报修/)
  // The first start learned the categories from the corpus's dev tickets: their say is shown.
  assert.match(await page.locator('[data-test=learned]').innerText(), /历史工单：\s*故障报修 \d+%/)
  assert.match(await page.locator('[data-test=masked-ticket]').innerText(), /gkb-931a/i)
  assert.match(await page.locator('[data-test=spelling]').innerText(), /高警.*→.*告警/)
  assert.ok((await page.locator('[data-test=why]').count()) > 0, 'every hit says why')
  // Where the ticket goes: the device's speciality, an urgency, and the unit of its owner's region.
  assert.match(await page.locator('[data-test=dispatch-speciality]').innerText(), /继电保护/)
  assert.match(await page.locator('[data-test=dispatch-urgency]').innerText(), /^(紧急|较急|一般)$/)
  assert.match(await page.locator('[data-test=dispatch-station]').innerText(), /服务/)

  // What the agent must read is above the fold at 1366 × 768.
  for (const part of ['answer-standard', 'warranty', 'category', 'solution-steps']) {
    const box = await page.locator(`[data-test=${part}]`).boundingBox()
    assert.ok(box && box.y >= 0 && box.y < VIEWPORT.height, `${part} starts on screen (${JSON.stringify(box)})`)
  }
  const words = await answer.boundingBox()
  assert.ok(words.y + Math.min(words.height, 60) <= VIEWPORT.height, 'the answer standard is readable without scrolling')
  if (SHOTS) await page.screenshot({ path: join(REPO, 'docs/console-agent.png') })
  assert.deepEqual(errors, [])
  await page.close()
})

test('the same flow with the keyboard only', async () => {
  await ensureKeys()
  const { page, errors } = await openPage(browser.context, { allow: expected })
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base })
  await page.goto(`${server.base}/signin`)
  await page.waitForFunction(() => document.activeElement && document.activeElement.type === 'password')
  await page.keyboard.type(keys.agent) // the key field has the focus
  await page.keyboard.press('Enter')
  await page.waitForURL(`${server.base}/agent`)
  await page.waitForFunction(() => document.activeElement && document.activeElement.tagName === 'TEXTAREA')
  await page.keyboard.press('Escape') // out of the box, then `/` brings the focus back from anywhere
  assert.equal(await page.evaluate(() => document.activeElement.tagName), 'BODY')
  await page.keyboard.press('/')
  assert.equal(await page.evaluate(() => document.activeElement.tagName), 'TEXTAREA')
  await page.keyboard.insertText(TICKET)
  await page.keyboard.press('Enter')
  await page.locator('[data-test=answer-text]').waitFor()
  await page.locator('[data-test=warranty]').waitFor()

  await page.keyboard.press('Escape')
  await page.keyboard.press('ArrowDown')
  await page.keyboard.press('Enter')
  const opened = page.locator('.hit.open')
  await opened.waitFor()
  assert.equal(await opened.getAttribute('data-index'), '1', 'arrows move between hits and Enter opens one')
  await page.locator('.hit.open [data-test=hit-detail]').waitFor()

  await page.keyboard.press('c')
  const copied = await page.evaluate(() => navigator.clipboard.readText())
  assert.equal(copied, await page.locator('[data-test=answer-text]').innerText(), 'C copies the answer standard')
  assert.deepEqual(errors, [])
  await page.close()
})

test('a key revoked while the console is open sends the agent back to sign-in', async () => {
  await ensureKeys()
  const key = server.createKey('agent', ORG)
  const { page } = await openPage(browser.context)
  for (let i = 0; ; i++) {
    const r = await fetch(`${server.base}/v1/me`, { headers: { Authorization: `Bearer ${key}` } })
    if (r.status === 200 || i > 40) break
    await new Promise((ok) => setTimeout(ok, 100))
  }
  await signIn(page, key)
  server.revokeKey(key)
  await new Promise((ok) => setTimeout(ok, 1500)) // the server re-reads the key file within a second
  await page.locator('textarea').fill('保护装置通道告警')
  await page.waitForURL(/\/signin\?next=(%2F|\/)agent/)
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'the refused key is forgotten')
  await page.close()
})

test('an agent key sees no editor view and the API refuses it an editor action', async () => {
  const { page } = await openPage(browser.context, { allow: expected })
  await signIn(page, keys.agent)
  assert.deepEqual(await navLabels(page), ['坐席'])
  await page.goto(`${server.base}/editor`)
  await page.waitForURL(`${server.base}/agent`)
  const statuses = await page.evaluate(async (key) => {
    const auth = { Authorization: `Bearer ${key}` }
    const stale = await fetch('/v1/items/stale', { headers: auth })
    const create = await fetch('/v1/items', {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ kind: 'technical_point', title: '坐席不能写', body: '坐席不能写' }),
    })
    return [stale.status, create.status]
  }, keys.agent)
  assert.deepEqual(statuses, [403, 403], 'an agent may neither list stale items nor create one')
  await page.close()
})

test('an editor key sees the knowledge workspace, an admin key every view', async (t) => {
  await ensureKeys()
  const me = await fetch(`${server.base}/v1/me`, { headers: { Authorization: `Bearer ${keys.editor}` } })
  if (me.status === 404) {
    t.skip('this server has no GET /v1/me yet: every key that may search is shown the agent view only')
    return
  }
  for (const [role, views] of [
    ['editor', ['坐席', '知识管理', '服务经理看板']],
    ['admin', ['坐席', '知识管理', '服务经理看板']],
  ]) {
    const { page, errors } = await openPage(browser.context, { allow: expected })
    await signIn(page, keys[role])
    assert.deepEqual(await navLabels(page), views, role)
    await page.locator('a[data-view=editor]').click()
    await openItemsTab(page)
    assert.deepEqual(errors, [])
    await page.close()
  }
})

/** A published technical point of the demo corpus, as the API gives it to an editor. */
async function publishedItem() {
  const auth = { Authorization: `Bearer ${keys.editor}` }
  const list = await (await fetch(`${server.base}/v1/items?status=published&kind=technical_point&limit=20`, { headers: auth })).json()
  for (const summary of list.items) {
    const view = await (await fetch(`${server.base}/v1/items/${encodeURIComponent(summary.id)}`, { headers: auth })).json()
    if ((view.record.body || '').length > 80 && (view.record.products || []).length) return view
  }
  assert.fail('the demo corpus has a published technical point with a body and a product')
}

test('an editor writes an item and submits it, a reviewer approves it, and the agent console finds it', async () => {
  await ensureKeys()
  const marker = `蓝鲸${Date.now() % 100000}`
  const existing = await publishedItem()
  const title = `${existing.record.title}（${marker}）`
  const editor = await openPage(browser.context, { allow: expected })
  await signIn(editor.page, keys.editor)
  await editor.page.locator('a[data-view=editor]').click()
  await openItemsTab(editor.page)
  await editor.page.locator('[data-test=item-new]').click()
  // A title and body copied from an item that exists: the warning names it before anything is saved.
  await editor.page.locator('input[data-test=item-title]').fill(title)
  await editor.page.locator('textarea[data-test=item-body]').fill(`${existing.record.body}\n\n${marker}：现场复核记录。`)
  const warned = editor.page.locator(`[data-test=possible-duplicates] .row[data-id="${existing.id}"]`)
  await warned.waitFor()
  assert.match(await warned.innerText(), new RegExp(`相似 \\d+%`))
  assert.match(await warned.innerText(), /正文用词重合|标题共有词|语义相似度|关联同一产品与故障/, 'the warning says why in words')
  assert.ok((await warned.innerText()).includes(existing.record.title.replace(/\*\*/g, '').slice(0, 8)), 'the warning names the item')
  if (SHOTS) await editor.page.screenshot({ path: join(REPO, 'docs/console-duplicates.png') })

  // Links are picked from the graph, found by part of a name, alias or id (the copied item's
  // product: a different product would make it another situation, and no duplicate).
  const product = existing.record.products[0]
  const productLabel = existing.links.products.find((l) => l.id === product).label
  await editor.page.locator('[data-test=link-products] .el-select__wrapper').click()
  await editor.page.locator('[data-test=link-products] input').fill(product.split('-').slice(1).join('-'))
  await editor.page.locator('.el-select-dropdown__item:visible', { hasText: product }).first().click()
  await editor.page.locator('input[data-test=item-title]').click() // closes the list (Escape would close the drawer)
  await editor.page.locator('[data-test=link-products] .el-tag', { hasText: productLabel }).first().waitFor()

  await editor.page.locator('.el-tabs__item', { hasText: '预览' }).click()
  assert.match(await editor.page.locator('[data-test=markdown-preview]').innerText(), new RegExp(marker))
  await editor.page.locator('[data-test=item-save]').click()
  await editor.page.locator('[data-test=item-status]', { hasText: '草稿' }).waitFor()
  // The save answers its own warnings, shown after it (the live check's row is there before the
  // save answers, so wait for the saved heading, not for the row).
  await editor.page.locator('[data-test=duplicate-warnings]', { hasText: '保存后的查重结果' }).waitFor()
  await editor.page.locator(`[data-test=possible-duplicates] .row[data-id="${existing.id}"]`).waitFor()
  const created = await editor.page.locator('.state .muted').last().innerText()
  const saved = await (await fetch(`${server.base}/v1/items/${encodeURIComponent(created)}`, { headers: { Authorization: `Bearer ${keys.editor}` } })).json()
  assert.deepEqual(saved.record.products, [product])
  await editor.page.locator('[data-test=item-submit]').click()
  await editor.page.locator('.el-message-box input').fill('请审核')
  await editor.page.locator('.el-message-box .el-button--primary').click()
  await editor.page.locator('[data-test=item-status]', { hasText: '审核中' }).waitFor()
  // Clicking a warning opens the item it names.
  await editor.page.locator(`[data-test=possible-duplicates] .row[data-id="${existing.id}"]`).click()
  await editor.page.locator('.state .muted', { hasText: existing.id }).waitFor()
  assert.deepEqual(editor.errors, [])
  await editor.page.close()

  const reviewer = await openPage(browser.context, { allow: expected })
  await signIn(reviewer.page, keys.reviewer)
  await reviewer.page.locator('a[data-view=editor]').click()
  await reviewer.page.locator('.el-tabs__item', { hasText: '待审核' }).click()
  await reviewer.page.locator('[data-test=review-queue] .el-table__row', { hasText: marker }).click()
  await reviewer.page.locator('[data-test=item-approve]').click()
  await reviewer.page.locator('.el-message-box .el-button--primary').click()
  await reviewer.page.locator('[data-test=item-status]', { hasText: '已发布' }).waitFor()
  assert.deepEqual(reviewer.errors, [])
  await reviewer.page.close()

  const agent = await openPage(browser.context, { allow: expected })
  await signIn(agent.page, keys.agent)
  await agent.page.locator('textarea').fill(marker)
  await agent.page.locator('[data-test=hits] .hit', { hasText: marker }).first().waitFor()
  assert.deepEqual(agent.errors, [])
  await agent.page.close()
})

test('an editor adds an alias in the thesaurus, and a stale version is refused clearly', async () => {
  await ensureKeys()
  const { page, errors } = await openPage(browser.context, {
    allow: (text, url) => expected(text, url) || (/Failed to load resource/.test(text) && /\/v1\/entities\//.test(url || '')),
  })
  await signIn(page, keys.editor)
  await page.locator('a[data-view=editor]').click()
  await page.locator('.el-tabs__item', { hasText: '同义词库' }).click()
  await page.locator('input[data-test=entity-query]').fill('931光差') // an alias
  await page.locator('[data-test=entity-results] .el-table__row', { hasText: 'pm-gkb-931a' }).first().click()
  const alias = `九三一A${Date.now() % 10000}`
  await page.locator('input[data-test=alias-new]').fill(alias)
  await page.keyboard.press('Enter')
  await page.locator('[data-test=entity-aliases] .el-tag', { hasText: alias }).waitFor()
  await page.locator('[data-test=entity-save]').click()
  await page.locator('.el-message--success').waitFor()
  const auth = { Authorization: `Bearer ${keys.editor}` }
  const read = await fetch(`${server.base}/v1/entities/pm-gkb-931a`, { headers: auth })
  const view = await read.json()
  assert.ok(view.record.aliases.includes(alias), 'the alias is saved')

  // Someone else saves in between: the console's version is stale and the 409 is shown.
  const { version: _v, ...fields } = view.record
  const other = await fetch(`${server.base}/v1/entities/pm-gkb-931a`, {
    method: 'PUT',
    headers: { ...auth, 'Content-Type': 'application/json', 'If-Match': read.headers.get('ETag') },
    body: JSON.stringify({ ...fields, aliases: [...fields.aliases, `${alias}乙`] }),
  })
  assert.equal(other.status, 200, await other.clone().text())
  await page.locator('input[data-test=alias-new]').fill(`${alias}丙`)
  await page.keyboard.press('Enter')
  await page.locator('[data-test=entity-save]').click()
  await page.locator('[data-test=entity-problem]', { hasText: '保存冲突' }).waitFor()
  assert.deepEqual(errors, [])
  await page.close()
})

test(`Enter → answer standard on screen for ${TIMED_TICKETS} demo tickets`, async () => {
  const tickets = readFileSync(join(REPO, 'corpus/tickets/queries.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((t) => t.split === 'test')
    .slice(0, TIMED_TICKETS)
  const { page, errors } = await openPage(browser.context, { allow: expected })
  await signIn(page, keys.agent)
  const times = []
  for (const [i, ticket] of tickets.entries()) {
    await page.locator('textarea').fill(ticket.text)
    await page.evaluate(() => {
      window.__enterAt = null
      window.addEventListener('keydown', (e) => e.key === 'Enter' && (window.__enterAt = performance.now()), {
        capture: true,
        once: true,
      })
    })
    await page.locator('textarea').press('Enter')
    const ms = await page.evaluate(async (seq) => {
      const frame = () => new Promise((r) => requestAnimationFrame(r))
      const deadline = performance.now() + 10_000
      while (!document.querySelector(`[data-test=answer-standard][data-seq="${seq}"]`)) {
        if (performance.now() > deadline) return null
        await frame()
      }
      await frame() // painted
      return performance.now() - window.__enterAt
    }, i + 1)
    assert.ok(ms !== null, `ticket ${ticket._id} got no answer within 10 s`)
    times.push(ms)
  }
  report.enter_to_answer_ms = {
    tickets: times.length,
    p50: Math.round(percentile(times, 50) * 10) / 10,
    p95: Math.round(percentile(times, 95) * 10) / 10,
    max: Math.round(Math.max(...times) * 10) / 10,
    dense: process.env.GRIDKB_CONSOLE_TEST_DENSE === '1',
  }
  assert.deepEqual(errors, [])
  await page.close()
})

/** The API's answer to `path` for `role`'s key. */
async function apiAs(role, path) {
  const r = await fetch(`${server.base}${path}`, { headers: { Authorization: `Bearer ${keys[role]}` } })
  assert.equal(r.status, 200, `${path}: ${r.status}`)
  return r.json()
}

const feedbackGiven = {}

test('an agent marks the answer standard helpful and a hit outdated from the keyboard; the manager and the editor see it', async () => {
  await ensureKeys()
  const comment = '步骤引用的规程已换版请更新'
  const agent = await openPage(browser.context, { allow: expected })
  const { page } = agent
  await signIn(page, keys.agent)
  assert.match(await page.locator('[data-test=feedback-keys]').innerText(), /1.*有用.*2.*已解决.*3.*错误.*4.*过时/, 'the keys are on screen')
  await matchTicket(page, TICKET)
  const answer = page.locator('[data-test=answer-standard]')
  await answer.locator('[data-test=answer-text]').waitFor()
  const answerId = await answer.getAttribute('data-id')
  assert.ok(answerId, 'the answer standard names its item')

  // Shift+1: the answer standard is helpful. The button shows it and a message confirms it.
  await page.keyboard.press('Escape')
  await page.keyboard.press('Shift+Digit1')
  await answer.locator('[data-test=feedback][data-given=helpful]').waitFor()
  await page.locator('.el-message--success', { hasText: '有用' }).first().waitFor()

  // ↓ selects the second hit, 4 marks it outdated: a comment box opens, Ctrl+Enter sends it.
  await page.keyboard.press('ArrowDown')
  const hit = page.locator('.hit.selected')
  const hitId = await hit.getAttribute('data-id')
  await page.keyboard.press('Digit4')
  await page.locator('textarea[data-test=feedback-comment]').waitFor()
  await page.waitForFunction(() => document.activeElement && document.activeElement.dataset.test === 'feedback-comment')
  await page.keyboard.insertText(comment)
  await page.keyboard.press('Control+Enter')
  await page.locator(`.hit[data-id="${hitId}"] [data-test=feedback][data-given=outdated]`).waitFor()
  await page.locator('.el-message--success', { hasText: '过时' }).first().waitFor()
  assert.deepEqual(agent.errors, [])
  await page.close()
  feedbackGiven.answerId = answerId
  feedbackGiven.hitId = hitId

  // The manager's feedback report counts both verdicts, and the dashboard's table shows them.
  const report = await apiAs('manager', '/v1/analytics/feedback?limit=500')
  const row = (id) => report.items.find((r) => r.item === id)
  assert.ok(row(answerId) && row(answerId).helpful >= 1, `the helpful verdict on ${answerId} is reported`)
  assert.ok(row(hitId) && row(hitId).outdated >= 1, `the outdated verdict on ${hitId} is reported`)
  const manager = await openPage(browser.context, { allow: expected })
  await signIn(manager.page, keys.manager)
  await manager.page.locator('a[data-view=dashboard]').click()
  await manager.page.locator('[data-test=chart-feedback]:not([data-rows=""])').waitFor()
  await manager.page.locator('[data-test=chart-feedback] button', { hasText: '查看表格' }).click()
  const shown = manager.page.locator('[data-test=table-feedback] .el-table__row', { hasText: hitId })
  await shown.waitFor()
  const cells = await shown.locator('td').allInnerTexts()
  assert.equal(cells[7].trim(), String(row(hitId).outdated), 'the 过时 column is the API count')
  assert.deepEqual(manager.errors, [])
  await manager.page.close()

  // The editor's task queue has a `flagged` task for the outdated hit, with the comment as
  // evidence; opening it shows the item, marking it done takes it off the open list. (The head
  // office's editor: tasks are scoped by the item's owning organisation, which may be any.)
  const editor = await openPage(browser.context, { allow: expected })
  await signIn(editor.page, keys.hqEditor)
  await editor.page.locator('a[data-view=editor]').click()
  await editor.page.locator('[data-test=task-queue][data-loaded=true]').waitFor()
  const task = editor.page.locator('[data-test=task-queue] .el-table__row', { hasText: hitId })
  await task.waitFor()
  assert.equal(await task.locator('[data-kind]').getAttribute('data-kind'), 'flagged')
  const open = (await apiAs('hqEditor', '/v1/tasks/knowledge?kind=flagged&limit=500')).tasks.find((t) => t.subject.id === hitId)
  assert.ok(open.evidence.some((e) => e.includes(comment)), `the agent's comment is the task's evidence: ${open.evidence}`)
  assert.deepEqual(await task.locator('[data-test=task-evidence] li').allInnerTexts(), open.evidence, 'the queue shows the evidence')
  if (SHOTS) await editor.page.screenshot({ path: join(REPO, 'docs/console-tasks.png') })
  await task.locator('[data-test=task-open]').click()
  await editor.page.locator('.state .muted', { hasText: hitId }).waitFor()
  await editor.page.keyboard.press('Escape')
  await editor.page.locator('.el-drawer').waitFor({ state: 'hidden' })
  await task.locator('[data-test=task-done]').click()
  await editor.page.locator('[data-test=task-queue] .el-table__row', { hasText: hitId }).waitFor({ state: 'detached' })
  // … and under 已完成, with who closed it.
  await editor.page.locator('[data-test=task-status] label', { hasText: '已完成' }).click()
  await editor.page.locator('[data-test=task-queue] .el-table__row', { hasText: hitId }).locator('[data-status=done]').waitFor()
  const { tasks } = await apiAs('hqEditor', '/v1/tasks/knowledge?kind=flagged&status=done')
  const done = tasks.find((t) => t.subject.id === hitId)
  assert.ok(done && done.closed_by, 'the task is done, with who closed it')
  assert.deepEqual(editor.errors, [])
  await editor.page.close()
})

test('a manager key sees the dashboard but no editor view, and the API refuses it the task queue', async () => {
  await ensureKeys()
  const { page, errors } = await openPage(browser.context, { allow: expected })
  await signIn(page, keys.manager)
  assert.deepEqual(await navLabels(page), ['坐席', '服务经理看板'])
  await page.goto(`${server.base}/editor`)
  await page.waitForURL(`${server.base}/agent`)
  const refused = await fetch(`${server.base}/v1/tasks/knowledge`, { headers: { Authorization: `Bearer ${keys.manager}` } })
  assert.equal(refused.status, 403, 'a manager may not read the editors’ task queue')
  assert.deepEqual(errors, [])
  await page.close()
})

test('the manager dashboard renders every chart with its table, from a manager key, with no console errors', async () => {
  await ensureKeys()
  const { page, errors } = await openPage(browser.context, { allow: expected })
  await signIn(page, keys.manager)
  await page.locator('a[data-view=dashboard]').click()
  await dashboardLoaded(page)
  // Each table has the rows the API answers for the dashboard's default window (the last 28 days).
  const pad = (n) => String(n).padStart(2, '0')
  const d = new Date()
  const until = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
  const hot = await apiAs('manager', `/v1/analytics/hot-issues?period=week&periods=4&until=${until}&limit=500`)
  const zero = await apiAs('manager', `/v1/analytics/zero-results?until=${until}`)
  const categories = await apiAs('manager', `/v1/analytics/categories?until=${until}`)
  assert.ok(hot.items.length > 0, 'the tickets matched by the tests are hot issues')
  for (const [name, rows] of [
    ['hot', hot.items.length],
    ['zero', zero.days.length],
    ['categories', categories.days.length],
  ]) {
    assert.equal(await page.locator(`[data-test=chart-${name}]`).getAttribute('data-rows'), String(rows), name)
  }
  // Hot issues: the table is open, spikes flagged as the API says.
  const hotRows = page.locator('[data-test=table-hot] .el-table__row')
  assert.equal(await hotRows.count(), hot.items.length)
  assert.equal(await hotRows.filter({ hasText: '突增' }).count(), hot.items.filter((h) => h.spike).length)
  const download = page.waitForEvent('download')
  await page.locator('[data-test=csv-hot]').click()
  const csv = readFileSync(await (await download).path(), 'utf8')
  assert.match(csv, /^\ufeff问题,本期,上期,突增,趋势/)
  assert.equal(csv.trim().split('\r\n').length, hot.items.length + 1, 'one CSV line per hot issue')
  // Switching to days asks the API again.
  const asked = page.waitForResponse((r) => r.url().includes('/v1/analytics/hot-issues') && r.url().includes('period=day'))
  await page.locator('[data-test=hot-period] label', { hasText: '按日' }).click()
  assert.equal((await asked).status(), 200)
  await page.locator('[data-test=chart-hot]:not([data-rows=""])').waitFor()
  if (SHOTS) {
    await page.setViewportSize({ width: VIEWPORT.width, height: 2000 }) // every chart on one image
    await page.waitForFunction(() => document.querySelectorAll('canvas').length >= 7)
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))) // charts follow the size
    await page.screenshot({ path: join(REPO, 'docs/console-dashboard.png') })
    await page.setViewportSize(VIEWPORT)
  }
  assert.deepEqual(errors, [])
  await page.close()
})

test('a manager confirms a customer tag proposed from tickets, and that customer’s next ticket gets its strategy', async () => {
  await ensureKeys()
  const customer = 'cust-ent-0025' // no tags on record, in the manager's organisation
  const neutral = '保护装置告警，请派人处理'
  const match = async (text) => {
    const r = await fetch(`${server.base}/v1/tickets/match`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${keys.manager}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ text, customer_id: customer }),
    })
    assert.equal(r.status, 200)
    return r.json()
  }
  const before = await match(neutral)
  assert.ok(!before.response_strategies.some((s) => s.reason.includes('情绪化')), 'no tag, no tag strategy')
  await match('又停电了，再不解决就投诉！！')
  await match('说了多少次了没人管，太差了')

  const { page, errors } = await openPage(browser.context, { allow: expected })
  await signIn(page, keys.manager)
  await page.locator('a[data-view=dashboard]').click()
  await page.locator('[data-test=chart-risk]:not([data-rows=""])').waitFor()
  const panel = page.locator('[data-test=tag-proposals]')
  await panel.locator('input[data-test=proposal-customer]').fill(customer)
  await panel.locator('input[data-test=proposal-customer]').press('Enter')
  const cell = panel.locator(`[data-proposal="tag:${customer}:情绪化"]`)
  await cell.waitFor()
  const evidence = await cell.locator('xpath=ancestor::tr').locator('[data-test=proposal-evidence] li').allInnerTexts()
  assert.ok(evidence.some((e) => e.includes('再不解决')), `the tickets are the evidence: ${evidence}`)
  if (SHOTS) await panel.screenshot({ path: join(REPO, 'docs/console-portraits.png') })
  await cell.locator('[data-test=proposal-confirm]').click()
  await page.locator('.el-message--success', { hasText: '已确认' }).first().waitFor()
  await cell.waitFor({ state: 'detached' })

  const after = await match(neutral)
  assert.ok(after.customer.tags.includes('情绪化'), 'the tag is on the customer record')
  const strategy = after.response_strategies.find((s) => s.reason.includes('客户标签：情绪化'))
  assert.ok(strategy && strategy.tags.includes('情绪化'), `the tag's strategy is picked: ${JSON.stringify(after.response_strategies)}`)
  assert.deepEqual(errors, [])
  await page.close()
})

test('an editor imports a JSONL file and follows its progress to the end, with its rejections', async () => {
  await ensureKeys()
  const marker = `imp${Date.now() % 100000}`
  const lines = [
    { id: `kb-${marker}-1`, kind: 'technical_point', title: `导入的巡检要点${marker}`, body: '核对误码计数。', products: ['pm-gkb-931a'] },
    { id: `kb-${marker}-2`, kind: 'technical_point', title: '字段拼错', body: '正文', titel: 'x' },
    { id: `kb-${marker}-3`, kind: 'technical_point', title: '链接错误', body: '正文', products: ['no-such-model'] },
  ]
  const { page, errors } = await openPage(browser.context, { allow: expected })
  await signIn(page, keys.editor)
  await page.locator('a[data-view=editor]').click()
  await page.locator('.el-tabs__item', { hasText: '批量导入' }).click()
  await page.locator('[data-test=bulk-import] input[type=file]').setInputFiles({
    name: `${marker}.jsonl`,
    mimeType: 'application/x-ndjson',
    buffer: Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n') + '\n'),
  })
  assert.match(await page.locator('[data-test=import-name]').innerText(), new RegExp(`${marker}\\.jsonl`))
  await page.locator('[data-test=import-start]').click()
  const shown = page.locator('[data-test=import-task]:not([data-state=running])')
  await shown.waitFor()
  // The page shows the task as the API reports it: state, progress, report and every rejection.
  const id = await shown.getAttribute('data-id')
  const task = await apiAs('editor', `/v1/tasks/${id}`)
  assert.equal(await shown.getAttribute('data-state'), task.state)
  assert.equal(task.state, 'done')
  assert.match(await shown.innerText(), new RegExp(`${task.done} / ${task.total} 条`))
  assert.ok(task.report.created >= 1, 'the well-formed record was imported')
  assert.match(await page.locator('[data-test=import-report]').innerText(), new RegExp(`新建草稿 ${task.report.created} 条`))
  const rejected = task.rejections.length + task.report.refused.length
  assert.ok(rejected >= 1, 'the bad records were refused')
  assert.equal(await page.locator('[data-test=import-rejections] .el-table__row').count(), rejected)
  await page.locator('[data-test=import-progress].is-success').waitFor()
  // The imported record is a draft the editors can open.
  const draft = await apiAs('editor', `/v1/items/kb-${marker}-1`)
  assert.equal(draft.record.title, lines[0].title)
  assert.deepEqual(errors, [])
  await page.close()
})

test('an editor renames an entity and removes one of its links in the thesaurus', async () => {
  await ensureKeys()
  const id = 'pm-gkb-931a'
  const before = await apiAs('editor', `/v1/entities/${id}`)
  const [relation, targets] = Object.entries(before.record.links).find(([, t]) => t.length > 0)
  const removed = targets[0]
  const removedLabel = before.links[relation].find((t) => t.id === removed).label
  const label = `${before.record.label}（改名${Date.now() % 1000}）`
  const { page, errors } = await openPage(browser.context, { allow: expected })
  await signIn(page, keys.editor)
  await page.locator('a[data-view=editor]').click()
  await page.locator('.el-tabs__item', { hasText: '同义词库' }).click()
  await page.locator('input[data-test=entity-query]').fill(id)
  await page.locator('[data-test=entity-results] .el-table__row', { hasText: id }).first().click()
  await page.locator('input[data-test=entity-label]').fill(label)
  const tag = page.locator(`[data-relation="${relation}"] .el-tag`, { hasText: removedLabel }).first()
  await tag.locator('.el-tag__close').click()
  await tag.waitFor({ state: 'detached' })
  await page.locator('[data-test=entity-save]').click()
  await page.locator('.el-message--success').waitFor()
  const after = await apiAs('editor', `/v1/entities/${id}`)
  assert.equal(after.record.label, label)
  assert.ok(!(after.record.links[relation] || []).includes(removed), `${removed} is no longer linked by ${relation}`)
  assert.deepEqual(after.record.links[relation], targets.slice(1), 'the other links stay')
  assert.deepEqual(errors, [])
  await page.close()
})
