import { flags } from '@adonisjs/core/ace'
import { MaintenanceCommand } from '../src/maintenance/command.ts'
import { formatCount } from '../src/maintenance/progress.ts'
import { sessionStats, type SessionStats } from '../src/maintenance/stats.ts'
import type { StoredSessionContext } from '../src/store_context.ts'

/**
 * `node ace sessions:stats`: what the sessions table holds.
 */
export default class SessionsStats extends MaintenanceCommand {
  static commandName = 'sessions:stats'
  static description =
    'Show session counts (live, expired, signed-in users), payload sizes and table size'

  @flags.boolean({
    description:
      'Count every row instead of estimating from a sample on large tables (scans the table)',
  })
  declare exact?: boolean

  protected perform(context: StoredSessionContext) {
    return sessionStats(context, { exact: this.exact })
  }

  protected summarize(stats: SessionStats) {
    const estimated = new Set<string>(stats.estimated)
    const mark = (field: SessionStats['estimated'][number], value: string) =>
      estimated.has(field) ? `~${value}` : value
    const table = this.ui.table()
    table.head(['Metric', 'Value'])
    table.row(['Sessions', mark('total', formatCount(stats.total))])
    table.row(['Live', mark('live', formatCount(stats.live))])
    table.row(['Expired, awaiting trim', mark('expired', formatCount(stats.expired))])
    table.row(['Live with a user', mark('withUser', formatCount(stats.withUser))])
    table.row(['Distinct users', mark('distinctUsers', formatCount(stats.distinctUsers))])
    table.row([
      'Oldest live session',
      stats.oldestLiveAgeSeconds === null
        ? '-'
        : mark('oldestLiveAgeSeconds', formatAge(stats.oldestLiveAgeSeconds)),
    ])
    table.row([
      'Payload bytes (avg / p95 / max)',
      mark(
        'payloadBytes',
        `${formatCount(stats.payloadBytes.average)} / ${formatCount(stats.payloadBytes.p95)} / ${formatCount(stats.payloadBytes.max)}`
      ),
    ])
    table.row(['Table size', stats.tableBytes === null ? 'unknown' : formatBytes(stats.tableBytes)])
    table.render()
    if (stats.sampledRows !== null) {
      this.logger.info(
        `~ estimated from a random sample of ${formatCount(stats.sampledRows)} rows (distinct users: the database's estimate over all rows); --exact counts every row`
      )
    }
  }
}

function formatAge(seconds: number): string {
  if (seconds < 3600) return `${Math.round(seconds / 60)} minutes`
  if (seconds < 86_400) return `${(seconds / 3600).toFixed(1)} hours`
  return `${(seconds / 86_400).toFixed(1)} days`
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
