// The OAuth consent page in a real browser: playwright-core driving headless Chromium (Debian's
// package, /usr/bin/chromium, or COMPAT_CHROMIUM).
//
// An application is registered with `crm-server app create --redirect-uri` pointing at a small
// HTTP listener of this script (127.0.0.1, a port the OS picks) that records what reaches it. A
// non-administrator is added with `crm-server user add`. Chromium opens
// /oauth/authorize/?client_id=…&state=…, the page must show the application's name (HTML
// special characters included) and its scopes, the user is picked in the form and Approve is
// clicked; the server must redirect the browser to the listener with code and state. The code
// is then exchanged at /oauth/token/ (grant_type=authorization_code) for a token of the chosen
// user, user.current with that token must answer that user, and a second exchange of the same
// code must be refused with invalid_grant.
//
// The server runs with a self-signed certificate: Chromium ignores certificate errors (its own
// context option), Node's fetch trusts it through NODE_EXTRA_CA_CERTS as the js client does.

import { createServer } from 'node:http'
import { existsSync } from 'node:fs'
import { chromium } from 'playwright-core'
import { Reporter, check, checkEq, serverCli, show } from './common.mjs'

const rep = new Reporter('browser')
const step = (name, fn) => rep.step(name, fn)

const CHROMIUM = process.env.COMPAT_CHROMIUM || '/usr/bin/chromium'
const APP_NAME = 'Consent check <b>&amp;</b> "quotes" & Co'
const STATE = 'xyz'
const TOKEN_KEYS = ['access_token', 'client_endpoint', 'domain', 'expires', 'expires_in', 'member_id',
  'refresh_token', 'scope', 'server_endpoint', 'status', 'user_id']

// The app's redirect target: records every request to /callback (Chromium also asks for
// /favicon.ico, which is not recorded).
function startListener () {
  const hits = []
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1')
    if (url.pathname === '/callback') hits.push(url)
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
    res.end('<!DOCTYPE html><title>callback</title><p id="received">received</p>')
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve({ server, hits, url: `http://127.0.0.1:${server.address().port}/callback` }))
  })
}

async function getJson (url) {
  const response = await fetch(url)
  const text = await response.text()
  try {
    return { status: response.status, body: JSON.parse(text) }
  } catch {
    throw new Error(`${url}: HTTP ${response.status}, not JSON: ${show(text.slice(0, 200))}`)
  }
}

async function main () {
  const serverUrl = process.env.COMPAT_SERVER_URL
  const host = serverUrl ? new URL(serverUrl).host : ''
  const st = {}
  let browser, listener

  try {
    const ready = await step('set up: listener, app with --redirect-uri, non-admin user, Chromium', async () => {
      check(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (Debian package chromium; ` +
        'COMPAT_CHROMIUM names another binary)')
      listener = await startListener()
      st.app = serverCli.createApp(APP_NAME, { scope: 'crm,user', redirectUri: listener.url })
      st.user = serverCli.addUser('Grace', 'Browser')
      check(st.user > 1, `new user id ${st.user}`)
      // As root Chromium needs --no-sandbox; the rest keeps it off the (closed) network.
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync']
      })
      st.page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage()
      return `Chromium ${browser.version()}, user ${st.user}, redirect URI ${listener.url}`
    })
    if (!ready) {
      rep.fail('consent flow', 'cannot continue without the set-up')
      return rep.summary()
    }

    await step('consent page: the app name (escaped), its scopes, the active users', async () => {
      const url = `${serverUrl}/oauth/authorize/?client_id=${encodeURIComponent(st.app.client_id)}&state=${STATE}`
      const response = await st.page.goto(url)
      checkEq(response.status(), 200, 'HTTP status of the consent page')
      checkEq(await st.page.locator('#app').textContent(), APP_NAME, 'the app name as shown')
      checkEq(await st.page.locator('#app b').count(), 0, 'elements made from the app name')
      checkEq(await st.page.locator('#scopes').textContent(), 'crm,user', 'the scopes as shown')
      const options = await st.page.locator('#user option').evaluateAll(
        els => els.map(o => [o.value, o.textContent]))
      const values = options.map(([v]) => v)
      check(values.includes('1') && values.includes(String(st.user)),
        `users 1 and ${st.user} among the options ${show(options)}`)
      const mine = options.find(([v]) => v === String(st.user))
      check(mine[1].includes('Grace') && mine[1].includes('Browser'), `option of user ${st.user}: ${show(mine)}`)
      check(await st.page.locator('#approve').isVisible(), 'no visible Approve button')
      return `${options.length} users to choose from`
    })

    await step('pick the non-admin, click Approve -> the app\'s redirect URI gets code and state', async () => {
      await st.page.locator('#user').selectOption(String(st.user))
      await Promise.all([
        st.page.waitForURL(u => u.href.startsWith(listener.url), { timeout: 10000 }),
        st.page.locator('#approve').click()
      ])
      checkEq(await st.page.locator('#received').textContent(), 'received', 'the page the browser ended on')
      checkEq(listener.hits.length, 1, 'requests that reached the redirect URI')
      const q = listener.hits[0].searchParams
      st.code = q.get('code')
      check(st.code && st.code.length >= 16, `code ${show(st.code)}`)
      checkEq([q.get('state'), q.get('domain'), q.get('server_domain'), q.get('scope')],
        [STATE, host, host, 'crm,user'], 'state, domain, server_domain, scope')
      check(/^[0-9a-f]{32}$/.test(q.get('member_id') ?? ''), `member_id ${show(q.get('member_id'))}`)
      return `query keys ${[...q.keys()].join(', ')}`
    })

    const exchange = () => getJson(`${serverUrl}/oauth/token/?` + new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: st.app.client_id,
      client_secret: st.app.client_secret,
      code: st.code ?? ''
    }))

    await step('code exchange (grant_type=authorization_code) -> a token of the chosen user', async () => {
      check(st.code, 'no code from the previous step')
      const { status, body } = await exchange()
      checkEq(status, 200, `HTTP status (${show(body)})`)
      checkEq(Object.keys(body).sort(), TOKEN_KEYS, 'token answer keys')
      checkEq([body.user_id, body.scope, body.domain, body.client_endpoint],
        [st.user, 'crm,user', host, `${serverUrl}/rest/`], 'user_id, scope, domain, client_endpoint')
      const me = await getJson(`${serverUrl}/rest/user.current?auth=${encodeURIComponent(body.access_token)}`)
      checkEq(me.status, 200, `user.current HTTP status (${show(me.body)})`)
      checkEq([me.body.result?.ID, me.body.result?.NAME, me.body.result?.LAST_NAME],
        [String(st.user), 'Grace', 'Browser'], 'user.current ID, NAME, LAST_NAME')
      const info = await getJson(`${serverUrl}/rest/app.info?auth=${encodeURIComponent(body.access_token)}`)
      checkEq([info.status, info.body.result?.user_id, info.body.result?.client_id],
        [200, st.user, st.app.client_id], 'app.info HTTP status, user_id, client_id')
      return `user.current ID ${me.body.result.ID}`
    })

    await step('the same code again -> HTTP 400 invalid_grant', async () => {
      check(st.code, 'no code')
      const { status, body } = await exchange()
      checkEq([status, body.error], [400, 'invalid_grant'], `HTTP status, error (${show(body)})`)
      return body.error_description
    })

    await step('an unknown client_id -> an error page, no redirect', async () => {
      const response = await st.page.goto(`${serverUrl}/oauth/authorize/?client_id=local.nonexistent&state=${STATE}`)
      checkEq(response.status(), 400, 'HTTP status')
      checkEq(await st.page.locator('#approve').count(), 0, 'Approve buttons on the error page')
      checkEq(listener.hits.length, 1, 'requests that reached the redirect URI')
      return (await st.page.locator('#error').textContent())?.trim()
    })
  } finally {
    await browser?.close().catch(() => {})
    listener?.server.close()
  }
  return rep.summary()
}

main().then(code => { process.exitCode = code }, e => { process.exitCode = rep.crashed(e) })
