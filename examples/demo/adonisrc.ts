import { defineConfig } from '@adonisjs/core/app'

export default defineConfig({
  commands: [() => import('@adonisjs/core/commands'), () => import('@adonisjs/lucid/commands')],
  providers: [
    () => import('@adonisjs/core/providers/app_provider'),
    () => import('@adonisjs/session/session_provider'),
    () => import('@adonisjs/lucid/database_provider'),
    // In your app: () => import('stored-session/stored_session_provider')
    () => import('../../providers/stored_session_provider.ts'),
  ],
  preloads: [() => import('#start/routes'), () => import('#start/kernel')],
  tests: {
    suites: [{ name: 'functional', files: ['tests/functional/**/*.spec.ts'], timeout: 30_000 }],
    forceExit: false,
  },
})
