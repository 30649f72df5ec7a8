import { createCipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'

/**
 * Seals a payload in format 1, as releases before per-session keys did
 * (AES-256-GCM under the app key's derived key itself), so tests can put
 * rows of the previous release into a table. A copy of that release's
 * code, kept apart from src/ on purpose: it must not change with it.
 */
export function sealFormat1(appKey: string, plaintext: Buffer, hash: string): Buffer {
  const material = Buffer.from(
    hkdfSync('sha256', appKey, Buffer.alloc(0), 'stored-session:aes-256-gcm:v1', 32)
  )
  const fingerprint = createHash('sha256')
    .update('stored-session:key-fingerprint')
    .update(material)
    .digest()
    .subarray(0, 4)
  const prefix = Buffer.concat([Buffer.of(1), fingerprint])
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', material, iv, { authTagLength: 16 })
  cipher.setAAD(Buffer.concat([prefix, Buffer.from(hash)]))
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([prefix, iv, cipher.getAuthTag(), ciphertext])
}
