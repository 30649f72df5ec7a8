import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { appendFileSync, unlinkSync } from 'node:fs'
import { access, chown, mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { userInfo } from 'node:os'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'

/**
 * What the topology helpers share: scratch folders under the repo's tmp/,
 * ports nobody listens on, server processes started as their own system
 * user and stopped with the test run. Nothing here ever addresses the
 * machine's own servers (5432, 3306): every port is picked free.
 */

const TMP = fileURLToPath(new URL('../../../tmp/topologies/', import.meta.url))

/** Under CI=true a topology that cannot start fails the run. */
export function topologyRequired(): boolean {
  return process.env.CI === 'true' || process.env.CI === '1'
}

/**
 * Whether the files a topology needs are installed; outside CI a missing
 * one skips its tests with a printed line.
 */
export async function missingFiles(files: string[]): Promise<string | null> {
  for (const file of files) {
    try {
      await access(file)
    } catch {
      return file
    }
  }
  return null
}

export function skipLine(topology: string, reason: string) {
  console.log(`[stored-session] SKIPPING ${topology} topology: ${reason}`)
}

/**
 * Ports free right now on loopback (the kernel picks them, all at once so
 * they differ).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer()
      server.listen(0, '127.0.0.1')
      await once(server, 'listening')
      return server
    })
  )
  const ports = servers.map((server) => (server.address() as AddressInfo).port)
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  return ports
}

export interface SystemUser {
  name: string
  uid: number
  gid: number
}

/**
 * PostgreSQL, MariaDB and PgBouncer refuse to run as root: when the tests
 * run as root, their servers run as the packages' own users.
 */
export function systemUser(name: string): SystemUser | null {
  if (userInfo().uid !== 0) return null
  const uid = Number(execFileSync('id', ['-u', name]).toString().trim())
  const gid = Number(execFileSync('id', ['-g', name]).toString().trim())
  return { name, uid, gid }
}

/**
 * A fresh folder for one topology of this run, owned by `user`.
 */
export async function scratchDir(name: string, user: SystemUser | null): Promise<string> {
  await (swept ??= sweepLeftovers())
  const dir = `${TMP}${name}-${process.pid}-${randomBytes(3).toString('hex')}`
  await mkdir(dir, { recursive: true })
  if (user) await chown(dir, user.uid, user.gid)
  return dir
}

export async function removeDir(dir: string) {
  await rm(dir, { recursive: true, force: true })
}

/** Every server this process started, stopped even if the run is cut short. */
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
  try {
    unlinkSync(PIDS)
  } catch {}
})

/**
 * A run that is SIGKILLed runs no exit handler, and its servers live on.
 * So each run lists the pids of the servers it starts (synchronously, so
 * a kill right after a start still finds it), and the next run stops
 * those of a run that is gone.
 */
const PIDS = `${TMP}run-${process.pid}.pids`
let swept: Promise<void> | undefined

/**
 * Stops the servers of earlier runs of this checkout that are no longer
 * running, and removes their folders. A listed pid is killed only while
 * its command line names one of that run's folders: a pid reused since,
 * and the machine's own servers, never do.
 */
async function sweepLeftovers() {
  const entries = await readdir(TMP).catch(() => [] as string[])
  for (const entry of entries) {
    const run = /^run-(\d+)\.pids$/.exec(entry)?.[1]
    if (!run || isAlive(Number(run))) continue
    const folders = entries.filter((name) => name.includes(`-${run}-`))
    const pids = await readFile(`${TMP}${entry}`, 'utf8')
    for (const pid of pids.split('\n').filter(Boolean).map(Number)) {
      const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
      if (folders.some((folder) => command.includes(TMP + folder))) killQuietly(pid)
    }
    for (const folder of folders) await removeDir(TMP + folder)
    await rm(`${TMP}${entry}`, { force: true })
  }
}

function killQuietly(pid: number) {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {}
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Starts a server process in the foreground (so this process owns it),
 * as `user` when given. Its output goes to the returned log text, for
 * error messages.
 */
export function startProcess(
  command: string,
  args: string[],
  { user, env }: { user?: SystemUser | null; env?: Record<string, string> } = {}
) {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  })
  running.add(child)
  if (child.pid) appendFileSync(PIDS, `${child.pid}\n`)
  let log = ''
  const collect = (chunk: Buffer) => (log = (log + chunk).slice(-4000))
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  child.once('exit', () => running.delete(child))
  return { child, log: () => log }
}

/**
 * Runs a command to completion (as `user` when given); rejects with its
 * output when it fails.
 */
export async function runCommand(
  command: string,
  args: string[],
  { user }: { user?: SystemUser | null } = {}
) {
  const { child, log } = startProcess(command, args, { user })
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`${command} exited with ${code}: ${log().slice(-1500)}`)
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill(signal)
  await exited
}

/**
 * Polls `ready` until it resolves true or `timeoutMs` passes (a server
 * starting up: there is no event to wait for). Fails fast when `child`
 * exits meanwhile.
 */
export async function waitUntil(
  what: string,
  ready: () => Promise<boolean>,
  { timeoutMs, child, log }: { timeoutMs: number; child?: ChildProcess; log?: () => string }
) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${what}: the server exited: ${log?.().slice(-1500) ?? ''}`)
    }
    try {
      if (await ready()) return
    } catch {}
    if (Date.now() > deadline) {
      throw new Error(`${what}: not ready after ${timeoutMs} ms: ${log?.().slice(-1500) ?? ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** knex's logger, silenced for readiness probes that fail until the server is up. */
export const QUIET = { warn() {}, error() {}, debug() {}, deprecate() {} }
