import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * Sessions of the "stored" session store (stored-session). The id is the
 * SHA-256 of the session id and data is encrypted MessagePack.
 *
 * Rendered from stubs/migrations/create_stored_sessions_table.stub, as
 * `node ace configure stored-session` publishes it into an app.
 */
export default class extends BaseSchema {
  protected tableName = 'stored_sessions'

  async up() {
    const dialect = this.db.dialect.name

    this.schema.createTable(this.tableName, (table) => {
      table.string('id', 64).primary()
      if (dialect === 'mysql') {
        // knex's binary() is a 255-byte varbinary on MySQL
        table.specificType('data', 'mediumblob').notNullable()
      } else {
        table.binary('data').notNullable()
      }
      table.integer('version').notNullable().defaultTo(0)
      table.string('user_id', 255).nullable().index()
      table.string('ip_address', 45).nullable()
      table.string('user_agent', 512).nullable()
      table.string('location', 255).nullable()
      table.dateTime('created_at', { precision: 3 }).notNullable()
      table.dateTime('updated_at', { precision: 3 }).notNullable()
      table.dateTime('expires_at', { precision: 3 }).notNullable().index()
    })
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
