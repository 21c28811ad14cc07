/**
 * A tus client in its own process, so a test can measure the server's memory
 * alone: `node --import tsx test/files/tus-upload-client.ts <base> <file> <chunk bytes>`
 * creates an upload, PATCHes the file in chunks and prints the upload URL.
 */
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { TusClient } from "./tus-kit.js";

const [base = "", file = "", chunk = ""] = process.argv.slice(2);
const { size } = await stat(file);
const client = new TusClient(base);
const url = await client.start(size, { filename: basename(file) });
const offset = await client.sendFile(url, file, size, 0, Number(chunk));
if (offset !== size) throw new Error(`ended at ${offset} of ${size}`);
process.stdout.write(`${url}\n`);
