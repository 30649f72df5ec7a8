import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { IgnitorFactory } from '@adonisjs/core/factories'
import Configure from '@adonisjs/core/commands/configure'

const FIXTURE = fileURLToPath(new URL('../fixtures/app/', import.meta.url))
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TMP = join(REPO_ROOT, 'tmp')

/**
 * A copy of tests/fixtures/app (a fresh AdonisJS 7 app with session and
 * Lucid configured, without this package) in a folder of its own.
 *
 * Inside the repository's tmp/ folder the app resolves @adonisjs/* from
 * the repository's node_modules, as an installed app would from its own.
 */
export async function copyFreshApp(parent = TMP) {
  const root = join(parent, `fresh_app_${process.pid}_${randomUUID().slice(0, 8)}`)
  await mkdir(root, { recursive: true })
  await cp(FIXTURE, root, { recursive: true })
  await mkdir(join(root, 'tmp'), { recursive: true })
  return {
    root,
    url: pathToFileURL(`${root}/`),
    read: (path: string) => readFile(join(root, path), 'utf8'),
    migrations: () => readdir(join(root, 'database/migrations')),
    /**
     * Makes `stored-session` resolvable from the app, as `npm install` would.
     *
     * By default the package is a shim over this repository's sources (run
     * through ts-exec like the app's own files), so the suite needs no
     * build and never races a concurrent `npm run build`. With
     * STORED_SESSION_E2E_PACKAGE=build it is a link to the repository
     * itself, whose `exports` map points at build/ (what npm publishes).
     */
    async linkPackage(mode = process.env.STORED_SESSION_E2E_PACKAGE ?? 'source') {
      const target = join(root, 'node_modules/stored-session')
      await mkdir(join(root, 'node_modules'), { recursive: true })
      if (mode === 'build') return symlink(REPO_ROOT, target, 'dir')
      await mkdir(target)
      const source = (path: string) => JSON.stringify(pathToFileURL(join(REPO_ROOT, path)).href)
      const files: Record<string, string> = {
        'package.json': JSON.stringify({
          name: 'stored-session',
          type: 'module',
          exports: {
            '.': './index.js',
            './stored_session_provider': './provider.js',
            './commands': './commands.js',
            './services/dashboard': './dashboard.js',
            './maintenance/convert_times': './convert_times.js',
          },
        }),
        'index.js': `export * from ${source('index.ts')}\n`,
        'provider.js': `export { default } from ${source('providers/stored_session_provider.ts')}\n`,
        'dashboard.js': `export { default } from ${source('services/dashboard.ts')}\n`,
        'convert_times.js': `export * from ${source('src/maintenance/convert_times.ts')}\n`,
        // What `adonis-kit index` generates at build time, read from the folder instead
        'commands.js': [
          `import { FsLoader } from '@adonisjs/core/ace'`,
          `const loader = new FsLoader(${JSON.stringify(join(REPO_ROOT, 'commands'))})`,
          `export const getMetaData = () => loader.getMetaData()`,
          `export const getCommand = (metaData) => loader.getCommand(metaData)`,
          '',
        ].join('\n'),
      }
      for (const [name, contents] of Object.entries(files)) {
        await writeFile(join(target, name), contents)
      }
    },
    remove: () => rm(root, { recursive: true, force: true }),
  }
}

/**
 * Every source file of the app, to prove a run changed nothing.
 */
export async function snapshot(root: string) {
  const files: Record<string, string> = {}
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name)
    if (entry.isFile() && !path.includes('node_modules')) {
      files[path.slice(root.length)] = await readFile(path, 'utf8')
    }
  }
  return files
}

/**
 * Runs `node ace configure stored-session <args>` in-process against the
 * app at `appRoot`, with the package imported from source. Returns the
 * command (exit code) and what it printed.
 */
export async function runConfigure(appRoot: URL, args: string[] = []) {
  const ignitor = new IgnitorFactory()
    .withCoreProviders()
    .withCoreConfig()
    .create(appRoot, {
      importer: (filePath) => {
        if (filePath === 'stored-session') return import('../../index.ts')
        if (filePath.startsWith('./') || filePath.startsWith('../')) {
          return import(new URL(filePath, appRoot).href)
        }
        return import(filePath)
      },
    })
  const app = ignitor.createApp('console')
  await app.init()
  await app.boot()

  const ace = await app.container.make('ace')
  ace.ui.switchMode('raw')
  const command = await ace.create(Configure, ['stored-session', ...args])
  await command.exec()
  const output = command.ui.logger
    .getLogs()
    .map((log) => log.message)
    .join('\n')
  await app.terminate()
  return { command, output }
}
