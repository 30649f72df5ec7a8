import { debuglog } from 'node:util'

/**
 * Debug channel, enabled with `NODE_DEBUG=stored-session`. Lines carry
 * a short prefix of the hashed id and byte sizes; never a raw id or data.
 */
export default debuglog('stored-session')
