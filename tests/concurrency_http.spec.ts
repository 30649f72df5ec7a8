import { test } from '@japa/runner'
import { enabledDialects } from './helpers/dialects.ts'
import { uniqueTable } from './helpers/app.ts'
import { sharedTable } from './fixtures/shared_table.ts'
import { conflictsReported, runLostUpdates, startServers } from './fixtures/lost_updates.ts'

/** Runs of the 8-in-flight scenario per test run (30 in a row, by hand, for the record). */
const RUNS_IN_A_ROW = 3

for (const dialect of enabledDialects()) {
  test.group(`concurrency: no lost updates over HTTP [${dialect.label}]`, () => {
    /**
     * Two server processes on one table, as behind a cluster or a load
     * balancer: on SQLite the only way requests interleave at all (its
     * driver is synchronous), and on PostgreSQL and MySQL the more
     * realistic deployment.
     */
    test('two clients, 50 requests each on one session cookie: all 100 keys are kept', async ({
      assert,
      cleanup,
    }) => {
      const shared = await sharedTable(dialect, uniqueTable())
      cleanup(() => shared.drop())
      const servers = await startServers(2, {
        SS_DIALECT: dialect.label,
        SS_TABLE: shared.table,
        SS_STORE: 'stored',
        SS_DB_FILE: shared.file,
      })
      cleanup(() => servers.stop())

      const result = await runLostUpdates(servers.urls, {
        clients: 2,
        requestsPerClient: 50,
        inFlight: 4,
      })

      assert.deepEqual(result, { expected: 100, kept: 100, failed: 0, failures: [] })
      // Proof the requests did collide: some writes had to be merged.
      assert.isAbove(await conflictsReported(servers.urls), 0)
    }).timeout(60_000)

    /**
     * What a page firing parallel `fetch` calls does: 8 in flight per
     * client, 16 requests on one session at once. On SQLite the merges of
     * both processes are serialized by the file's write lock (BEGIN
     * IMMEDIATE), so none gives up with a 409. Run a few times in a row:
     * a failure here was rare before that.
     */
    test('8 requests in flight per client, 3 runs in a row: no request fails, no key is lost', async ({
      assert,
      cleanup,
    }) => {
      const shared = await sharedTable(dialect, uniqueTable())
      cleanup(() => shared.drop())
      const servers = await startServers(2, {
        SS_DIALECT: dialect.label,
        SS_TABLE: shared.table,
        SS_STORE: 'stored',
        SS_DB_FILE: shared.file,
      })
      cleanup(() => servers.stop())

      // each run on a session of its own
      for (let run = 0; run < RUNS_IN_A_ROW; run++) {
        const result = await runLostUpdates(servers.urls, {
          clients: 2,
          requestsPerClient: 50,
          inFlight: 8,
        })
        assert.deepEqual(
          result,
          { expected: 100, kept: 100, failed: 0, failures: [] },
          `run ${run}`
        )
      }
    }).timeout(120_000)
  })
}
