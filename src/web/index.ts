/**
 * The operations dashboard (docs/dashboard.md): static ES modules served by
 * `gamedock serve` at `/`, built with preact + htm, uPlot for charts — no
 * bundler; tus-js-client for resumable uploads. The page only uses the public HTTP API, so everything it shows
 * can be scripted too.
 *
 * - `/` is the page; `/web/*` its modules and styles (src/web/assets, copied
 *   to dist/web/assets by the build); `/web/vendor/*` the dist builds of the
 *   libraries, served from their npm packages as they ship.
 * - Public: the files hold no data and the page must load before anyone has
 *   given it a token. Every API request it makes carries the token.
 * - A strict Content-Security-Policy: scripts, styles and connections from
 *   this origin only, no inline script or style, no frames, no plugins.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";

const ASSETS = join(dirname(fileURLToPath(import.meta.url)), "assets");
const require = createRequire(import.meta.url);

/** The libraries' files as their packages ship them: URL name → file. */
const VENDOR: Record<string, string> = {
  // preact, its hooks and htm in one ES module (htm's standalone build).
  // (htm's exports map names no file of it: found beside its main entry.)
  "preact-htm.js": join(dirname(require.resolve("htm")), "..", "preact", "standalone.module.js"),
  "uplot.js": join(dirname(require.resolve("uplot")), "uPlot.esm.js"),
  "uplot.css": join(dirname(require.resolve("uplot")), "uPlot.min.css"),
  // A classic script (UMD) that sets window.tus: tus-js-client's ES build imports
  // other packages by bare name, which a browser cannot resolve without a bundler.
  "tus.js": require.resolve("tus-js-client/dist/tus.min.js"),
};

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

function secure(reply: FastifyReply): void {
  reply
    .header("content-security-policy", CONTENT_SECURITY_POLICY)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("x-frame-options", "DENY");
}

export async function registerDashboard(app: FastifyInstance): Promise<void> {
  const { default: fastifyStatic } = await import("@fastify/static");
  // Public (see above): the server-wide token check skips these routes.
  const config = { auth: "self" as const };
  // sendFile only: the routes are ours, so they carry the route config above.
  await app.register(fastifyStatic, { root: ASSETS, serve: false });
  app.get("/", { config }, (_request, reply) => {
    secure(reply);
    return reply.header("cache-control", "no-store").sendFile("index.html", ASSETS);
  });
  app.get<{ Params: { name: string } }>("/web/vendor/:name", { config }, (request, reply) => {
    const file = VENDOR[request.params.name];
    if (file === undefined) {
      reply.callNotFound();
      return reply;
    }
    secure(reply);
    return reply.sendFile(file.slice(dirname(file).length + 1), dirname(file));
  });
  // @fastify/send keeps the path inside ASSETS and skips dotfiles.
  app.get<{ Params: { "*": string } }>("/web/*", { config }, (request, reply) => {
    secure(reply);
    return reply.sendFile(request.params["*"], ASSETS);
  });
}
