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
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { requireNode24 } from '../../../bin/require_node.js'
import { ensureEnv, portProblem } from './demo_setup.js'

requireNode24()

const root = fileURLToPath(new URL('../', import.meta.url))
const port = process.env.PORT ?? '3333'
const host = process.env.HOST ?? '127.0.0.1'

const problem = await portProblem(port, host)
if (problem) {
  console.error(problem)
  process.exit(1)
}
ensureEnv(root, { port, host })
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
