import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * stored-session 0.2 records where a session's IP is (the locate hook):
 * adds the location column to a table created before it. A table created
 * with the column already is left as it is.
 */
export default class extends BaseSchema {
  protected tableName = 'stored_sessions'

  async up() {
    this.defer(async (db) => {
      if (await db.schema.hasColumn(this.tableName, 'location')) return
      await db.schema.alterTable(this.tableName, (table) => {
        table.string('location', 255).nullable()
      })
    })
  }

  async down() {
    this.defer(async (db) => {
      if (!(await db.schema.hasColumn(this.tableName, 'location'))) return
      await db.schema.alterTable(this.tableName, (table) => {
        table.dropColumn('location')
      })
    })
  }
}
