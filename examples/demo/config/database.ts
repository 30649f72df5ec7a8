import env from '#start/env'
import app from '@adonisjs/core/services/app'
import { defineConfig } from '@adonisjs/lucid'

const dbConfig = defineConfig({
  connection: 'sqlite',
  connections: {
    sqlite: {
      client: 'better-sqlite3',
      connection: {
        // DEMO_DATABASE lets the test suite run the demo without touching your data
        filename: env.get('DEMO_DATABASE') ?? app.tmpPath('demo.sqlite3'),
      },
      useNullAsDefault: true,
      migrations: {
        naturalSort: true,
        paths: ['database/migrations'],
      },
      // The demo has no models to generate schema classes for
      schemaGeneration: { enabled: false },
      pool: {
        // What `node ace configure stored-session --wal` adds: WAL makes
        // session writes about 60x faster than SQLite's default journal
        afterCreate: (connection: any, done: (error: Error | null, connection: any) => void) => {
          connection.pragma('journal_mode = WAL')
          connection.pragma('synchronous = NORMAL')
          done(null, connection)
        },
      },
    },
  },
})

export default dbConfig
