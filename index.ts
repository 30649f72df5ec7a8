export * as errors from './src/errors.ts'
export { configure } from './configure.ts'
export { stubsRoot } from './stubs/main.ts'
export { storedSession, createStoredSessionFactory, resolveConfig } from './src/define_config.ts'
export { StoredSessionStore } from './src/request/store.ts'
export { SessionCodec } from './src/request/codec.ts'
export { SessionRepository } from './src/request/repository.ts'
export { hashSessionId, isValidSessionId } from './src/request/session_id.ts'
export { trimSessions } from './src/maintenance/trim.ts'
export { KeyRotation, rotateSessionKey } from './src/maintenance/rotate_key.ts'
export { sessionStats } from './src/maintenance/stats.ts'
export { revokeAllSessions, revokeUserSessions } from './src/maintenance/revoke.ts'
export { importDatabaseSessions } from './src/maintenance/import.ts'
export {
  convertSessionTimesFromUtc,
  convertSessionTimesToUtc,
} from './src/maintenance/convert_times.ts'
export { StoredSessions } from './src/users/user_sessions.ts'
export { StoredSessionTesting } from './src/testing.ts'
