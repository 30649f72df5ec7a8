/*
|--------------------------------------------------------------------------
| npm run demo
|--------------------------------------------------------------------------
|
| Writes a .env with a fresh APP_KEY on the first run (the same key on
| later runs, so sessions survive restarts), migrates the SQLite database,
| then serves the app and prints its URL.
|
*/
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../', import.meta.url))
const port = process.env.PORT ?? '3333'
const host = process.env.HOST ?? '127.0.0.1'

if (!existsSync(`${root}.env`)) {
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
}
mkdirSync(`${root}tmp`, { recursive: true })

function run(args, options = {}) {
  return spawn(process.execPath, args, { cwd: root, stdio: 'inherit', ...options })
}

const migrate = run(['ace.js', 'migration:run', '--force'])
migrate.on('exit', (code) => {
  if (code !== 0) process.exit(code ?? 1)
  const server = run(['--import=@poppinss/ts-exec', 'bin/server.ts'], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
  })
  server.once('message', function announce(message) {
    // The first message AdonisJS sends once the HTTP server listens
    if (message?.isAdonisJS && message.port) {
      console.log(`\n  stored-session demo: http://${message.host}:${message.port}\n`)
    } else {
      server.once('message', announce)
    }
  })
  server.on('exit', (code) => process.exit(code ?? 0))
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill('SIGTERM'))
})
