import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { randomBytes } from 'node:crypto'
import knex, { type Knex } from 'knex'
import type { Dialect } from './dialects.ts'

/**
 * A database of its own for one e2e run (PostgreSQL and MySQL), so the app
 * migrates with the default table names on a shared server without meeting
 * another run. SQLite uses a file in the app's tmp/ folder.
 */
export async function createDatabase(dialect: Dialect, sqliteFile: string) {
  if (dialect.name === 'sqlite') {
    const client = knex({ ...(dialect.connection({ database: sqliteFile }) as any) })
    return { name: sqliteFile, client, drop: () => client.destroy() }
  }
  const name = `stored_e2e_${process.pid}_${randomBytes(3).toString('hex')}`
  const admin = knex({ ...(dialect.connection() as any), pool: { min: 0, max: 1 } })
  await admin.raw(`create database ${name}`)
  const client = knex({ ...(dialect.connection({ database: name }) as any), pool: { min: 0 } })
  return {
    name,
    client,
    async drop() {
      await client.destroy()
      // WITH (FORCE): PgBouncer keeps its server connections to the database open
      const force = dialect.name === 'pg' ? ' with (force)' : ''
      await admin.raw(`drop database if exists ${name}${force}`)
      await admin.destroy()
    },
  }
}

/**
 * The environment a deployed app would have, pointing at that database.
 */
export function appEnvironment(dialect: Dialect, database: string, port: number) {
  const connection = (dialect.connection({ database }) as any).connection
  return {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    APP_KEY: randomBytes(24).toString('base64url'),
    APP_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'warn',
    SESSION_DRIVER: 'stored',
    DB_CONNECTION: dialect.name,
    ...(dialect.name === 'sqlite'
      ? {}
      : {
          DB_HOST: connection.host,
          DB_PORT: String(connection.port),
          DB_USER: connection.user,
          DB_PASSWORD: connection.password,
          DB_DATABASE: database,
        }),
  }
}

export async function freePort() {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

/**
 * Runs `node ace <args>` in the app, as a user would; rejects with its
 * output when it exits non-zero.
 */
export async function ace(cwd: string, env: Record<string, string>, args: string[]) {
  const child = spawn(process.execPath, ['ace.js', ...args], {
    cwd,
    env: { ...process.env, ...env, FORCE_COLOR: '0' },
  })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`node ace ${args.join(' ')} exited with ${code}:\n${output}`)
  return output
}

/**
 * Starts `node bin/server.ts` and resolves once AdonisJS reports the HTTP
 * server ready over IPC.
 */
export async function startServer(cwd: string, env: Record<string, string>) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import=@poppinss/ts-exec', 'bin/server.ts'],
    { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }
  )
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  await new Promise<void>((resolve, reject) => {
    child.on('message', (message: any) => message?.isAdonisJS && resolve())
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)))
  })
  return {
    output: () => output,
    /** Null while it runs; how it ended otherwise. */
    exited: () =>
      child.exitCode === null && child.signalCode === null
        ? null
        : `exited with ${child.exitCode ?? child.signalCode}`,
    async stop() {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      await once(child, 'exit')
    },
  }
}

/**
 * A minimal browser: a cookie jar over fetch.
 */
export class Browser {
  cookies = new Map<string, string>()
  constructor(readonly baseUrl: string) {}

  async request(method: 'GET' | 'POST', path: string) {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      // A redirect's Set-Cookie must reach the jar before the next request
      redirect: 'manual',
      headers: { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') },
    })
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(';')
      const index = pair.indexOf('=')
      const value = pair.slice(index + 1)
      if (/max-age=0/i.test(header) || value === '') this.cookies.delete(pair.slice(0, index))
      else this.cookies.set(pair.slice(0, index), value)
    }
    const body = await response.text()
    const json = response.headers.get('content-type')?.includes('json')
    return { status: response.status, body: json ? JSON.parse(body) : body }
  }

  get(path: string) {
    return this.request('GET', path)
  }

  post(path: string) {
    return this.request('POST', path)
  }
}

/**
 * The session id a signed session cookie carries (`s:<base64url JSON>.<mac>`):
 * the test reads it to check the table never holds it.
 */
export function sessionIdOf(cookie: string | undefined) {
  const value = cookie && decodeURIComponent(cookie)
  if (!value?.startsWith('s:')) return undefined
  const payload = value.slice(2).split('.')[0]
  return JSON.parse(Buffer.from(payload, 'base64url').toString()).message as string
}

export type { Knex }
