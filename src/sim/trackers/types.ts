/** What a tracker answers to one `track_dirty_vram` call. */
export type TrackerAnswer =
  | { kind: 'bitmap'; dirty: number[] }
  | { kind: 'all' }
  | { kind: 'enodata' };
