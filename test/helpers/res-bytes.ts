/** Little-endian byte builders for hand-made binary XML and resources.arsc documents. */
export const u8 = (n: number): Buffer => Buffer.from([n & 0xff]);

export const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};

export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};

/** A ResChunk: type, header size, total size, the rest of the header, then the body. */
export function chunk(type: number, header: Buffer, body: Buffer): Buffer {
  const headerSize = 8 + header.length;
  return Buffer.concat([u16(type), u16(headerSize), u32(headerSize + body.length), header, body]);
}
