// @bitrix24/b24jssdk (official JS SDK) against crm-server.
//
// A webhook client from B24Hook.fromWebhookUrl(); every call goes through the SDK's own
// helpers: b24.actions.v2.call / batch / batchByChunk / callList / fetchList, AjaxResult
// paging (isMore/getTotal/getNext), and the deprecated aliases callMethod / callBatch /
// callListMethod / fetchListMethod that existing code still uses. Errors are checked as the
// SDK's AjaxError (code, status).
//
// Deals and companies through the same helpers: crm.deal.* (defaults, stage moves, the
// unknown-stage error), crm.deal.contact.*, a batch with $result references, 110 deals by
// batchByChunk listed by callList, fetchList and next/total paging, a deal category and its
// stages, crm.company.* and the contact-company bindings from both sides. A smart process:
// crm.type.add, a category with its stages, 120 items by batchByChunk moved through stages
// and listed with filters, start=-1, callList and fetchList over `items` by `id`.
//
// Then the SDK's OAuth client (B24OAuth) with short-lived token pairs that the server's own
// CLI (`crm-server app create`, `app token`) issues: calls succeed, and after the access token
// expired the SDK refreshes it by itself (POST <server>/oauth/token/), both when it sees the
// expiry itself and when only the server's 401 expired_token tells it.
//
// The SDK refuses non-HTTPS webhooks: compat/run starts the server with --tls-self-signed and
// sets NODE_EXTRA_CA_CERTS to the printed certificate.

import { AjaxError, AjaxResult, ApiVersion, B24Hook, B24OAuth, ParamsFactory } from '@bitrix24/b24jssdk'
import { Reporter, StepFailed, check, checkEq, serverCli, show, sleep } from './common.mjs'

const CLIENT = 'js'
const rep = new Reporter(CLIENT, e =>
  e instanceof AjaxError ? `AjaxError code=${e.code} status=${e.status}: ${e.message}` : null)
const step = (name, fn) => rep.step(name, fn)

const hookUrl = process.env.B24_WEBHOOK
if (!hookUrl) {
  console.error('B24_WEBHOOK is not set (compat/run sets it to the server\'s webhook URL)')
  process.exit(2)
}

function makeHook (url) {
  const b24 = B24Hook.fromWebhookUrl(url)
  b24.offClientSideWarning()
  return b24
}

const b24 = makeHook(hookUrl)
const wrongUrl = hookUrl.replace(/\/rest\/(\d+)\/[^/]+\/?$/, '/rest/$1/0000wrongsecret0000/')

// One REST call through the SDK; returns `result` and checks the success envelope.
async function call (method, params = {}, client = b24) {
  const response = await client.actions.v2.call.make({ method, params })
  check(response instanceof AjaxResult, `${method}: not an AjaxResult`)
  check(response.isSuccess, `${method}: ${response.getErrorMessages().join('; ')}`)
  const data = response.getData()
  check(data && 'result' in data && typeof data.time === 'object',
    `${method}: payload without result/time: ${show(data)}`)
  return data.result
}

// Expect the call to fail with the SDK's AjaxError; return it.
async function ajaxError (method, params, client = b24) {
  try {
    const response = await client.actions.v2.call.make({ method, params })
    throw new StepFailed(`${method} succeeded (${show(response.getData())}); an AjaxError was expected`)
  } catch (e) {
    if (e instanceof StepFailed) throw e
    check(e instanceof AjaxError, `expected AjaxError, got ${e?.name}: ${e?.message}`)
    return e
  }
}

function binding (contactId, sort, primary) {
  return { CONTACT_ID: contactId, SORT: sort, ROLE_ID: 0, IS_PRIMARY: primary ? 'Y' : 'N' }
}

function checkItems (items, expected, what = 'items.get') {
  check(Array.isArray(items), `${what}: expected an array, got ${show(items)}`)
  for (const row of items) {
    checkEq(Object.keys(row), ['CONTACT_ID', 'SORT', 'ROLE_ID', 'IS_PRIMARY'], `${what}: keys`)
    for (const key of ['CONTACT_ID', 'SORT', 'ROLE_ID']) {
      check(Number.isInteger(row[key]), `${what}: ${key} is ${show(row[key])}, expected an integer`)
    }
    check(row.IS_PRIMARY === 'Y' || row.IS_PRIMARY === 'N', `${what}: IS_PRIMARY is ${show(row.IS_PRIMARY)}`)
  }
  checkEq(items, expected, what)
}

// ---- OAuth: B24OAuth with token pairs from `crm-server app token` ----
// Short-lived tokens (OAUTH_TTL seconds) are used so that the SDK has to refresh them; the
// first step must be done before they expire (`expires` is whole seconds, so the SDK may see
// them expire up to a second early).
const OAUTH_TTL = 3

// B24OAuth's constructor options from what /oauth/token/ (and `app token`) answers.
function oauthOptions (t, overrides = {}) {
  return {
    accessToken: t.access_token,
    refreshToken: t.refresh_token,
    expires: t.expires,
    expiresIn: t.expires_in,
    scope: t.scope,
    domain: t.domain,
    memberId: t.member_id,
    clientEndpoint: t.client_endpoint,
    serverEndpoint: t.server_endpoint,
    status: t.status,
    userId: t.user_id,
    ...overrides
  }
}

// A B24OAuth client; `refreshes` collects the auth data of every refresh the SDK made.
function makeOAuth (token, app, overrides) {
  const client = new B24OAuth(oauthOptions(token, overrides),
    { clientId: app.client_id, clientSecret: app.client_secret })
  client.offClientSideWarning()
  const refreshes = []
  client.setCallbackRefreshAuth(async ({ authData }) => { refreshes.push(authData) })
  return { token, client, refreshes }
}

// The same refresh the SDK makes (form POST to the server endpoint's /oauth/token/), by hand.
async function refreshByHand (token, app, refreshToken) {
  const url = token.server_endpoint.replace('/rest/', '') + '/oauth/token/'
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token', client_id: app.client_id, client_secret: app.client_secret, refresh_token: refreshToken
    })
  })
  return { status: response.status, body: await response.json() }
}

// After a refresh by the SDK: one refresh, a new pair in the SDK's auth data, and it works.
async function checkRefreshed (c, app) {
  checkEq(c.refreshes.length, 1, 'refreshes the SDK made (its refresh callback)')
  const auth = c.client.auth.getAuthData()
  check(auth, 'the SDK holds no valid auth data after the refresh')
  check(auth.access_token !== c.token.access_token, 'the SDK still holds the expired access token')
  check(auth.refresh_token !== c.token.refresh_token, 'the SDK still holds the used refresh token')
  checkEq(c.refreshes[0].access_token, auth.access_token, 'access token passed to the refresh callback')
  check(auth.expires > Date.now() / 1000 + 600, `new expires ${auth.expires} is not about an hour ahead`)
  checkEq((await call('user.current', {}, c.client)).ID, '1', 'user.current ID with the refreshed token')
  // The refresh token the SDK exchanged is used up.
  const again = await refreshByHand(c.token, app, c.token.refresh_token)
  checkEq([again.status, again.body.error], [400, 'invalid_grant'], 'the used refresh token, by hand')
}

async function oauthScenario () {
  let app, honest, trusting, issuedAt
  await step('B24OAuth: calls with token pairs from `crm-server app token`', async () => {
    app = serverCli.createApp('js B24OAuth', { scope: 'crm,user' })
    issuedAt = Date.now()
    const first = serverCli.issueToken(app.client_id, { ttl: OAUTH_TTL })
    const second = serverCli.issueToken(app.client_id, { ttl: OAUTH_TTL })
    // `honest` knows when its token expires; `trusting` is told it lives an hour longer, so
    // that it sends the token after expiry and must react to the server's 401 expired_token.
    honest = makeOAuth(first, app)
    trusting = makeOAuth(second, app, { expires: second.expires + 3600 })
    for (const c of [honest, trusting]) {
      checkEq((await call('user.current', {}, c.client)).ID, '1', 'user.current ID')
    }
    const title = 'OAuth lead (js)'
    const lead = await call('crm.lead.add', { fields: { TITLE: title } }, honest.client)
    checkEq((await call('crm.lead.get', { id: lead }, trusting.client)).TITLE, title, 'crm.lead.get TITLE')
    await honest.client.initIsAdmin()
    checkEq(honest.client.auth.isAdmin, true, 'isAdmin after initIsAdmin (profile)')
    checkEq([honest.refreshes.length, trusting.refreshes.length], [0, 0],
      `refreshes before expiry (this step took ${Date.now() - issuedAt} ms of the tokens' ${OAUTH_TTL} s)`)
    checkEq(honest.client.auth.getAuthData().access_token, first.access_token, 'access token before expiry')
    return `client_id ${app.client_id}, tokens for ${OAUTH_TTL} s`
  })

  await step('B24OAuth: token expired -> the SDK refreshes it by itself, the call succeeds', async () => {
    check(honest && trusting, 'no clients from the previous step')
    // Past the expiry both as the server counts it and as `expires` says, with a margin.
    const until = Math.max(issuedAt + OAUTH_TTL * 1000, honest.token.expires * 1000,
      trusting.token.expires * 1000) + 1000
    await sleep(Math.max(0, until - Date.now()))
    checkEq((await call('profile', {}, honest.client)).ID, '1', 'profile ID after expiry')
    await checkRefreshed(honest, app)
    return 'expiry seen by the SDK itself, refreshed before the call'
  })

  await step('B24OAuth: token expired, the SDK thinks it valid -> 401 expired_token, refresh, retry', async () => {
    check(trusting, 'no client from the first step')
    // What the server answers for that token (the SDK keeps this 401 to itself).
    const raw = await fetch(`${trusting.token.client_endpoint}user.current`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ auth: trusting.token.access_token })
    })
    checkEq([raw.status, await raw.json()],
      [401, { error: 'expired_token', error_description: 'The access token provided has expired' }],
      'the expired token, by hand')
    checkEq((await call('profile', {}, trusting.client)).ID, '1', 'profile ID through the SDK')
    await checkRefreshed(trusting, app)
    return 'refreshed on the server\'s expired_token'
  })

  await step('injected 401 expired_token on a valid token -> the SDK refreshes and retries', async () => {
    check(app, 'no application from the first step')
    const fresh = makeOAuth(serverCli.issueToken(app.client_id, { ttl: 3600 }), app)
    await addFault({ method: 'profile', error: 'expired_token', times: 1, credential: 'token' })
    checkEq((await call('profile', {}, fresh.client)).ID, '1', 'profile ID through the SDK')
    await checkRefreshed(fresh, app)
    const rules = await control('GET', 'faults')
    checkEq(rules.rules.map(r => r.hits), [1], 'the rule struck once')
    await control('DELETE', 'faults')
    return 'refreshed on an injected expired_token'
  })
}

// ---- the test-double controls (compat/run starts the server with --control) ----
async function control (method, path, body) {
  const response = await fetch(`${process.env.COMPAT_SERVER_URL}/_crm/${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const answer = await response.json()
  check(response.ok, `${method} /_crm/${path}: ${response.status} ${show(answer)}`)
  return answer
}

const addFault = rule => control('POST', 'faults', rule)

async function faultScenario () {
  await step('injected 503 QUERY_LIMIT_EXCEEDED twice -> the SDK retries, the third try succeeds', async () => {
    await addFault({ method: 'crm.lead.add', error: 'QUERY_LIMIT_EXCEEDED', times: 2 })
    const started = Date.now()
    const response = await crm.actions.v2.call.make({ method: 'crm.lead.add', params: { fields: { TITLE: 'js after two 503s' } } })
    check(response.isSuccess, response.getErrorMessages().join('; '))
    const id = response.getData().result
    checkEq((await dcall('crm.lead.get', { id })).TITLE, 'js after two 503s', 'the lead written once it went through')
    const { rules } = await control('GET', 'faults')
    checkEq(rules.map(r => r.hits), [2], 'the rule struck twice')
    const { calls } = await control('GET', 'journal?method=crm.lead.add&limit=3')
    checkEq(calls.map(c => c.status), [200, 503, 503], 'the journal: two 503s, then 200')
    await control('DELETE', 'faults')
    return `after ${Date.now() - started} ms of the SDK's back-off`
  })
}

// ---- deals and companies ----
// These steps run through a second webhook client built with the SDK's Enterprise-plan
// limits (ParamsFactory.getEnterprise(): a burst of 250 requests, then 5 per second), as
// code for a portal on that plan configures it. The default limits (a burst of 50, then 2
// per second) would make the SDK wait about half a second before each of these calls, since
// the steps above already used the burst of the main client.
const crm = B24Hook.fromWebhookUrl(hookUrl, { restrictionParams: ParamsFactory.getEnterprise() })
crm.offClientSideWarning()
const dcall = (method, params = {}) => call(method, params, crm)

// What a deal created without fields looks like (crm.deal.get: every scalar a string).
const DEAL_DEFAULTS = {
  STAGE_ID: 'NEW',
  STAGE_SEMANTIC_ID: 'P',
  CATEGORY_ID: '0',
  CLOSED: 'N',
  IS_NEW: 'Y',
  OPPORTUNITY: '0.00',
  CURRENCY_ID: 'USD',
  COMPANY_ID: '0',
  CONTACT_ID: null
}
const DEAL_STAGE_ERROR = 'The value of "Deal stage" is incorrect'
const DEALS = 110 // three pages of 50

function pick (row, keys) {
  return Object.fromEntries(keys.map(k => [k, row?.[k]]))
}

// crm.deal.get / crm.company.get: scalars are strings or null, multi-fields are arrays.
function checkScalarsAreStrings (row, what) {
  check(row && typeof row === 'object', `${what}: ${show(row)}`)
  for (const [k, v] of Object.entries(row)) {
    if (v === null || Array.isArray(v)) continue
    check(typeof v === 'string', `${what}: ${k} is ${show(v)}, expected a string`)
  }
}

// The SDK's AjaxError for a 400 with error "": axios's code, the server's body in originalError.
function checkEmptyCodeError (e, description) {
  checkEq(e.status, 400, 'AjaxError.status')
  checkEq(e.code, 'ERR_BAD_REQUEST', 'AjaxError.code (axios code for an empty error code)')
  checkEq(e.originalError?.response?.data, { error: '', error_description: description },
    'the server body in AjaxError.originalError')
  return `AjaxError code=${e.code} status=${e.status}, "${description}"`
}

async function dealScenario () {
  let deal
  await step('crm.deal.fields (45) and crm.deal.add without fields: defaults, strings', async () => {
    const fields = await dcall('crm.deal.fields')
    checkEq(Object.keys(fields ?? {}).length, 45, 'crm.deal.fields count')
    check(fields.STAGE_ID?.type === 'crm_status' && fields.CATEGORY_ID?.isImmutable === true,
      `STAGE_ID/CATEGORY_ID descriptors: ${show([fields.STAGE_ID, fields.CATEGORY_ID])}`)
    deal = await dcall('crm.deal.add', { fields: {} })
    check(Number.isInteger(deal) && deal > 0, `crm.deal.add returned ${show(deal)}, expected an integer id`)
    const got = await dcall('crm.deal.get', { id: deal })
    checkScalarsAreStrings(got, 'crm.deal.get')
    checkEq(got.ID, String(deal), 'ID')
    checkEq(got.TITLE, `Deal #${deal}`, 'TITLE of a deal added without one')
    checkEq(pick(got, Object.keys(DEAL_DEFAULTS)), DEAL_DEFAULTS, 'defaults')
    return `deal ${deal}`
  })

  await step('crm.deal.update STAGE_ID WON -> STAGE_SEMANTIC_ID S, CLOSED Y', async () => {
    check(deal, 'no deal from the previous step')
    checkEq(await dcall('crm.deal.update', { id: deal, fields: { STAGE_ID: 'WON', OPPORTUNITY: 2500 } }),
      true, 'crm.deal.update')
    const got = await dcall('crm.deal.get', { id: deal })
    checkEq(pick(got, ['STAGE_ID', 'STAGE_SEMANTIC_ID', 'CLOSED', 'IS_NEW', 'OPPORTUNITY']),
      { STAGE_ID: 'WON', STAGE_SEMANTIC_ID: 'S', CLOSED: 'Y', IS_NEW: 'N', OPPORTUNITY: '2500.00' },
      'crm.deal.get after the move to WON')
  })

  await step('error: unknown STAGE_ID on update and add -> AjaxError 400, nothing written', async () => {
    check(deal, 'no deal from the first step')
    const onUpdate = await ajaxError('crm.deal.update', { id: deal, fields: { STAGE_ID: 'NO_SUCH_STAGE', TITLE: 'not written' } }, crm)
    const shown = checkEmptyCodeError(onUpdate, DEAL_STAGE_ERROR)
    const got = await dcall('crm.deal.get', { id: deal })
    checkEq([got.STAGE_ID, got.TITLE], ['WON', `Deal #${deal}`], 'STAGE_ID, TITLE after the refused update')
    const before = (await crm.actions.v2.call.make({ method: 'crm.deal.list', params: { select: ['ID'] } })).getTotal()
    checkEmptyCodeError(await ajaxError('crm.deal.add', { fields: { TITLE: 'never added', STAGE_ID: 'NO_SUCH_STAGE' } }, crm),
      DEAL_STAGE_ERROR)
    const after = (await crm.actions.v2.call.make({ method: 'crm.deal.list', params: { select: ['ID'] } })).getTotal()
    checkEq(after, before, 'deal count (getTotal) after the refused add')
    return shown
  })

  await step('error: missing deal -> AjaxError 400 "Not found"', async () =>
    checkEmptyCodeError(await ajaxError('crm.deal.get', { id: 999999 }, crm), 'Not found'))

  await step('crm.deal.contact.add -> true, again -> false; items.get; deal CONTACT_ID', async () => {
    const d = await dcall('crm.deal.add', { fields: { TITLE: 'js deal with contacts' } })
    const [k1, k2] = [await dcall('crm.contact.add', { fields: { NAME: 'Deal', LAST_NAME: 'One' } }),
      await dcall('crm.contact.add', { fields: { NAME: 'Deal', LAST_NAME: 'Two' } })]
    checkEq(await dcall('crm.deal.contact.add', { id: d, fields: { CONTACT_ID: k1 } }), true, 'first crm.deal.contact.add')
    checkEq(await dcall('crm.deal.contact.add', { id: d, fields: { CONTACT_ID: k1 } }), false, 'the same add again')
    checkEq(await dcall('crm.deal.contact.add', { id: d, fields: { CONTACT_ID: k2, SORT: 50, IS_PRIMARY: 'Y' } }),
      true, 'second crm.deal.contact.add, IS_PRIMARY Y')
    checkItems(await dcall('crm.deal.contact.items.get', { id: d }), [binding(k1, 10, false), binding(k2, 50, true)],
      'crm.deal.contact.items.get')
    checkEq((await dcall('crm.deal.get', { id: d })).CONTACT_ID, String(k2), 'crm.deal.get CONTACT_ID (the primary)')
    return `deal ${d}, contacts ${k1} and ${k2}`
  })

  await step('crm.deal.add with CONTACT_IDS binds the set, the first is primary', async () => {
    const ks = []
    for (const name of ['Set A', 'Set B', 'Set C']) ks.push(await dcall('crm.contact.add', { fields: { NAME: name } }))
    const d = await dcall('crm.deal.add', { fields: { TITLE: 'js deal CONTACT_IDS', CONTACT_IDS: ks } })
    checkItems(await dcall('crm.deal.contact.items.get', { id: d }),
      ks.map((k, i) => binding(k, 10 * (i + 1), i === 0)), 'crm.deal.contact.items.get')
    const got = await dcall('crm.deal.get', { id: d })
    checkEq(got.CONTACT_ID, String(ks[0]), 'crm.deal.get CONTACT_ID')
    check(!('CONTACT_IDS' in got), 'crm.deal.get shows the write-only CONTACT_IDS')
  })

  await step('batch with $result references: contact, deal and their binding in one call', async () => {
    const response = await crm.actions.v2.batch.make({
      calls: {
        contact: ['crm.contact.add', { fields: { NAME: 'Batch', LAST_NAME: 'Deal contact' } }],
        deal: ['crm.deal.add', { fields: { TITLE: 'js batch deal', OPPORTUNITY: 99.5 } }],
        bind: ['crm.deal.contact.add', { id: '$result[deal]', fields: { CONTACT_ID: '$result[contact]' } }],
        get: ['crm.deal.get', { id: '$result[deal]' }]
      },
      options: { isHaltOnError: true }
    })
    check(response.isSuccess, response.getErrorMessages().join('; '))
    const r = response.getData()
    checkEq(r.bind, true, 'crm.deal.contact.add with $result references')
    checkEq(pick(r.get, ['ID', 'TITLE', 'OPPORTUNITY', 'CONTACT_ID']),
      { ID: String(r.deal), TITLE: 'js batch deal', OPPORTUNITY: '99.50', CONTACT_ID: String(r.contact) },
      'crm.deal.get in the same batch')
  })

  const titles = new Map()
  await step(`batchByChunk: ${DEALS} crm.deal.add`, async () => {
    const response = await crm.actions.v2.batchByChunk.make({
      calls: Array.from({ length: DEALS }, (_, i) =>
        ['crm.deal.add', { fields: { TITLE: `js deal list ${i}`, OPPORTUNITY: i, STAGE_ID: i % 2 ? 'PREPARATION' : 'NEW' } }]),
      options: { isHaltOnError: true }
    })
    check(response.isSuccess, response.getErrorMessages().join('; '))
    const ids = response.getData()
    check(Array.isArray(ids) && ids.length === DEALS && ids.every(Number.isInteger), `ids: ${show(ids)}`)
    check(new Set(ids).size === DEALS, 'duplicate ids')
    ids.forEach((id, i) => titles.set(id, `js deal list ${i}`))
    return `${Math.ceil(DEALS / 50)} batches`
  })

  const listParams = { filter: { '%TITLE': 'js deal list' }, select: ['ID', 'TITLE', 'OPPORTUNITY', 'STAGE_ID'] }
  const checkDealRows = (rows, what) => {
    check(Array.isArray(rows), `${what}: not an array`)
    const ids = rows.map(r => Number(r.ID))
    check(new Set(ids).size === ids.length, `${what}: ${ids.length - new Set(ids).size} duplicates`)
    checkEq(ids.slice().sort((a, b) => a - b), [...titles.keys()].sort((a, b) => a - b), `${what}: ids`)
    for (const r of rows) {
      const i = Number(titles.get(Number(r.ID))?.split(' ').pop())
      checkEq(pick(r, ['TITLE', 'OPPORTUNITY', 'STAGE_ID']),
        { TITLE: `js deal list ${i}`, OPPORTUNITY: `${i}.00`, STAGE_ID: i % 2 ? 'PREPARATION' : 'NEW' },
        `${what}: deal ${r.ID}`)
    }
  }

  await step('callList crm.deal.list: every deal exactly once', async () => {
    check(titles.size === DEALS, 'no deals')
    const response = await crm.actions.v2.callList.make({ method: 'crm.deal.list', params: listParams })
    check(response.isSuccess, response.getErrorMessages().join('; '))
    checkDealRows(response.getData(), 'callList')
  })

  await step('fetchList crm.deal.list: every deal exactly once', async () => {
    check(titles.size === DEALS, 'no deals')
    const rows = []
    const sizes = []
    for await (const chunk of crm.actions.v2.fetchList.make({ method: 'crm.deal.list', params: listParams })) {
      sizes.push(chunk.length)
      rows.push(...chunk)
    }
    checkDealRows(rows, 'fetchList')
    return `chunks of ${sizes.join(', ')}`
  })

  await step('crm.deal.list paging: getTotal, isMore, getNext (next past 50)', async () => {
    check(titles.size === DEALS, 'no deals')
    let page = await crm.actions.v2.call.make({ method: 'crm.deal.list', params: { ...listParams, order: { ID: 'ASC' }, start: 0 } })
    checkEq(page.getTotal(), DEALS, 'getTotal()')
    const rows = [...page.getData().result]
    const sizes = [rows.length]
    while (page.isMore()) {
      page = await page.getNext(crm.getHttpClient(ApiVersion.v2))
      check(page, 'getNext returned no page while isMore() was true')
      sizes.push(page.getData().result.length)
      rows.push(...page.getData().result)
      check(sizes.length < 10, 'more pages than expected')
    }
    checkDealRows(rows, 'paging')
    checkEq(sizes, [50, 50, DEALS - 100], 'page sizes')
    return `pages of ${sizes.join(', ')}`
  })

  await step('crm.category.add (entityTypeId 2) -> a deal in it starts in C<id>:NEW; dealcategory.stage.list', async () => {
    const added = await dcall('crm.category.add', { entityTypeId: 2, fields: { name: 'js pipeline' } })
    const cat = added?.category?.id
    check(Number.isInteger(cat) && cat > 0, `crm.category.add returned ${show(added)}`)
    checkEq(added.category.name, 'js pipeline', 'category name')
    const stages = await dcall('crm.dealcategory.stage.list', { id: cat })
    check(Array.isArray(stages) && stages.length > 0, `crm.dealcategory.stage.list: ${show(stages)}`)
    checkEq(stages[0].STATUS_ID, `C${cat}:NEW`, 'first stage')
    check(stages.every(s => s.STATUS_ID.startsWith(`C${cat}:`)), `stage ids: ${show(stages.map(s => s.STATUS_ID))}`)
    check(stages.some(s => s.STATUS_ID === `C${cat}:WON`), 'no WON stage in the category')
    const d = await dcall('crm.deal.add', { fields: { TITLE: 'js deal in a pipeline', CATEGORY_ID: cat } })
    const got = await dcall('crm.deal.get', { id: d })
    checkEq(pick(got, ['CATEGORY_ID', 'STAGE_ID', 'STAGE_SEMANTIC_ID']),
      { CATEGORY_ID: String(cat), STAGE_ID: `C${cat}:NEW`, STAGE_SEMANTIC_ID: 'P' }, 'the deal in the category')
    checkEq(await dcall('crm.deal.update', { id: d, fields: { STAGE_ID: `C${cat}:WON` } }), true, 'move to the category\'s WON')
    checkEq(pick(await dcall('crm.deal.get', { id: d }), ['STAGE_ID', 'STAGE_SEMANTIC_ID', 'CLOSED']),
      { STAGE_ID: `C${cat}:WON`, STAGE_SEMANTIC_ID: 'S', CLOSED: 'Y' }, 'after the move')
    return `category ${cat}, ${stages.length} stages`
  })
}

// ---- a smart process through crm.type.*, crm.category.*, crm.status.* and crm.item.* ----
const ITEMS = 120 // three pages of 50

async function smartProcessScenario () {
  let etid, category, prefix
  await step('crm.type.add: a smart process with its default category', async () => {
    const { type } = await dcall('crm.type.add', {
      fields: { title: 'js Orders', isCategoriesEnabled: 'Y', isStagesEnabled: 'Y', isClientEnabled: 'Y' }
    })
    etid = type?.entityTypeId
    check(Number.isInteger(etid) && etid >= 1030 && etid % 2 === 0, `entityTypeId ${show(etid)}`)
    checkEq(pick(type, ['title', 'isCategoriesEnabled', 'isStagesEnabled']),
      { title: 'js Orders', isCategoriesEnabled: 'Y', isStagesEnabled: 'Y' }, 'the new type')
    const { type: again } = await dcall('crm.type.getByEntityTypeId', { entityTypeId: etid })
    checkEq(again?.id, type.id, 'crm.type.getByEntityTypeId')
    return `entityTypeId ${etid}`
  })

  await step('crm.category.add for the type; its stages in crm.status.list', async () => {
    check(etid, 'no type from the previous step')
    const added = await dcall('crm.category.add', { entityTypeId: etid, fields: { name: 'js Wholesale', sort: 10 } })
    category = added?.category?.id
    check(Number.isInteger(category), `crm.category.add: ${show(added)}`)
    const { categories } = await dcall('crm.category.list', { entityTypeId: etid })
    checkEq(categories.map(c => [c.name, c.isDefault]).sort(), [['General', 'Y'], ['js Wholesale', 'N']],
      'crm.category.list: the default category and the new one')
    const stages = await dcall('crm.status.list', {
      filter: { ENTITY_ID: `DYNAMIC_${etid}_STAGE_${category}` }, order: { SORT: 'ASC' }
    })
    prefix = `DT${etid}_${category}:`
    checkEq(stages.map(s => s.STATUS_ID), ['NEW', 'PREPARATION', 'CLIENT', 'SUCCESS', 'FAIL'].map(c => prefix + c),
      'the new category\'s stages')
  })

  const titles = new Map()
  await step(`batchByChunk: ${ITEMS} crm.item.add into the category`, async () => {
    check(category, 'no category from the previous step')
    const response = await crm.actions.v2.batchByChunk.make({
      calls: Array.from({ length: ITEMS }, (_, i) =>
        ['crm.item.add', { entityTypeId: etid, fields: { title: `js item ${i}`, opportunity: i, categoryId: category } }]),
      options: { isHaltOnError: true }
    })
    check(response.isSuccess, response.getErrorMessages().join('; '))
    const items = response.getData().map(r => r?.item)
    check(items.length === ITEMS && items.every(i => Number.isInteger(i?.id)), `items: ${show(items.slice(0, 2))}`)
    checkEq([items[0].categoryId, items[0].stageId], [category, `${prefix}NEW`], 'the first item\'s category and stage')
    items.forEach((item, i) => titles.set(item.id, `js item ${i}`))
    return `${Math.ceil(ITEMS / 50)} batches`
  })

  await step('crm.item.update moves an item through the stages', async () => {
    const [id] = titles.keys()
    check(id, 'no items')
    for (const stage of ['PREPARATION', 'CLIENT', 'SUCCESS']) {
      await dcall('crm.item.update', { entityTypeId: etid, id, fields: { stageId: prefix + stage } })
    }
    const { item } = await dcall('crm.item.get', { entityTypeId: etid, id })
    checkEq(pick(item, ['stageId', 'previousStageId']), { stageId: `${prefix}SUCCESS`, previousStageId: `${prefix}CLIENT` },
      'the moved item')
    const e = await ajaxError('crm.item.update', { entityTypeId: etid, id, fields: { stageId: 'DT1_1:NOPE' } }, crm)
    checkEq(e.status, 400, 'an unknown stage: AjaxError.status')
    return `item ${id}`
  })

  await step('crm.item.list: filters, select, and start=-1 without a count', async () => {
    const won = await crm.actions.v2.call.make({
      method: 'crm.item.list',
      params: { entityTypeId: etid, filter: { stageId: `${prefix}SUCCESS` }, select: ['id', 'stageId'] }
    })
    check(won.isSuccess, won.getErrorMessages().join('; '))
    checkEq(won.getData().result.items, [{ id: [...titles.keys()][0], stageId: `${prefix}SUCCESS` }], 'items in SUCCESS')
    checkEq(won.getTotal(), 1, 'getTotal()')
    const fast = await crm.actions.v2.call.make({
      method: 'crm.item.list',
      params: { entityTypeId: etid, filter: { categoryId: category, '>=opportunity': 100 }, order: { id: 'ASC' }, start: -1 }
    })
    check(fast.isSuccess, fast.getErrorMessages().join('; '))
    checkEq(fast.getData().result.items.map(i => i.opportunity), Array.from({ length: 20 }, (_, i) => 100 + i),
      'opportunity >= 100, by id')
    check(!fast.isMore(), 'isMore() after start=-1')
  })

  const itemParams = { entityTypeId: etid, filter: { categoryId: category }, select: ['id', 'title', 'opportunity'] }
  const checkItems = (rows, what) => {
    check(Array.isArray(rows), `${what}: not an array`)
    const ids = rows.map(r => r.id)
    check(new Set(ids).size === ids.length, `${what}: ${ids.length - new Set(ids).size} duplicates`)
    checkEq(ids.slice().sort((a, b) => a - b), [...titles.keys()].sort((a, b) => a - b), `${what}: ids`)
    for (const r of rows) {
      const i = Number(titles.get(r.id)?.split(' ').pop())
      checkEq(pick(r, ['title', 'opportunity']), { title: `js item ${i}`, opportunity: i }, `${what}: item ${r.id}`)
    }
  }

  await step('callList crm.item.list (items, id): every item exactly once', async () => {
    check(titles.size === ITEMS, 'no items')
    const response = await crm.actions.v2.callList.make({
      method: 'crm.item.list', params: { ...itemParams, entityTypeId: etid }, idKey: 'id', customKeyForResult: 'items'
    })
    check(response.isSuccess, response.getErrorMessages().join('; '))
    checkItems(response.getData(), 'callList')
  })

  await step('fetchList crm.item.list (items, id): every item exactly once', async () => {
    check(titles.size === ITEMS, 'no items')
    const rows = []
    const sizes = []
    for await (const chunk of crm.actions.v2.fetchList.make({
      method: 'crm.item.list', params: { ...itemParams, entityTypeId: etid }, idKey: 'id', customKeyForResult: 'items'
    })) {
      sizes.push(chunk.length)
      rows.push(...chunk)
    }
    checkItems(rows, 'fetchList')
    return `chunks of ${sizes.join(', ')}`
  })
}

async function companyScenario () {
  let company
  await step('crm.company.fields (57); crm.company.add/get: PHONE, EMAIL, default TITLE', async () => {
    checkEq(Object.keys(await dcall('crm.company.fields') ?? {}).length, 57, 'crm.company.fields count')
    const title = 'js Company — Ünïcødé & Co.'
    company = await dcall('crm.company.add', {
      fields: {
        TITLE: title,
        PHONE: [{ VALUE: '+1 555 0199', VALUE_TYPE: 'WORK' }],
        EMAIL: [{ VALUE: 'sales@example.com', VALUE_TYPE: 'WORK' }]
      }
    })
    check(Number.isInteger(company) && company > 0, `crm.company.add returned ${show(company)}`)
    const got = await dcall('crm.company.get', { id: company })
    checkScalarsAreStrings(got, 'crm.company.get')
    checkEq(pick(got, ['ID', 'TITLE', 'HAS_PHONE', 'HAS_EMAIL']),
      { ID: String(company), TITLE: title, HAS_PHONE: 'Y', HAS_EMAIL: 'Y' }, 'crm.company.get')
    checkEq(got.PHONE?.map(p => pick(p, ['VALUE', 'VALUE_TYPE', 'TYPE_ID'])),
      [{ VALUE: '+1 555 0199', VALUE_TYPE: 'WORK', TYPE_ID: 'PHONE' }], 'PHONE')
    checkEq(got.EMAIL?.map(p => pick(p, ['VALUE', 'VALUE_TYPE', 'TYPE_ID'])),
      [{ VALUE: 'sales@example.com', VALUE_TYPE: 'WORK', TYPE_ID: 'EMAIL' }], 'EMAIL')
    const bare = await dcall('crm.company.add', { fields: {} })
    checkEq((await dcall('crm.company.get', { id: bare })).TITLE, `Company #${bare}`, 'TITLE of a company added without one')
    checkEq(await dcall('crm.company.update', { id: bare, fields: { TITLE: 'Renamed by js' } }), true, 'crm.company.update')
    checkEq((await dcall('crm.company.get', { id: bare })).TITLE, 'Renamed by js', 'TITLE after crm.company.update')
    return `companies ${company} and ${bare}`
  })

  await step('crm.company.contact.add -> the contact\'s COMPANY_ID; items.get from both sides', async () => {
    check(company, 'no company from the previous step')
    const k = await dcall('crm.contact.add', { fields: { NAME: 'Company', LAST_NAME: 'Contact' } })
    checkEq(await dcall('crm.company.contact.add', { id: company, fields: { CONTACT_ID: k } }), true, 'crm.company.contact.add')
    checkItems(await dcall('crm.company.contact.items.get', { id: company }), [binding(k, 10, true)],
      'crm.company.contact.items.get')
    checkEq(await dcall('crm.contact.company.items.get', { id: k }),
      [{ COMPANY_ID: company, SORT: 10, ROLE_ID: 0, IS_PRIMARY: 'Y' }], 'crm.contact.company.items.get')
    checkEq((await dcall('crm.contact.get', { id: k })).COMPANY_ID, String(company), 'crm.contact.get COMPANY_ID')
    const d = await dcall('crm.deal.add', { fields: { TITLE: 'js deal of a company', COMPANY_ID: company } })
    checkEq((await dcall('crm.deal.get', { id: d })).COMPANY_ID, String(company), 'crm.deal.get COMPANY_ID')
    return `company ${company}, contact ${k}, deal ${d}`
  })
}

async function main () {
  await step('server.time and profile (actions.v2.call)', async () => {
    check(typeof await call('server.time') === 'string', 'server.time is not a string')
    const profile = await call('profile')
    checkEq(profile.ID, '1', 'profile ID')
    checkEq(profile.ADMIN, true, 'profile ADMIN')
  })

  // ---- seed scenario ----
  let lead, c1, c2
  const created = await step('create a lead and two contacts', async () => {
    const title = 'Seed lead (js) — Ünïcødé & 50% + a=b?#[x]'
    lead = await call('crm.lead.add', { fields: { TITLE: title, OPPORTUNITY: 1200 } })
    c1 = await call('crm.contact.add', {
      fields: { NAME: 'Ada', LAST_NAME: 'Lovelace', PHONE: [{ VALUE: '+1 555 0100', VALUE_TYPE: 'WORK' }] }
    })
    c2 = await call('crm.contact.add', { fields: { NAME: 'Grace', LAST_NAME: 'Hopper' } })
    for (const [k, v] of Object.entries({ lead, c1, c2 })) {
      check(Number.isInteger(v) && v > 0, `${k} id ${show(v)} is not a positive integer`)
    }
    const got = await call('crm.lead.get', { id: lead })
    checkEq([got.TITLE, got.OPPORTUNITY], [title, '1200.00'], 'crm.lead.get TITLE, OPPORTUNITY')
    return `lead ${lead}, contacts ${c1} and ${c2}`
  })
  if (created) {
    const itemsGet = () => call('crm.lead.contact.items.get', { id: lead })
    const leadContact = async () => (await call('crm.lead.get', { id: lead })).CONTACT_ID

    await step('add {CONTACT_ID, SORT: 10, IS_PRIMARY: Y} -> true', async () => {
      checkEq(await call('crm.lead.contact.add', { id: lead, fields: { CONTACT_ID: c1, SORT: 10, IS_PRIMARY: 'Y' } }),
        true, 'crm.lead.contact.add')
    })
    await step('the same add again -> false, nothing changed', async () => {
      checkEq(await call('crm.lead.contact.add', { id: lead, fields: { CONTACT_ID: c1, SORT: 10, IS_PRIMARY: 'Y' } }),
        false, 'the same crm.lead.contact.add again')
      checkItems(await itemsGet(), [binding(c1, 10, true)], 'items.get after the repeat')
    })
    await step('second contact without IS_PRIMARY -> non-primary, SORT 20', async () => {
      checkEq(await call('crm.lead.contact.add', { id: lead, fields: { CONTACT_ID: c2 } }), true, 'crm.lead.contact.add')
      const items = await itemsGet()
      check(Array.isArray(items) && items.length === 2, `expected 2 bindings, got ${show(items)}`)
      checkEq(items[1], binding(c2, 20, false), 'second binding')
    })
    await step('items.get shape and types', async () => {
      checkItems(await itemsGet(), [binding(c1, 10, true), binding(c2, 20, false)])
    })
    await step('crm.lead.get CONTACT_ID is the primary, as a string', async () => {
      checkEq(await leadContact(), String(c1), 'crm.lead.get CONTACT_ID')
    })
    await step('delete of the primary re-elects the other', async () => {
      checkEq(await call('crm.lead.contact.delete', { id: lead, fields: { CONTACT_ID: c1 } }), true, 'crm.lead.contact.delete')
      checkItems(await itemsGet(), [binding(c2, 20, true)], 'items.get after the delete')
      checkEq(await leadContact(), String(c2), 'crm.lead.get CONTACT_ID')
    })
    await step('items.set replaces the set', async () => {
      checkEq(await call('crm.lead.contact.items.set', {
        id: lead, items: [{ CONTACT_ID: c1, SORT: 10 }, { CONTACT_ID: c2, SORT: 20, IS_PRIMARY: 'Y' }]
      }), true, 'crm.lead.contact.items.set')
      checkItems(await itemsGet(), [binding(c1, 10, false), binding(c2, 20, true)], 'items.get after items.set')
      checkEq(await leadContact(), String(c2), 'crm.lead.get CONTACT_ID')
    })
    await step('items.delete -> items.get []', async () => {
      checkEq(await call('crm.lead.contact.items.delete', { id: lead }), true, 'crm.lead.contact.items.delete')
      checkItems(await itemsGet(), [], 'items.get after items.delete')
      checkEq(await leadContact(), null, 'crm.lead.get CONTACT_ID after items.delete')
    })

    // An empty `error` code is not an error code for the SDK: it falls back to axios's code
    // (ERR_BAD_REQUEST) and axios's message, and keeps the server's body only in
    // originalError. Both are checked.
    const emptyCodeError = async (params, description) => {
      const e = await ajaxError('crm.lead.contact.add', params)
      checkEq(e.status, 400, 'AjaxError.status')
      checkEq(e.code, 'ERR_BAD_REQUEST', 'AjaxError.code (axios code for an empty error code)')
      checkEq(e.originalError?.response?.data, { error: '', error_description: description },
        'the server body in AjaxError.originalError')
      return `AjaxError code=${e.code} status=${e.status}, body error "" "${description}"`
    }
    await step('error: bad id', () => emptyCodeError({ id: 0, fields: { CONTACT_ID: c1 } },
      "The parameter 'ownerEntityID' is invalid or not defined."))
    await step('error: missing lead', () => emptyCodeError({ id: 999999, fields: { CONTACT_ID: c1 } }, 'Not found.'))
    await step('error: unknown method', async () => {
      const e = await ajaxError('crm.lead.contact.frobnicate', { id: lead })
      checkEq([e.code, e.status, e.message], ['ERROR_METHOD_NOT_FOUND', 404, 'Method not found!'], 'AjaxError code, status, message')
      return `AjaxError code=${e.code} status=${e.status}`
    })
    await step('error: wrong secret', async () => {
      const e = await ajaxError('crm.lead.contact.items.get', { id: lead }, makeHook(wrongUrl))
      checkEq([e.code, e.status, e.message], ['INVALID_CREDENTIALS', 401, 'Invalid request credentials'], 'AjaxError code, status, message')
      return `AjaxError code=${e.code} status=${e.status}`
    })

    await step('crm.lead.update', async () => {
      checkEq(await call('crm.lead.update', { id: lead, fields: { TITLE: 'Updated by js' } }), true, 'crm.lead.update')
      checkEq((await call('crm.lead.get', { id: lead })).TITLE, 'Updated by js', 'TITLE')
    })
  } else {
    rep.fail('seed scenario', 'cannot continue without a lead and two contacts')
  }

  // ---- batch ----
  await step('batch: named commands, bindings in one batch', async () => {
    const response = await b24.actions.v2.batch.make({
      calls: {
        lead: { method: 'crm.lead.add', params: { fields: { TITLE: 'Batch lead' } } },
        first: ['crm.contact.add', { fields: { NAME: 'Batch', LAST_NAME: 'One' } }],
        second: ['crm.contact.add', { fields: { NAME: 'Batch', LAST_NAME: 'Two' } }]
      },
      options: { isHaltOnError: true }
    })
    check(response.isSuccess, response.getErrorMessages().join('; '))
    const ids = response.getData()
    checkEq(Object.keys(ids), ['lead', 'first', 'second'], 'batch result keys')
    const second = await b24.actions.v2.batch.make({
      calls: [
        ['crm.lead.contact.add', { id: ids.lead, fields: { CONTACT_ID: ids.first } }],
        ['crm.lead.contact.add', { id: ids.lead, fields: { CONTACT_ID: ids.second, IS_PRIMARY: 'Y' } }],
        ['crm.lead.contact.items.get', { id: ids.lead }]
      ],
      options: { isHaltOnError: true }
    })
    check(second.isSuccess, second.getErrorMessages().join('; '))
    checkEq(second.getData(), [true, true, [binding(ids.first, 10, false), binding(ids.second, 20, true)]],
      'array batch results')
  })

  // A failed command inside a batch is reported in result_error. The SDK only recognises
  // it when its `error` code is non-empty: a command failing with the empty code (as the
  // binding methods' "Not found." does, on a portal too) comes back as a successful
  // AjaxResult with an undefined result. Both are checked, as the SDK sees them.
  await step('batch: failing middle command, isHaltOnError false', async () => {
    const soft = await b24.actions.v2.batch.make({
      calls: [
        ['server.time', {}],
        ['crm.lead.contact.frobnicate', { id: 1 }],
        ['crm.lead.contact.add', { id: 999999, fields: { CONTACT_ID: 1 } }],
        ['server.time', {}]
      ],
      options: { isHaltOnError: false, returnAjaxResult: true }
    })
    const results = soft.getData()
    check(Array.isArray(results) && results.length === 4, `expected 4 AjaxResults, got ${show(results)}`)
    checkEq(results.map(r => r.isSuccess), [true, false, true, true], 'per-command isSuccess')
    const err = Array.from(results[1].getErrors())[0]
    check(err instanceof AjaxError, `unknown-method command error is ${show(err)}`)
    checkEq([err.code, err.message], ['ERROR_METHOD_NOT_FOUND', 'Method not found!'], 'AjaxError code, message')
    checkEq(results[2].getData()?.result, undefined, 'result of the command failing with error ""')
    check(typeof results[3].getData()?.result === 'string', 'the command after the failures did not run')
    return 'ERROR_METHOD_NOT_FOUND seen as AjaxError; error "" seen as success without result (SDK behaviour)'
  })

  await step('batch: failing command with isHaltOnError true', async () => {
    let seen = null
    try {
      const hard = await b24.actions.v2.batch.make({
        calls: [['server.time', {}], ['crm.lead.contact.frobnicate', { id: 1 }], ['server.time', {}]],
        options: { isHaltOnError: true }
      })
      seen = hard.isSuccess ? `no error: ${show(hard.getData())}` : Array.from(hard.getErrors()).map(e => `${e.code}: ${e.message}`).join('; ')
    } catch (e) {
      seen = e instanceof AjaxError ? `${e.code}: ${e.message}` : `${e.name}: ${e.message}`
    }
    checkEq(seen, 'ERROR_METHOD_NOT_FOUND: Method not found!', 'error reported with isHaltOnError')
  })

  // ---- lists ----
  const titles = new Map()
  const LEADS = 120
  await step(`batchByChunk: ${LEADS} crm.lead.add`, async () => {
    const response = await b24.actions.v2.batchByChunk.make({
      calls: Array.from({ length: LEADS }, (_, i) => ['crm.lead.add', { fields: { TITLE: `js list ${i}` } }]),
      options: { isHaltOnError: true }
    })
    check(response.isSuccess, response.getErrorMessages().join('; '))
    const ids = response.getData()
    check(Array.isArray(ids) && ids.length === LEADS && ids.every(Number.isInteger), `ids: ${show(ids)}`)
    check(new Set(ids).size === LEADS, 'duplicate ids')
    ids.forEach((id, i) => titles.set(id, `js list ${i}`))
  })

  const checkRows = (rows, what) => {
    check(Array.isArray(rows), `${what}: not an array`)
    const ids = rows.map(r => Number(r.ID))
    check(new Set(ids).size === ids.length, `${what}: ${ids.length - new Set(ids).size} duplicates`)
    checkEq(ids.slice().sort((a, b) => a - b), [...titles.keys()].sort((a, b) => a - b), `${what}: ids`)
    for (const r of rows) checkEq(r.TITLE, titles.get(Number(r.ID)), `${what}: TITLE of ${r.ID}`)
  }
  const listParams = { filter: { '%TITLE': 'js list' }, select: ['ID', 'TITLE'] }

  await step('callList: every lead exactly once', async () => {
    check(titles.size === LEADS, 'no leads')
    const response = await b24.actions.v2.callList.make({ method: 'crm.lead.list', params: listParams })
    check(response.isSuccess, response.getErrorMessages().join('; '))
    checkRows(response.getData(), 'callList')
  })
  await step('fetchList: every lead exactly once', async () => {
    check(titles.size === LEADS, 'no leads')
    const rows = []
    const sizes = []
    for await (const chunk of b24.actions.v2.fetchList.make({ method: 'crm.lead.list', params: listParams })) {
      sizes.push(chunk.length)
      rows.push(...chunk)
    }
    checkRows(rows, 'fetchList')
    return `chunks of ${sizes.join(', ')}`
  })
  await step('AjaxResult paging: getTotal, isMore, getNext', async () => {
    check(titles.size === LEADS, 'no leads')
    let page = await b24.actions.v2.call.make({ method: 'crm.lead.list', params: { ...listParams, order: { ID: 'ASC' }, start: 0 } })
    checkEq(page.getTotal(), LEADS, 'getTotal()')
    const rows = [...page.getData().result]
    let pages = 1
    while (page.isMore()) {
      page = await page.getNext(b24.getHttpClient(ApiVersion.v2))
      check(page, 'getNext returned no page while isMore() was true')
      rows.push(...page.getData().result)
      pages++
      check(pages < 10, 'more pages than expected')
    }
    checkRows(rows, 'paging')
    checkEq(pages, Math.ceil(LEADS / 50), 'page count')
    return `${pages} pages`
  })

  await step('deprecated aliases: callMethod, callBatch, callListMethod, fetchListMethod', async () => {
    // Each alias logs a deprecation notice through console.warn; keep the output readable.
    const warn = console.warn
    console.warn = () => {}
    try {
    const r = await b24.callMethod('crm.lead.contact.fields', {})
    checkEq(Object.keys(r.getData().result), ['SORT', 'IS_PRIMARY', 'CONTACT_ID'], 'callMethod crm.lead.contact.fields')
    const batch = await b24.callBatch({ t: { method: 'server.time', params: {} }, f: { method: 'crm.lead.contact.fields', params: {} } }, true)
    check(batch.isSuccess, batch.getErrorMessages().join('; '))
    check(typeof batch.getData().t === 'string', `callBatch server.time: ${show(batch.getData())}`)
    const list = await b24.callListMethod('crm.lead.list', listParams)
    check(list.isSuccess, list.getErrorMessages().join('; '))
    checkRows(list.getData(), 'callListMethod')
    const rows = []
    for await (const chunk of b24.fetchListMethod('crm.lead.list', listParams, 'ID')) rows.push(...chunk)
    checkRows(rows, 'fetchListMethod')
    } finally {
      console.warn = warn
    }
  })

  await dealScenario()
  await companyScenario()
  await smartProcessScenario()
  await faultScenario()

  await oauthScenario()

  return rep.summary()
}

main().then(code => { process.exitCode = code }, e => { process.exitCode = rep.crashed(e) })
