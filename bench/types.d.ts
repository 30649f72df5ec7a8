/**
 * The part of autocannon's API the benchmark uses (it ships no types).
 */
declare module 'autocannon' {
  interface Histogram {
    average: number
    p50: number
    p99: number
  }
  interface Result {
    requests: Histogram & { total: number }
    latency: Histogram
    non2xx: number
    errors: number
    timeouts: number
  }
  interface Options {
    url: string
    connections?: number
    duration?: number
    requests?: { method?: string; path: string; setupRequest?: (request: any) => any }[]
  }
  export default function autocannon(options: Options): Promise<Result>
}

/**
 * pg ships no types of its own; the floor benchmark and the scale seed
 * need its Client only.
 */
declare module 'pg' {
  export class Client {
    constructor(config: unknown)
    connect(): Promise<void>
    query(query: { name: string; text: string; values: unknown[] }): Promise<{ rows: any[] }>
    query(text: string, values?: unknown[]): Promise<{ rows: any[] }>
    end(): Promise<void>
  }
  const pg: { Client: typeof Client }
  export default pg
}
