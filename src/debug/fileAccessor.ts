/**
 * How the adapter reads trace files: injected, so the extension can read through
 * `vscode.workspace.fs` (unsaved or remote files) and the standalone adapter and tests through node.
 */
import { promises as fs } from 'fs';

export interface FileAccessor {
  /** The whole file as UTF-8 text; rejects if it cannot be read. */
  readFile(path: string): Promise<string>;
}

/** Reads from the local file system (the standalone adapter). */
export const nodeFileAccessor: FileAccessor = {
  async readFile(path: string): Promise<string> {
    return fs.readFile(path, 'utf8');
  },
};
