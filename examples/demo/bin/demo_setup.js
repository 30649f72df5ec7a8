/*
|--------------------------------------------------------------------------
| What `npm run demo` checks and prepares before it starts the app
|--------------------------------------------------------------------------
|
| Plain JavaScript, so an older Node reaches the Node 24 check first.
|
*/
import { randomBytes } from 'node:crypto'
import { existsSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'

/**
 * Null when the port is free, else the one line to print instead of the
 * stack trace the server would die with.
 */
export function portProblem(port, host) {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', (error) =>
      resolve(
        error.code === 'EADDRINUSE'
          ? `Port ${port} is in use: run PORT=${Number(port) + 1} npm run demo`
          : `Cannot listen on ${host}:${port} (${error.code}): set PORT= (and HOST=)`
      )
    )
    probe.listen(Number(port), host, () => probe.close(() => resolve(null)))
  })
}

/**
 * Writes `.env` with a fresh APP_KEY unless it exists (the same key on
 * later runs keeps sessions open), and says so when it does: a new key
 * signs everybody out.
 */
export function ensureEnv(root, { port, host }, log = console.log) {
  if (existsSync(`${root}.env`)) return false
  writeFileSync(
    `${root}.env`,
    [
      'NODE_ENV=development',
      `PORT=${port}`,
      `HOST=${host}`,
      `APP_KEY=${randomBytes(32).toString('base64url')}`,
      `APP_URL=http://${host}:${port}`,
      'LOG_LEVEL=warn',
      'SESSION_DRIVER=stored',
      '',
    ].join('\n')
  )
  log(
    `Created ${root}.env with a new APP_KEY: sessions sealed with an earlier key no longer open (everyone is signed out)`
  )
  return true
}
