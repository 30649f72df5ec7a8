import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
// In your app: import { StoredSessionTesting } from 'stored-session/testing'
import { StoredSessionTesting } from '../../../../src/testing.ts'

/**
 * How an application tests pages that need a signed-in session: a real
 * stored session created for the user, sent as the signed session cookie.
 */
test.group('signed-in pages', (group) => {
  group.each.setup(async () => {
    const storedSessions = await app.container.make('stored_session.sessions')
    await storedSessions.revokeAll('1')
  })

  test('the page greets the user of a stored session', async ({ client }) => {
    const sessions = await StoredSessionTesting.create(app)
    const { sessionId, cookieName } = await sessions.signIn('1', { values: { visits: 7 } })

    const response = await client.get('/').withCookie(cookieName, sessionId)

    response.assertStatus(200)
    response.assertTextIncludes('Signed in as <strong>Ada Lovelace</strong>')
    response.assertTextIncludes('Visits counted in this session: <strong>7</strong>')
    await sessions.assertLiveSessions('1', 1)
  })

  test('signing out ends the stored session of the user', async ({ client }) => {
    const sessions = await StoredSessionTesting.create(app)
    const { sessionId, cookieName } = await sessions.signIn('1')
    await sessions.assertLiveSessions('1', 1)

    const response = await client
      .post('/sign-out')
      .withCookie(cookieName, sessionId)
      .redirects(0)

    response.assertStatus(302)
    await sessions.assertLiveSessions('1', 0)
  })
})
