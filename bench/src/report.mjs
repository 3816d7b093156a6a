// Markdown tables, target verdicts and the SVG chart, all built from one
// run's results.

const fixed = (value, digits = 0) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      })
    : '–';

/** Formats a spread as `median (min–max)`. */
export function formatSpread(spreadValue, digits = 0) {
  return `${fixed(spreadValue.median, digits)} (${fixed(spreadValue.min, digits)}–${fixed(spreadValue.max, digits)})`;
}

const ratio = (spreadValue) =>
  Number.isFinite(spreadValue?.median)
    ? `${fixed(spreadValue.median, 2)}×`
    : '–';

function table(header, rows) {
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
  ];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/** Throughput, bandwidth and latency of every cell, with ratios against the raw pipe. */
export function throughputTables(results) {
  const systems = results.systems.filter((system) => system.key !== 'raw');
  const callsRows = results.cells.map((cell) => [
    cell.workloadLabel,
    cell.workers,
    cell.callers,
    formatSpread(cell.systems.raw.callsPerSecond),
    ...systems.map((system) => {
      const entry = cell.systems[system.key];
      return `${fixed(entry.callsPerSecond.median)} (${ratio(entry.ratioCalls)})`;
    }),
  ]);
  const callsTable = table(
    [
      'workload',
      'workers',
      'callers',
      'raw pipe calls/s, median (min–max)',
      ...systems.map((system) => `${system.label} calls/s (× raw)`),
    ],
    callsRows,
  );

  const bandwidthRows = results.cells
    .filter((cell) => cell.bytes > 0)
    .map((cell) => [
      cell.workloadLabel,
      cell.workers,
      cell.callers,
      formatSpread(cell.systems.raw.megabytesPerSecond, 1),
      ...systems.map((system) => {
        const entry = cell.systems[system.key];
        return `${fixed(entry.megabytesPerSecond.median, 1)} (${ratio(entry.ratioCalls)})`;
      }),
    ]);
  const bandwidthTable = table(
    [
      'workload',
      'workers',
      'callers',
      'raw pipe MB/s',
      ...systems.map((system) => `${system.label} MB/s (× raw)`),
    ],
    bandwidthRows,
  );

  const latencyRows = results.cells.map((cell) => [
    cell.workloadLabel,
    cell.workers,
    cell.callers,
    ...results.systems.map((system) => {
      const entry = cell.systems[system.key];
      return `${fixed(entry.p50Ms.median, 2)} / ${fixed(entry.p99Ms.median, 2)}`;
    }),
    ...systems.map((system) => ratio(cell.systems[system.key].ratioP99)),
  ]);
  const latencyTable = table(
    [
      'workload',
      'workers',
      'callers',
      ...results.systems.map((system) => `${system.label} p50 / p99 ms`),
      ...systems.map((system) => `${system.label} p99 × raw`),
    ],
    latencyRows,
  );
  const cpuRows = results.cells.map((cell) => [
    cell.workloadLabel,
    cell.workers,
    cell.callers,
    ...results.systems.map((system) => {
      const entry = cell.systems[system.key];
      const own = `${fixed(entry.nodeCpuUs.median, 1)} + ${fixed(entry.pythonCpuUs.median, 1)}`;
      return system.key === 'raw' ? own : `${own} (${ratio(entry.ratioCpu)})`;
    }),
  ]);
  const cpuTable = table(
    [
      'workload',
      'workers',
      'callers',
      ...results.systems.map(
        (system) => `${system.label} Node + Python CPU µs per call`,
      ),
    ],
    cpuRows,
  );
  return { callsTable, bandwidthTable, latencyTable, cpuTable };
}

/** Builds the tables of the figures beyond throughput. */
export function extraTables(results) {
  const parts = [];
  if (results.start) {
    const { bareMs, pools, rawLoops } = results.start;
    parts.push(
      table(
        ['what', 'ready in ms, median (min–max)', '× one bare spawn'],
        [
          [
            'one bare spawn (raw-pipe loop, first reply)',
            formatSpread(bareMs, 1),
            '1.00×',
          ],
          ...Object.entries(pools).flatMap(([size, entry]) => {
            const rows = [
              [
                `pyroost pool of ${size}`,
                formatSpread(entry.ms, 1),
                ratio(entry.ratio),
              ],
            ];
            const loops = rawLoops?.[size];
            if (loops) {
              rows.push([
                `${size} raw-pipe loops started at once`,
                formatSpread(loops.ms, 1),
                ratio(loops.ratio),
              ]);
            }
            return rows;
          }),
        ],
      ),
    );
  }
  if (results.memory) {
    const memory = results.memory;
    parts.push(
      table(
        ['process', 'RSS MB, median (min–max)'],
        [
          ['bare python3 waiting on stdin', formatSpread(memory.bareMb, 1)],
          ['raw-pipe loop', formatSpread(memory.rawPipeMb, 1)],
          ['pyroost worker after 20 calls', formatSpread(memory.pyroostMb, 1)],
          [
            'pyroost worker over bare python3',
            formatSpread(memory.overheadMb, 1),
          ],
        ],
      ),
    );
  }
  if (results.replacement) {
    parts.push(
      table(
        [
          'SIGKILLed worker replaced (answered a ping) in',
          'ms, median (min–max)',
        ],
        [
          [
            'supervisor default (first back-off 100 ms)',
            formatSpread(results.replacement.defaultBackoff, 1),
          ],
          [
            'initialBackoffMs 0',
            formatSpread(results.replacement.noBackoff, 1),
          ],
        ],
      ),
    );
  }
  if (results.queue) {
    const { flatness, ...counts } = results.queue;
    parts.push(
      table(
        [
          'callers queued at once',
          'drain ms',
          'µs per call',
          'heap held by the queued callers, MB',
          'peak heap growth, MB',
        ],
        Object.entries(counts).map(([count, entry]) => [
          Number(count).toLocaleString('en-US'),
          formatSpread(entry.drainMs),
          formatSpread(entry.perCallUs, 1),
          formatSpread(entry.heapMb, 1),
          formatSpread(entry.peakHeapMb, 1),
        ]),
      ) + `\n\nPer-call cost, largest queue over smallest: ${ratio(flatness)}.`,
    );
  }
  if (results.batch) {
    parts.push(
      table(
        [
          'workers',
          'callers',
          'raw pipe single no-op calls/s',
          'executeBatch no-op items/s',
          '× raw',
        ],
        results.batch.map((entry) => [
          entry.workers,
          entry.callers,
          formatSpread(entry.rawCallsPerSecond),
          formatSpread(entry.batchItemsPerSecond),
          ratio(entry.ratio),
        ]),
      ),
    );
  }
  return parts;
}

/** Checks each target against this run; `pass` is undefined when the run did not measure it. */
export function evaluateTargets(results) {
  const cells = results.cells ?? [];
  const worst = (entries, pick, direction) => {
    const values = entries.map(pick).filter((value) => Number.isFinite(value));
    if (values.length === 0) return undefined;
    return direction === 'min' ? Math.min(...values) : Math.max(...values);
  };
  const noop = cells.filter((cell) => cell.workload === 'noop');
  const crowded = cells.filter((cell) => cell.callers === 64);
  const large = cells.filter((cell) => cell.workload === '10mb');
  const targets = [];
  const add = (name, measured, pass, detail) =>
    targets.push({ name, measured, pass, detail });

  for (const workers of [...new Set(noop.map((cell) => cell.workers))]) {
    const atSize = noop.filter((cell) => cell.workers === workers);
    const plain = worst(
      atSize,
      (cell) => cell.systems.pyroost?.ratioCalls.median,
      'min',
    );
    add(
      `no-op calls/s ≥ 0.9× raw pipe, ${workers} worker(s)`,
      plain,
      plain >= 0.9,
      'lowest ratio over the caller counts',
    );
    const traced = worst(
      atSize,
      (cell) => cell.systems.otel?.ratioCalls.median,
      'min',
    );
    add(
      `no-op calls/s with the OTel SDK ≥ 0.7× raw pipe, ${workers} worker(s)`,
      traced,
      traced >= 0.7,
      'lowest ratio over the caller counts',
    );
  }
  const p99 = worst(
    crowded,
    (cell) => cell.systems.pyroost?.ratioP99.median,
    'max',
  );
  add(
    'p99 latency ≤ 1.5× raw pipe under 64 callers',
    p99,
    p99 <= 1.5,
    'highest ratio over workloads and worker counts',
  );
  const bandwidth = worst(
    large,
    (cell) => cell.systems.pyroost?.ratioCalls.median,
    'min',
  );
  add(
    '10 MB MB/s ≥ 0.8× raw pipe',
    bandwidth,
    bandwidth >= 0.8,
    'lowest ratio over worker and caller counts',
  );
  const overShell = worst(
    large,
    (cell) =>
      cell.systems.pyroost?.megabytesPerSecond.median /
      cell.systems.shell?.megabytesPerSecond.median,
    'min',
  );
  add(
    '10 MB MB/s ≥ 2× python-shell',
    overShell,
    overShell >= 2,
    'lowest ratio over worker and caller counts',
  );
  if (results.start?.pools?.[4]) {
    const value = results.start.pools[4].ratio.median;
    add(
      'pool of 4 ready ≤ 1.5× one bare spawn',
      value,
      value <= 1.5,
      'ratio of medians of paired runs',
    );
  }
  if (results.memory) {
    const value = results.memory.overheadMb.median;
    add(
      'bridge adds ≤ 5 MB RSS per worker',
      value,
      value <= 5,
      'MB over a bare python3',
    );
  }
  if (results.queue) {
    const flat = results.queue.flatness.median;
    add(
      'queued callers: per-call cost flat',
      flat,
      flat <= 1.25,
      'largest over smallest queue, per call; flat means ≤ 1.25',
    );
    const counts = Object.keys(results.queue).filter(
      (key) => key !== 'flatness',
    );
    const heap = Math.max(
      ...counts.map((count) => results.queue[count].heapMb.max),
    );
    add(
      'queued callers: heap < 200 MB',
      heap,
      heap < 200,
      'largest heap held by the queued callers after a full GC, MB',
    );
  }
  if (results.batch) {
    const value = worst(results.batch, (entry) => entry.ratio.median, 'min');
    add(
      'executeBatch of 100 no-ops ≥ 5× raw single-call rate',
      value,
      value >= 5,
      'lowest over configurations',
    );
  }
  return targets;
}

export function targetsTable(targets) {
  return table(
    ['target', 'measured', 'verdict', 'how'],
    targets.map((target) => [
      target.name,
      Number.isFinite(target.measured) ? fixed(target.measured, 2) : '–',
      target.measured === undefined
        ? 'not measured'
        : target.pass
          ? 'pass'
          : 'miss',
      target.detail,
    ]),
  );
}

const escapeXml = (text) =>
  String(text).replace(/[<>&"]/g, (char) => `&#${char.charCodeAt(0)};`);

/**
 * Draws calls/s of the no-op program with two callers per worker against the
 * worker count, one line per system, with min–max bars. Returns SVG text.
 */
export function callsChart(results) {
  const cells = results.cells.filter(
    (cell) => cell.workload === 'noop' && cell.callers === cell.workers * 2,
  );
  const workerCounts = [...new Set(cells.map((cell) => cell.workers))].sort(
    (a, b) => a - b,
  );
  const colors = [
    '#222222',
    '#d1495b',
    '#00798c',
    '#66a182',
    '#edae49',
    '#8d6cab',
  ];
  const width = 640;
  const height = 400;
  const margin = { left: 70, right: 190, top: 40, bottom: 50 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const maxValue = Math.max(
    1,
    ...cells.flatMap((cell) =>
      results.systems.map(
        (system) => cell.systems[system.key]?.callsPerSecond.max ?? 0,
      ),
    ),
  );
  const step = 10 ** Math.floor(Math.log10(maxValue));
  const top = Math.ceil(maxValue / step) * step;
  const x = (index) =>
    margin.left +
    (workerCounts.length === 1
      ? plotWidth / 2
      : (index * plotWidth) / (workerCounts.length - 1));
  const y = (value) => margin.top + plotHeight - (value / top) * plotHeight;

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${margin.left}" y="22" font-size="14" font-weight="bold">No-op calls/s, two callers per worker (median, bars min–max)</text>`,
  ];
  for (let tick = 0; tick <= top; tick += top / 5) {
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e0e0e0"/>`,
      `<text x="${margin.left - 8}" y="${y(tick) + 4}" text-anchor="end">${escapeXml(fixed(tick))}</text>`,
    );
  }
  workerCounts.forEach((count, index) => {
    parts.push(
      `<text x="${x(index)}" y="${margin.top + plotHeight + 20}" text-anchor="middle">${count}</text>`,
    );
  });
  parts.push(
    `<text x="${margin.left + plotWidth / 2}" y="${height - 10}" text-anchor="middle">workers</text>`,
    `<text transform="translate(16 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">calls per second</text>`,
    `<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotHeight}" stroke="#444"/>`,
    `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${margin.top + plotHeight}" y2="${margin.top + plotHeight}" stroke="#444"/>`,
  );

  results.systems.forEach((system, systemIndex) => {
    const color = colors[systemIndex % colors.length];
    const points = workerCounts.map((count, index) => {
      const cell = cells.find((candidate) => candidate.workers === count);
      return { index, value: cell.systems[system.key].callsPerSecond };
    });
    const dash = system.key.includes('otel') ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${points
        .map(
          (point) =>
            `${x(point.index).toFixed(1)},${y(point.value.median).toFixed(1)}`,
        )
        .join(' ')}"/>`,
    );
    for (const point of points) {
      const px = x(point.index).toFixed(1);
      parts.push(
        `<line x1="${px}" x2="${px}" y1="${y(point.value.min).toFixed(1)}" y2="${y(point.value.max).toFixed(1)}" stroke="${color}"/>`,
        `<circle cx="${px}" cy="${y(point.value.median).toFixed(1)}" r="3.5" fill="${color}"/>`,
      );
    }
    const legendY = margin.top + 10 + systemIndex * 22;
    const legendX = margin.left + plotWidth + 20;
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 24}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${legendX + 30}" y="${legendY + 4}">${escapeXml(system.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
