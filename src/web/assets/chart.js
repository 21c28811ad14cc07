// A small live line chart over uPlot: the last `points` samples of one series.
import { html, useEffect, useRef } from "/web/vendor/preact-htm.js";
import uPlot from "/web/vendor/uplot.js";

export function LiveChart({ title, samples }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const width = () => Math.max(240, box.current.clientWidth);
    plot.current = new uPlot(
      {
        width: width(),
        height: 160,
        legend: { show: false },
        // One sample is a point in time: show the minute before it rather than years around it.
        scales: {
          x: { time: true, range: (_u, min, max) => (min === max ? [min - 60, max] : [min, max]) },
          y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
        },
        series: [{}, { stroke: "#2f6fdf", width: 2, fill: "rgba(47,111,223,0.12)" }],
        axes: [{ size: 30 }, { size: 50 }],
      },
      [[], []],
      box.current,
    );
    const resize = () => plot.current.setSize({ width: width(), height: 160 });
    addEventListener("resize", resize);
    return () => {
      removeEventListener("resize", resize);
      plot.current.destroy();
    };
  }, []);
  useEffect(() => {
    plot.current?.setData([samples.map((s) => s.t), samples.map((s) => s.v)]);
  }, [samples]);
  const last = samples.length > 0 ? samples[samples.length - 1].v : null;
  return html`<figure class="chart">
    <figcaption>
      ${title}<span class="value">${last === null ? "–" : formatNumber(last)}</span>
    </figcaption>
    <div ref=${box} class="plot"></div>
  </figure>`;
}

export function formatNumber(n) {
  return Number.isInteger(n) ? n.toLocaleString() : n.toFixed(1);
}
