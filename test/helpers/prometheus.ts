// Reads Prometheus text exposition (version 0.0.4) the way a scraper must: every sample line is a
// series, named by its metric name and label set, and a scrape with the same series twice is
// rejected whole ("duplicate sample for timestamp").

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const l = LABEL.exec(body);
      if (!l) throw new Error(`bad labels in ${JSON.stringify(line)}`);
      if (l[1] in labels) throw new Error(`label ${l[1]} twice in ${JSON.stringify(line)}`);
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const value = Number(m[3]);
    if (Number.isNaN(value)) throw new Error(`bad value in ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels, value });
  }
  return samples;
}

/** The series (name and label set) that appear more than once. */
export function duplicateSeries(samples: readonly Sample[]): string[] {
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const s of samples) {
    const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => a.localeCompare(b)))}`;
    if (seen.has(key)) duplicates.push(key);
    seen.add(key);
  }
  return duplicates;
}

export function samplesOf(samples: readonly Sample[], name: string): Sample[] {
  return samples.filter((s) => s.name === name);
}
