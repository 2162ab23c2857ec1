// Shared pieces of the Node-driven compatibility clients (client.mjs, browser.mjs).
//
// - Reporter prints one line per step (`PASS <client>: <step>`, `FAIL <client>: <step>: <detail>`,
//   `SKIP <client>: <step>: <reason>`) and the closing `N passed, M failed, K skipped` line,
//   as compat/py/common.py does for the Python clients.
// - serverCli runs the server's own command line (`crm-server app create`, `app token`,
//   `user add`) on the data dir of the server under test, as an operator would.

import { execFileSync } from 'node:child_process'
import { inspect, isDeepStrictEqual } from 'node:util'

export class StepFailed extends Error {}

export function check (condition, detail) {
  if (!condition) throw new StepFailed(detail)
}

export function show (value) {
  return inspect(value, { depth: 6, breakLength: Infinity, compact: true })
}

export function checkEq (actual, expected, what) {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new StepFailed(`${what}: expected ${show(expected)}, got ${show(actual)}`)
  }
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

export class Reporter {
  // describe(e) may turn a client library's own error into a FAIL detail (or return null).
  constructor (client, describe = () => null) {
    this.client = client
    this.describe = describe
    this.counts = { passed: 0, failed: 0, skipped: 0 }
  }

  pass (name, note) {
    this.counts.passed++
    console.log(`PASS ${this.client}: ${name}${typeof note === 'string' ? ` (${note})` : ''}`)
  }

  fail (name, detail) {
    this.counts.failed++
    console.log(`FAIL ${this.client}: ${name}: ${String(detail).replace(/\s+/g, ' ')}`)
  }

  skip (name, reason) {
    this.counts.skipped++
    console.log(`SKIP ${this.client}: ${name}: ${reason}`)
  }

  // Run fn(); PASS if it resolves (a string result is shown in brackets), FAIL if it throws.
  async step (name, fn) {
    try {
      const note = await fn()
      this.pass(name, note)
      return true
    } catch (e) {
      let detail = e instanceof StepFailed ? e.message : this.describe(e)
      if (detail == null) detail = `${e?.name ?? 'Error'}: ${e?.message ?? e}`
      if (process.env.COMPAT_VERBOSE && !(e instanceof StepFailed)) console.error(e)
      this.fail(name, detail)
      return false
    }
  }

  summary () {
    const { passed, failed, skipped } = this.counts
    console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
    return failed ? 1 : 0
  }

  // For main().catch: report the crash as one more failure, then the summary.
  crashed (e) {
    console.error(e)
    this.fail('crashed', `${e?.name}: ${e?.message}`)
    return this.summary() || 1
  }
}

// `crm-server <command>` on the running server's data dir (SQLite; the CLI may run while the
// server runs). compat/run passes the binary, the data dir and the URL the server listens on
// in COMPAT_SERVER_BIN, COMPAT_DATA_DIR and COMPAT_SERVER_URL; the URL goes to --public-url so
// that the endpoints the CLI prints are the server's real ones.
export const serverCli = {
  env () {
    const { COMPAT_SERVER_BIN: bin, COMPAT_DATA_DIR: dataDir, COMPAT_SERVER_URL: url } = process.env
    check(bin && dataDir && url, 'COMPAT_SERVER_BIN, COMPAT_DATA_DIR or COMPAT_SERVER_URL not set ' +
      "(compat/run sets them to the server's binary, data dir and URL)")
    return { bin, dataDir, url }
  },

  run (...args) {
    const { bin, dataDir, url } = this.env()
    try {
      return execFileSync(bin, ['--data-dir', dataDir, '--public-url', url, '--log', 'warn', ...args],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 }).trim()
    } catch (e) {
      throw new StepFailed(`crm-server ${args.join(' ')}: ${(e.stderr || e.stdout || e.message).trim().slice(0, 300)}`)
    }
  },

  runJson (...args) {
    const out = this.run(...args)
    try {
      return JSON.parse(out)
    } catch {
      throw new StepFailed(`crm-server ${args.join(' ')} printed no JSON: ${show(out.slice(0, 300))}`)
    }
  },

  // {client_id, client_secret} of a new application.
  createApp (name, { scope = 'crm,user', redirectUri } = {}) {
    const args = ['app', 'create', '--name', name, '--scope', scope]
    if (redirectUri) args.push('--redirect-uri', redirectUri)
    const app = this.runJson(...args)
    checkEq(Object.keys(app ?? {}).sort(), ['client_id', 'client_secret'], 'app create output keys')
    return app
  },

  // What `app token` prints: the /oauth/token/ answer for a new token pair.
  issueToken (clientId, { user = 1, ttl } = {}) {
    const args = ['app', 'token', '--client-id', clientId, '--user', String(user)]
    if (ttl !== undefined) args.push('--ttl', String(ttl))
    const token = this.runJson(...args)
    check(token?.access_token && token?.refresh_token, `app token printed ${show(token)}`)
    return token
  },

  // The new user's id.
  addUser (name, lastName = '') {
    const out = this.run('user', 'add', '--name', name, '--last-name', lastName)
    check(/^\d+$/.test(out), `user add printed ${show(out)}, expected the new id`)
    return Number(out)
  }
}
