// The real gridkb server and a real headless Chromium for the console's browser tests.
//
// The server is the release binary ($GRIDKB_BIN, else $CARGO_TARGET_DIR/release/gridkb, else
// target/release/gridkb), started on a free loopback port over a fresh temporary data directory
// that its first start fills from the demo corpus. Chromium is Debian's (/usr/bin/chromium, or
// $CHROMIUM), driven by playwright-core; Playwright's own browser download is never used.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

export function gridkbBinary() {
  const candidates = [
    process.env.GRIDKB_BIN,
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, 'release/gridkb'),
    join(REPO, 'target/release/gridkb'),
  ].filter(Boolean)
  const found = candidates.find((p) => existsSync(p))
  if (!found) throw new Error(`no gridkb release binary in ${candidates.join(', ')}: run cargo build --release -p gridkb`)
  return found
}

function freePort() {
  return new Promise((ok, fail) => {
    const probe = createServer()
    probe.once('error', fail)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => ok(port))
    })
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Starts `gridkb serve` on the demo corpus; resolves once /readyz answers 200. */
export async function startServer({ dense = process.env.GRIDKB_CONSOLE_TEST_DENSE === '1' } = {}) {
  const bin = gridkbBinary()
  const data = mkdtempSync(join(tmpdir(), 'gridkb-console-test-'))
  const port = await freePort()
  const args = ['serve', '--data', data, '--addr', `127.0.0.1:${port}`, '--corpus', join(REPO, 'corpus')]
  if (!dense) args.push('--no-dense')
  const child = spawn(bin, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GRIDKB_LOG: 'warn' } })
  let log = ''
  child.stderr.on('data', (chunk) => {
    log = (log + chunk).slice(-8000)
  })
  const base = `http://127.0.0.1:${port}`
  const started = Date.now()
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gridkb serve exited (${child.exitCode}):\n${log}`)
    try {
      const r = await fetch(`${base}/readyz`)
      if (r.status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() - started > 300_000) throw new Error(`gridkb serve not ready after 300 s:\n${log}`)
    await sleep(250)
  }
  return {
    base,
    data,
    bin,
    log: () => log,
    /** `gridkb keys create` for `role` (in organisation `org`); the server follows the key file
     * within about a second. */
    createKey(role, org) {
      const args = ['keys', 'create', '--data', data, '--role', role, '--note', 'console test']
      if (org) args.push('--org', org)
      return execFileSync(bin, args, {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim()
    },
    /** `gridkb keys revoke` of `key` (by its public id, `k_…`). */
    revokeKey(key) {
      const id = key.match(/^gkb_(k_[0-9a-f]+)_/)[1]
      execFileSync(bin, ['keys', 'revoke', '--data', data, id], { stdio: 'ignore' })
    },
    async stop() {
      child.kill('SIGTERM')
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)])
      if (child.exitCode === null) child.kill('SIGKILL')
      rmSync(data, { recursive: true, force: true })
    },
  }
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** Debian's Chromium with a fresh profile, 1366 × 768, zh-CN. */
export async function startBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'gridkb-console-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1366, height: 768 },
    locale: 'zh-CN',
  })
  return {
    context,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

/** A new page that records console errors, page errors and failed requests. */
export async function openPage(context, { allow = () => false } = {}) {
  const page = await context.newPage()
  const errors = []
  page.on('console', (m) => {
    if (m.type() === 'error' && !allow(m.text(), m.location().url)) errors.push(`console: ${m.text()} (${m.location().url})`)
  })
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`))
  return { page, errors }
}

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]
}
