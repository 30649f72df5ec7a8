import type Configure from '@adonisjs/core/commands/configure'
import { E_CANNOT_CONFIGURE } from './src/errors.ts'
import { parseConfigureFlags } from './src/configure/flags.ts'
import { missingPeers } from './src/configure/peers.ts'
import { planLocationMigration, planMigration } from './src/configure/migration.ts'
import { planSessionStore } from './src/configure/session_store.ts'
import { planEnvValidation } from './src/configure/env_validation.ts'
import { planRcFile } from './src/configure/rc_file.ts'
import { planSqliteWal } from './src/configure/sqlite_wal.ts'
import { planTimeConversion } from './src/configure/time_conversion.ts'
import type { Step } from './src/configure/step.ts'

/**
 * Runs on `node ace add stored-session` (after installing) and on
 * `node ace configure stored-session`.
 *
 * Flags: `--table=<name>` (default `stored_sessions`), `--connection=<name>`
 * (default: the primary Lucid connection), `--wal` (SQLite: enable WAL),
 * `--convert-times-from=<zone>` (MySQL: publish the migration converting
 * times written by a version before 0.2, in that zone, to UTC).
 *
 * Every edit is planned before the first one is written, so an app we
 * cannot configure is left as it was; running it again changes nothing.
 */
export async function configure(command: Configure) {
  const { app, logger } = command

  const missing = missingPeers(app.appRoot)
  if (missing.length) {
    logger.error(
      `stored-session needs ${missing.join(' and ')}. Install and configure ${missing.length > 1 ? 'them' : 'it'} first, then run "node ace configure stored-session":`
    )
    for (const name of missing) logger.log(`  node ace add ${name}`)
    command.exitCode = 1
    return
  }

  let steps: Step[]
  const advice: string[] = []
  try {
    const options = parseConfigureFlags(command.parsedFlags)
    const codemods = await command.createCodemods()
    const project = await codemods.getTsMorphProject()
    if (!project) {
      throw new E_CANNOT_CONFIGURE(['@adonisjs/assembler is needed to edit source files'])
    }
    const context = { app, project, codemods, options }
    // before planMigration's file exists: only an earlier install needs it
    const locationMigration = await planLocationMigration(context)
    const tableMigration = await planMigration(context)
    const timeConversion = await planTimeConversion(context, tableMigration)
    if (Array.isArray(timeConversion)) advice.push(...timeConversion)
    steps = [
      tableMigration,
      ...(locationMigration ? [locationMigration] : []),
      ...(timeConversion && !Array.isArray(timeConversion) ? [timeConversion] : []),
      planSessionStore(context),
      planEnvValidation(context),
      planRcFile(context),
    ]
    const wal = planSqliteWal(context)
    if (Array.isArray(wal)) advice.push(...wal)
    else if (wal) steps.push(wal)
  } catch (error) {
    if (!(error instanceof E_CANNOT_CONFIGURE)) throw error
    logger.error(error.message)
    command.exitCode = 1
    return
  }

  let changes = 0
  for (const step of steps) {
    if ('unchanged' in step) {
      logger.action(`update ${step.file}`).skipped(step.unchanged)
      continue
    }
    await step.apply()
    changes++
    if (!step.logsItself) logger.action(`update ${step.file} (${step.change})`).succeeded()
  }

  if (changes) logger.success(`stored-session configured: ${changes} change(s)`)
  else logger.success('stored-session is already configured: nothing changed')

  const next = command.ui.instructions().heading('Next steps')
  next.add(`Set ${command.colors.cyan('SESSION_DRIVER=stored')} in .env`)
  next.add(`Run ${command.colors.cyan('node ace migration:run')}`)
  for (const line of advice) next.add(line)
  next.render()
}
