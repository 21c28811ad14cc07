/**
 * Signed links to a pack job's child: `GET …/channels/<channel>/download?
 * expires=&sig=` works without an API token until it expires — what a
 * browser download needs (a link cannot carry the Authorization header) and
 * what an operator can hand to a tester. Signed with the file service's key
 * over the subject `pack-child\n<job>\n<channel>`, which no file id can be.
 */
import { GamedockError } from "../core/index.js";
import { signatureQuery, verifySignature } from "../files/index.js";
import { downloadPath } from "./views.js";

const subject = (jobId: string, channel: string): string => `pack-child\n${jobId}\n${channel}`;

/** The path (with query) of the child's download, valid until `expires` (unix seconds). */
export function signedChildPath(
  key: Buffer,
  jobId: string,
  channel: string,
  expires: number,
): string {
  return `${downloadPath(jobId, channel)}?${signatureQuery(key, subject(jobId, channel), expires)}`;
}

/** Throws E_SIGNATURE unless the query signs this child and has not expired. */
export function verifyChildLink(
  key: Buffer,
  jobId: string,
  channel: string,
  query: { expires?: string; sig?: string },
): void {
  verifySignature(
    key,
    subject(jobId, channel),
    query.expires,
    query.sig,
    (why) =>
      new GamedockError(
        "E_SIGNATURE",
        `the signed link to channel ${JSON.stringify(channel)} of job ${jobId} ${why}; ask for a new one (POST …/sign)`,
        { id: jobId, channel },
      ),
  );
}
