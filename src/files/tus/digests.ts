/**
 * sha256 + md5 of an upload that arrives in many PATCH requests, possibly
 * through different instances. hash-wasm can save a hasher's internal state
 * and load it into another hasher, so the running state is stored with the
 * upload (UploadRecord.hashState) after every PATCH and the next PATCH — here
 * or on another instance — continues from it without reading any byte again.
 *
 * Saved form (base64): version byte 1, u16 length of the sha256 state, the
 * sha256 state, the md5 state.
 */
import { createMD5, createSHA256, type IHasher } from "hash-wasm";

const VERSION = 1;

export interface FinalDigests {
  sha256: string; // lowercase hex
  md5: string; // lowercase hex
}

export class ResumableDigests {
  private constructor(
    private readonly sha256: IHasher,
    private readonly md5: IHasher,
  ) {}

  static async fresh(): Promise<ResumableDigests> {
    const [sha256, md5] = await Promise.all([createSHA256(), createMD5()]);
    sha256.init();
    md5.init();
    return new ResumableDigests(sha256, md5);
  }

  /** Continues from save(); throws if the state is not ours (corrupt, or another hash-wasm build). */
  static async resume(saved: string): Promise<ResumableDigests> {
    const bytes = Buffer.from(saved, "base64");
    if (bytes.length < 3 || bytes[0] !== VERSION) throw new Error("unknown hash state format");
    const shaLength = bytes.readUInt16BE(1);
    const shaState = bytes.subarray(3, 3 + shaLength);
    const md5State = bytes.subarray(3 + shaLength);
    const [sha256, md5] = await Promise.all([createSHA256(), createMD5()]);
    sha256.load(shaState);
    md5.load(md5State);
    return new ResumableDigests(sha256, md5);
  }

  update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.md5.update(chunk);
  }

  /** The state after the bytes so far; call before digest(). */
  save(): string {
    const sha = this.sha256.save();
    const md5 = this.md5.save();
    const header = Buffer.alloc(3);
    header[0] = VERSION;
    header.writeUInt16BE(sha.length, 1);
    return Buffer.concat([header, sha, md5]).toString("base64");
  }

  /** Ends both hashers. */
  digest(): FinalDigests {
    return { sha256: this.sha256.digest("hex"), md5: this.md5.digest("hex") };
  }
}
