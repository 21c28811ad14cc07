/** The memory driver (the embedded default) against the bus conformance suite. */
import { openBus, type Bus } from "../../src/bus/index.js";
import { busConformance } from "./conformance.js";

busConformance({
  title: "memory",
  skip: false,
  open: () => openBus({ driver: "memory" }),
  // In one process a consumer "dies" by going away: its reader closes, its entries stay pending.
  async takeAndDie(bus, stream, group, consumer, count) {
    const reader = await bus.reader();
    await reader.join(stream, group, "begin");
    const entries = await reader.read(stream, group, consumer, { count, blockMs: 0 });
    await reader.close();
    return entries.map((e) => e.id);
  },
  // The memory bus lives in its process: a restart is a new one.
  async loseEverything(bus: Bus) {
    await bus.close();
    return openBus({ driver: "memory" });
  },
});
