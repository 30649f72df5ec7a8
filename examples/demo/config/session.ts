import env from '#start/env'
import app from '@adonisjs/core/services/app'
import { defineConfig, stores } from '@adonisjs/session'
// In your app: import { storedSession } from 'stored-session'
import { storedSession } from '../../../index.ts'

const sessionConfig = defineConfig({
  enabled: true,
  cookieName: 'demo-session',
  clearWithBrowser: false,
  age: '2h',
  cookie: {
    path: '/',
    httpOnly: true,
    secure: app.inProduction,
    sameSite: 'lax',
  },
  store: env.get('SESSION_DRIVER'),
  stores: {
    cookie: stores.cookie(),
    stored: storedSession({
      connection: 'sqlite',
      table: 'stored_sessions',
      // the dashboard at /admin/sessions: open to the demo user only
      dashboard: { authorize: ({ session }) => session.get('auth_web') === '1' },
    }),
  },
})

export default sessionConfig
