// Sample realtime handlers: what `gamedock serve` loads when realtime.handlers
// is empty, so a round trip works at once (docs/realtime.md). A module of your
// own has the same shape; list its path in realtime.handlers.
//
//   1001 echo       replies with the body it got
//   1002 counter    adds body.by (default 1) to the caller's counter, replies {count}
//   1003 whoami     replies with what the gateway knows of the caller
//   1004 notify-me  pushes body to the caller as msgId 1050 (kept in its history), replies {offset}

/** Counters per uid. In memory: one process's, gone at restart (a Redis-backed one is a later step). */
const counters = new Map();

export default {
  name: "samples",
  range: [1000, 1099], // leaves 1100–1999 to applications
  handlers: {
    1001: (_ctx, body) => body,
    1002: (ctx, body) => {
      const by = body && Number.isInteger(body.by) ? body.by : 1;
      const count = (counters.get(ctx.uid) ?? 0) + by;
      counters.set(ctx.uid, count);
      return { count };
    },
    1003: (ctx) => ({ uid: ctx.uid, group: ctx.group, connId: ctx.connId, ip: ctx.ip }),
    1004: async (ctx, body) => {
      const { offsets } = await ctx.push({ uid: ctx.uid }, 1050, body);
      return { offset: offsets[ctx.uid] };
    },
  },
};
