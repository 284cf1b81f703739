// Live updates for the dashboard: new samples arrive over server-sent events
// (GET /live) and update the tiles and add dots to the day's charts. The page
// works without this script; it only saves a reload.
"use strict";

(function () {
  const tiles = document.getElementById("tiles");
  if (!tiles || !window.EventSource) return;
  const source = new EventSource(tiles.dataset.live);
  const SVG = "http://www.w3.org/2000/svg";
  source.addEventListener("open", function () { tiles.dataset.liveState = "open"; });

  function clock(ms) {
    const d = new Date(ms);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  }

  // The person may see other units than the store keeps (pounds, miles, °F);
  // the tile says how to convert: shown = stored * scale + offset.
  function updateTile(s) {
    for (const tile of tiles.querySelectorAll('.tile[data-metric="' + s.metric + '"]')) {
      const value = tile.querySelector(".value");
      const decimals = Number(tile.dataset.decimals || 0);
      const scale = Number(tile.dataset.scale || 1);
      const offset = Number(tile.dataset.offset || 0);
      if (tile.dataset.show === "today") {
        const before = parseFloat(value.textContent) || 0;
        value.textContent = (before + s.value * scale).toFixed(decimals);
      } else {
        value.textContent = (s.value * scale + offset).toFixed(decimals);
        tile.querySelector(".at").textContent = "at " + clock(s.ts_ms);
      }
      tile.classList.add("fresh");
    }
  }

  function addDot(s) {
    const tile = tiles.querySelector('.tile[data-metric="' + s.metric + '"]');
    const scale = Number((tile && tile.dataset.scale) || 1);
    const offset = Number((tile && tile.dataset.offset) || 0);
    for (const svg of document.querySelectorAll('svg.chart[data-metric="' + s.metric + '"]')) {
      if (svg.classList.contains("chart-bars")) continue;
      const d = svg.dataset;
      const from = Number(d.from), to = Number(d.to), lo = Number(d.lo), hi = Number(d.hi);
      if (s.ts_ms < from || s.ts_ms >= to) continue;
      const x = Number(d.left) + (s.ts_ms - from) / (to - from) * (Number(d.right) - Number(d.left));
      const v = Math.min(hi, Math.max(lo, s.value * scale + offset));
      const y = Number(d.bottom) - (v - lo) / (hi - lo) * (Number(d.bottom) - Number(d.top));
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("class", "live");
      dot.setAttribute("cx", x.toFixed(1));
      dot.setAttribute("cy", y.toFixed(1));
      dot.setAttribute("r", "3");
      svg.appendChild(dot);
    }
  }

  source.addEventListener("sample", function (event) {
    const s = JSON.parse(event.data);
    updateTile(s);
    addDot(s);
  });
})();
