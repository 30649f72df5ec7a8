import { fileURLToPath } from 'node:url'

/**
 * Folder of the package's stubs, for `makeUsingStub`.
 */
export const stubsRoot = fileURLToPath(new URL('./', import.meta.url))
