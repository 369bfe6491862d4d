// Text helpers for display: the server marks matches, the console only draws them.

const ENTITIES = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&#x27;': "'", '&#x2F;': '/' }
const unescape = (s) => s.replace(/&(amp|lt|gt|quot|#39|#x27|#x2F);/g, (m) => ENTITIES[m] || m)

/** A server snippet (HTML-escaped, matches in `<em>`) as `[{text, hit}]`, drawn without v-html.
 * Markdown emphasis markers (`**`) in the item text are dropped: the snippet is shown as text. */
export function snippetSegments(snippet) {
  const out = []
  const parts = String(snippet || '')
    .replace(/\*\*/g, '')
    .split(/(<em>|<\/em>)/)
  let hit = false
  for (const part of parts) {
    if (part === '<em>') hit = true
    else if (part === '</em>') hit = false
    else if (part) out.push({ text: unescape(part), hit })
  }
  return out
}

/** `text` split around every occurrence of the server's matched `terms`, as `[{text, hit}]`. */
export function termSegments(text, terms) {
  const words = [...new Set((terms || []).filter((t) => t && t.length > 0))].sort((a, b) => b.length - a.length)
  if (!words.length || !text) return [{ text: text || '', hit: false }]
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  const re = new RegExp(`(${escaped.join('|')})`, 'gi')
  return String(text)
    .split(re)
    .filter((p) => p !== '')
    .map((p) => ({ text: p, hit: words.some((w) => w.toLowerCase() === p.toLowerCase()) }))
}

/** Copies `text`; falls back to a hidden textarea where the Clipboard API is not allowed (plain http). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    const area = document.createElement('textarea')
    area.value = text
    area.setAttribute('readonly', '')
    area.style.position = 'fixed'
    area.style.opacity = '0'
    document.body.appendChild(area)
    area.select()
    const ok = document.execCommand('copy')
    area.remove()
    return ok
  }
}

/** Rows as CSV (RFC 4180 quoting, BOM so Excel opens UTF-8), downloaded as `name`. */
export function downloadCsv(name, columns, rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? '' : String(v)
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
  }
  const lines = [columns.map((c) => cell(c.label)).join(',')]
  for (const row of rows) lines.push(columns.map((c) => cell(row[c.key])).join(','))
  const blob = new Blob(['\ufeff' + lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' })
  const link = document.createElement('a')
  link.href = URL.createObjectURL(blob)
  link.download = name
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(link.href), 1000)
}
