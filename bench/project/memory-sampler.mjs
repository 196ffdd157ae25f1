/* global process, setInterval */
// Loaded into a projector with `node --import` (bench:project --memory-sample): samples
// process.memoryUsage() and V8's heap spaces every 20 ms and, at exit, writes the peak of each figure
// and the breakdown at the peak RSS as JSON to TANDEM_MEMORY_SAMPLE_FILE.
import { writeFileSync } from 'fs';
import v8 from 'v8';

const file = process.env.TANDEM_MEMORY_SAMPLE_FILE;
const peaks = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
let atPeakRss = null;
const sample = () => {
  const usage = process.memoryUsage();
  for (const name of Object.keys(peaks)) peaks[name] = Math.max(peaks[name], usage[name]);
  if (usage.rss >= peaks.rss) {
    const spaces = {};
    for (const space of v8.getHeapSpaceStatistics()) spaces[space.space_name] = space.space_used_size;
    atPeakRss = { ...usage, spaces };
  }
};
setInterval(sample, 20).unref();
process.on('exit', () => {
  sample();
  if (file) writeFileSync(file, JSON.stringify({ peaks, atPeakRss }));
});
