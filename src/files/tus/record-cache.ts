/**
 * This instance's copy of the upload records it wrote last, so consecutive
 * PATCHes through one instance skip a database read. Bounded: abandoned
 * uploads must not grow it forever; a miss only costs one getUpload().
 */
import type { UploadRecord } from "../contract.js";

const MAX_ENTRIES = 10_000;

export class RecordCache {
  private readonly entries = new Map<string, UploadRecord>();

  get(id: string): UploadRecord | undefined {
    return this.entries.get(id);
  }

  set(record: UploadRecord): void {
    this.entries.delete(record.id); // re-insert: Map order is the eviction order
    this.entries.set(record.id, record);
    if (this.entries.size > MAX_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(id: string): void {
    this.entries.delete(id);
  }
}
