// Sample realtime handlers: what `gamedock serve` loads when realtime.handlers
// is empty, so a round trip works at once (docs/realtime.md). A module of your
// own has the same shape; list its path in realtime.handlers.
//
//   1001 echo       replies with the body it got
//   1002 counter    adds body.by (default 1) to the caller's counter, replies {count};
//                   kept in Redis when the bus is Redis (shared by every worker), else in memory
//   1003 whoami     replies with what the gateway knows of the caller
//   1004 notify-me  pushes body to the caller as msgId 1050 (kept in its history), replies {offset}

/** Counters per uid when there is no Redis: one process's, gone at restart. */
const counters = new Map();

export default {
  name: "samples",
  range: [1000, 1099], // leaves 1100–1999 to applications
  // ctx.services.redis: the bus's Redis (keys under "<prefix>:app:"), absent on the memory bus.
  services: { redis: "optional" },
  handlers: {
    1001: (_ctx, body) => body,
    1002: async (ctx, body) => {
      const by = body && Number.isSafeInteger(body.by) ? body.by : 1;
      const { redis } = ctx.services;
      if (redis) return { count: await redis.incrby(`counter:${ctx.uid}`, by) };
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
