/**
 * Rows per multi-row statement of the maintenance services, and the bytes
 * of data one may carry: one round trip per hundred rows instead of one
 * per row, each statement short, and well under MySQL's default
 * max_allowed_packet (16 MB on MariaDB) whatever `maxPayloadSize` is.
 */
export const CHUNK_ROWS = 100
export const CHUNK_BYTES = 1 << 20

/**
 * Splits rows into chunks of at most CHUNK_ROWS rows, closing a chunk once
 * its data reaches CHUNK_BYTES.
 */
export function chunksOf<T extends { data: Buffer }>(rows: T[]): T[][] {
  const chunks: T[][] = []
  let chunk: T[] = []
  let bytes = 0
  for (const row of rows) {
    chunk.push(row)
    bytes += row.data.length
    if (chunk.length >= CHUNK_ROWS || bytes >= CHUNK_BYTES) {
      chunks.push(chunk)
      chunk = []
      bytes = 0
    }
  }
  if (chunk.length) chunks.push(chunk)
  return chunks
}
