import { BaseCommand, flags } from '@adonisjs/core/ace'
import type { CommandOptions } from '@adonisjs/core/types/ace'
import { resolveStoredSessionContext, type StoredSessionContext } from '../store_context.ts'
import { ProgressLine } from './progress.ts'

/**
 * What every `sessions:*` command shares: finding the store's context,
 * `--store` and `--json`, progress output and failure reporting. Each
 * command only maps its flags to a service call and prints the summary.
 */
export abstract class MaintenanceCommand extends BaseCommand {
  static options: CommandOptions = { startApp: true }

  @flags.string({
    description: 'Store of config/session.ts to work on, when several use storedSession()',
  })
  declare store?: string

  @flags.boolean({ description: 'Print the result as JSON (progress goes to stderr)' })
  declare json?: boolean

  /**
   * The work of the command; what it returns is printed as JSON under
   * `--json`, after `summarize` printed it for people otherwise.
   */
  protected abstract perform(context: StoredSessionContext): Promise<object | null>

  protected abstract summarize(result: object): void

  async run() {
    try {
      const context = this.store
        ? await resolveStoredSessionContext(this.app, this.store)
        : await this.app.container.make('stored_session.context')
      const result = await this.perform(context)
      if (result === null) return
      if (this.json) this.logger.log(JSON.stringify(result))
      else this.summarize(result)
    } catch (error) {
      this.exitCode = 1
      this.logger.error(describeError(error))
    }
  }

  protected progress() {
    return new ProgressLine(this.logger, {
      interactive: process.stdout.isTTY === true,
      toStderr: this.json === true,
    })
  }
}

/**
 * One line saying what failed, without the SQL: knex prefixes driver
 * errors with the statement and its bindings interpolated, and those
 * bindings are session hashes and payloads.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && code.startsWith('E_')) return `[${code}] ${error.message}`
  const cause = error.message.includes(' - ') ? error.message.split(' - ').pop()! : error.message
  return typeof code === 'string' ? `[${code}] ${cause}` : cause
}
