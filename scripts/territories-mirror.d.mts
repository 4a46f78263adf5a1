// Types of territories-mirror.mjs for the TypeScript tests that start it.
export type MirrorFault = 'truncate' | 'error' | 'corrupt';
export interface Mirror {
  url: string;
  requests: string[];
  close(): Promise<void>;
}
export function startMirror(options?: {
  sharedDataDir?: string;
  port?: number;
  host?: string;
  faults?: Record<string, MirrorFault>;
}): Promise<Mirror>;
