/*
|--------------------------------------------------------------------------
| The demo's pages
|--------------------------------------------------------------------------
|
| One page, plain HTML: a counter, sign in and out as a demo user, a flash
| message, the current session's row as the database holds it; "your
| devices" (StoredSessions.devices()); and the sessions dashboard, mounted
| with one call and opened to the demo user.
|
*/
import { readFile } from 'node:fs/promises'
import router from '@adonisjs/core/services/router'
import db from '@adonisjs/lucid/services/db'
import type { HttpContext } from '@adonisjs/core/http'
// In your app: import { hashSessionId } from 'stored-session'
import { hashSessionId } from '../../../index.ts'
import { toMillis } from '../../../src/request/repository.ts'
// In your app: import storedSessionsDashboard from 'stored-session/services/dashboard'
import storedSessionsDashboard from '../../../services/dashboard.ts'
// In your app: import storedSessions from 'stored-session/services/main'
import { StoredSessions } from '../../../src/users/user_sessions.ts'
import app from '@adonisjs/core/services/app'

const DEMO_USER = { id: '1', name: 'Ada Lovelace' }

const escape = (value: unknown) =>
  String(value).replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!
  )

const time = (value: unknown) => new Date(toMillis(value)).toISOString()

/**
 * The row of this session as stored before this request (a request's
 * changes are written when its response is sent).
 */
async function storedRow(sessionId: string) {
  const row = await db.from('stored_sessions').where('id', hashSessionId(sessionId)).first()
  if (!row) return '<p><em>No row yet: the session is written once it holds something.</em></p>'
  const rows: [string, unknown][] = [
    ["id (sha256 of the cookie's session id)", row.id],
    ['data', `${Buffer.from(row.data).length} bytes of ciphertext`],
    [
      'version (bumped by every write; a write based on an older version is merged, not lost)',
      row.version,
    ],
    ['user_id', row.user_id ?? 'null'],
    ['created_at', time(row.created_at)],
    ['updated_at', time(row.updated_at)],
    ['expires_at', time(row.expires_at)],
  ]
  return `<table>${rows
    .map(
      ([name, value]) => `<tr><th>${escape(name)}</th><td><code>${escape(value)}</code></td></tr>`
    )
    .join('')}</table>`
}

/**
 * The signed-in user, kept as @adonisjs/auth's `web` session guard keeps it:
 * the user id under `auth_web`. The store's `user_id` column follows it.
 */
function currentUser({ session }: HttpContext) {
  return session.get('auth_web') === DEMO_USER.id ? DEMO_USER : null
}

async function page(ctx: HttpContext) {
  const { session } = ctx
  const user = currentUser(ctx)
  const notice = session.flashMessages.get('notice')
  const button = (action: string, label: string) =>
    `<form method="post" action="${action}"><button>${escape(label)}</button></form>`
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>stored-session demo</title>
  <style>
    body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem }
    form { display: inline-block; margin-right: .5rem }
    .notice { background: #e7f6ea; border: 1px solid #9bd3a7; padding: .5rem 1rem }
    table { border-collapse: collapse; margin-top: .5rem } th, td { text-align: left; padding: .25rem .75rem .25rem 0; vertical-align: top }
    code { word-break: break-all }
  </style>
</head>
<body>
  <h1>stored-session demo</h1>
  <p>stored-session keeps AdonisJS sessions in your SQL database, encrypted, under a hashed id
     (<a href="/readme">README</a>).</p>
  ${notice ? `<p class="notice">${escape(notice)}</p>` : ''}
  <p>Visits counted in this session: <strong>${escape(session.get('visits', 0))}</strong>.
     Stop the server and start it again: the count is still here, it lives in SQLite.</p>
  ${button('/count', 'Count a visit')}
  ${user ? button('/sign-out', 'Sign out') : button('/sign-in', `Sign in as ${DEMO_USER.name}`)}
  <p>${user ? `Signed in as <strong>${escape(user.name)}</strong>. <a href="/devices">Your devices</a> · <a href="/admin/sessions">Sessions dashboard</a>` : 'Not signed in. Sign in to see your devices and the sessions dashboard.'}</p>
  <h2>This session's row</h2>
  ${await storedRow(session.sessionId)}
  <p>Signing in regenerates the session: the row moves to a new id hash, the old one is deleted.
     The cookie holds the session id, the table only its hash.</p>
</body>
</html>`
}

router.get('/', async (ctx) => {
  ctx.response.header('content-type', 'text/html; charset=utf-8')
  return page(ctx)
})

router.post('/count', ({ session, response }) => {
  session.increment('visits')
  return response.redirect('/')
})

router.post('/sign-in', ({ session, response }) => {
  // A new session id on sign-in, as @adonisjs/auth does: a fixated id is useless
  session.regenerate()
  session.put('auth_web', DEMO_USER.id)
  session.flash('notice', `Signed in as ${DEMO_USER.name}. The session id changed.`)
  return response.redirect('/')
})

router.post('/sign-out', ({ session, response }) => {
  session.forget('auth_web')
  session.regenerate()
  session.flash('notice', 'Signed out.')
  return response.redirect('/')
})

storedSessionsDashboard.registerRoutes({ prefix: '/admin/sessions' })

/**
 * "Your devices": the signed-in user's sessions, from StoredSessions.devices().
 */
router.get('/devices', async (ctx) => {
  const user = currentUser(ctx)
  if (!user) return ctx.response.redirect('/')
  const sessions = new StoredSessions(await app.container.make('stored_session.context'))
  const devices = await sessions.devices(user.id, ctx.session.sessionId)
  const rows = devices
    .map(
      (device) =>
        `<tr><td>${escape(device.device)}${device.current ? ' <strong>(this browser)</strong>' : ''}</td><td>${escape(device.ipAddress ?? '-')}</td><td>${escape(device.lastActiveAt.toISOString())}</td></tr>`
    )
    .join('')
  ctx.response.header('content-type', 'text/html; charset=utf-8')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Your devices</title></head>
<body style="font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem">
<h1>Your devices</h1><p>Where ${escape(user.name)} is signed in (open this page in another browser and sign in there too).</p>
<table><thead><tr><th>Device</th><th>IP</th><th>Last active</th></tr></thead><tbody>${rows}</tbody></table>
<p><a href="/">Back</a> · <a href="/admin/sessions">Sessions dashboard</a></p></body></html>`
})

// The package's README, as this repository has it
router.get('/readme', async ({ response }) => {
  response.header('content-type', 'text/plain; charset=utf-8')
  return readFile(new URL('../../../README.md', import.meta.url), 'utf8')
})
