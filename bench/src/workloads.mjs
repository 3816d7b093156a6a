// The workloads: what each call sends and which program runs it.

const WORDS =
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(
    ' ',
  );

/**
 * Builds a JSON payload of about `bytes` bytes: an array of rows, each with an
 * integer id, a short name, about 200 characters of text and a float score,
 * the shape of a page of database rows or documents. The content is
 * deterministic, so every system sends the same bytes.
 */
export function makeRows(bytes) {
  const rows = [];
  let size = 2;
  for (let index = 0; size < bytes; index += 1) {
    let text = '';
    let word = index;
    while (text.length < 200) {
      text += `${WORDS[word % WORDS.length]} `;
      word = (word * 7 + 3) % 1009;
    }
    const row = {
      id: index,
      name: `row-${String(index).padStart(8, '0')}`,
      text,
      score: Math.round((((index * 7919) % 10007) / 10007) * 1e6) / 1e6,
    };
    rows.push(row);
    size += JSON.stringify(row).length + 1;
  }
  return rows;
}

/** Returns the workload definitions, building each payload once. */
export function makeWorkloads(keys) {
  const all = {
    noop: { label: 'no-op', program: 'noop', inputs: {}, bytes: 0 },
    '1kb': { label: '1 KB echo', program: 'echo', payloadBytes: 1024 },
    '1mb': { label: '1 MB echo', program: 'echo', payloadBytes: 1024 * 1024 },
    '10mb': {
      label: '10 MB echo',
      program: 'echo',
      payloadBytes: 10 * 1024 * 1024,
    },
    cpu5: { label: '5 ms CPU', program: 'cpu', inputs: { ms: 5 }, bytes: 0 },
  };
  return keys.map((key) => {
    const workload = { key, ...all[key] };
    if (workload.payloadBytes !== undefined) {
      workload.inputs = { payload: makeRows(workload.payloadBytes) };
      workload.bytes = Buffer.byteLength(
        JSON.stringify(workload.inputs.payload),
      );
    }
    return workload;
  });
}
