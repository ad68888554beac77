import { ageOf, formatDuration } from '../core/age';
import type { RunHeader } from '../core/backup/run-history';
import type { DashboardData, DashboardVault, Rag } from '../core/dashboard';
import type { AlertHistoryItem, RestoreHistoryItem } from '../core/history';

/**
 * The status page as one HTML document: a little CSS and inline SVG, no script and no external resource. Every value
 * that comes from a vault, a request or an alert is escaped.
 */
export function renderDashboard(data: DashboardData): string {
  const now = new Date(data.generatedAt);
  const worst = worstRag(data);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kvguard status</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1><span class="dot ${worst}"></span>kvguard status</h1>
  <p class="muted">${esc(headline(data))} · generated ${esc(data.generatedAt)}</p>
</header>
${data.problems.length > 0 ? `<p class="problem">Not shown: ${data.problems.map(esc).join(', ')}</p>` : ''}
<section>
  <h2>Vaults</h2>
  <div class="cards">${data.vaults.map((v) => vaultCard(v, now)).join('') || '<p class="muted">No vault configured.</p>'}</div>
</section>
<section>
  <h2>Recent runs</h2>
  ${timeline(data.runs)}
  ${runTable(data.runs.slice(0, 10), now)}
</section>
<section class="two">
  <div>
    <h2>Alerts <span class="muted small">${data.alerts.pending} pending · ${data.alerts.parked} parked</span></h2>
    ${alertTable(data.alerts.items, now)}
  </div>
  <div>
    <h2>Restores</h2>
    ${restoreTable(data.restores, now)}
    <h2>Last restore drill</h2>
    ${drill(data.lastDrill, now)}
    <h2>Near the 500-version limit</h2>
    ${nearLimit(data)}
  </div>
</section>
</body>
</html>
`;
}

/** Escapes text for HTML element content and attribute values. */
export function esc(text: string | number | undefined): string {
  return String(text ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

const RAG_TEXT: Record<Rag, string> = { green: 'within RPO', amber: 'near RPO', red: 'RPO BREACHED' };

function worstRag(data: DashboardData): Rag {
  const rags = data.vaults.map((v) => v.rag);
  return rags.includes('red') ? 'red' : rags.includes('amber') || data.alerts.parked > 0 ? 'amber' : 'green';
}

function headline(data: DashboardData): string {
  const breached = data.vaults.filter((v) => v.rag === 'red').length;
  const vaults = `${data.vaults.length} vault${data.vaults.length === 1 ? '' : 's'}`;
  return breached > 0 ? `${vaults}, ${breached} past RPO` : `${vaults}, all within RPO`;
}

function vaultCard(v: DashboardVault, now: Date): string {
  const share = v.ageHours === undefined ? 1 : Math.min(1, v.ageHours / (v.rpoHours * 1.25));
  const rpoAt = 1 / 1.25;
  const age = v.lastSuccessAt ? `${ageOf(v.lastSuccessAt, now)} ago` : 'never';
  const counts = v.counts
    ? `${v.counts.stored} stored · ${v.counts.unchanged} unchanged · ${v.counts.failed} failed`
    : 'no successful run yet';
  return `<article class="card ${v.rag}" data-vault="${esc(v.vault)}" data-rag="${v.rag}">
  <div class="card-head"><span class="dot ${v.rag}"></span><strong>${esc(v.vault)}</strong><span class="badge ${v.rag}">${RAG_TEXT[v.rag]}</span></div>
  <div class="muted small">${esc(v.url)}</div>
  <div class="age">last success <strong>${esc(age)}</strong> · RPO ${esc(v.rpoHours)} h</div>${v.paused ? `\n  <div class="small">paused: ${esc(v.paused.reason)}</div>` : ''}
  <svg class="gauge" viewBox="0 0 200 14" preserveAspectRatio="none" role="img" aria-label="backup age ${esc(age)} against an RPO of ${esc(v.rpoHours)} h">
    <rect x="0" y="3" width="200" height="8" rx="4" class="track"/>
    <rect x="0" y="3" width="${(share * 200).toFixed(1)}" height="8" rx="4" class="fill ${v.rag}"/>
    <line x1="${(rpoAt * 200).toFixed(1)}" x2="${(rpoAt * 200).toFixed(1)}" y1="0" y2="14" class="rpo"/>
  </svg>
  <div class="muted small">${esc(counts)}</div>
</article>`;
}

/** An inline SVG of the recent runs, oldest left: one column per run, stored / unchanged / failed stacked. */
function timeline(runs: readonly RunHeader[]): string {
  if (runs.length === 0) return '<p class="muted">No backup run recorded yet.</p>';
  const shown = [...runs].reverse();
  const width = 760;
  const height = 120;
  const step = width / Math.max(shown.length, 12);
  const most = Math.max(1, ...shown.map((r) => r.stats.stored + r.stats.unchanged + r.stats.failed));
  const bars = shown
    .map((r, i) => {
      const x = i * step + step * 0.15;
      const w = step * 0.7;
      let y = height - 16;
      const segments = (['failed', 'stored', 'unchanged'] as const)
        .map((kind) => {
          const h = (r.stats[kind] / most) * (height - 24);
          y -= h;
          return h > 0
            ? `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" class="${kind}"/>`
            : '';
        })
        .join('');
      const marker =
        r.outcome === 'succeeded'
          ? ''
          : `<rect x="${x.toFixed(1)}" y="${height - 12}" width="${w.toFixed(1)}" height="4" class="outcome-${r.outcome}"/>`;
      const title = `${r.vault} ${r.startedAt}: ${r.outcome}, ${r.stats.stored} stored, ${r.stats.unchanged} unchanged, ${r.stats.failed} failed`;
      return `<g><title>${esc(title)}</title>${segments || `<rect x="${x.toFixed(1)}" y="${height - 18}" width="${w.toFixed(1)}" height="2" class="unchanged"/>`}${marker}</g>`;
    })
    .join('');
  return `<svg class="timeline" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img" aria-label="recent backup runs, oldest left">
  <line x1="0" x2="${width}" y1="${height - 15.5}" y2="${height - 15.5}" class="axis"/>${bars}
</svg>
<p class="legend small"><span class="key stored"></span>stored <span class="key unchanged"></span>unchanged <span class="key failed"></span>failed <span class="key outcome-failed"></span>run failed <span class="key outcome-incomplete"></span>partial or incomplete <span class="muted">· oldest left, newest right; hover a bar for details</span></p>`;
}

function runTable(runs: readonly RunHeader[], now: Date): string {
  if (runs.length === 0) return '';
  const rows = runs
    .map(
      (r) =>
        `<tr><td>${esc(ageOf(r.startedAt, now))} ago</td><td>${esc(r.vault)}</td><td><span class="badge ${outcomeRag(r.outcome)}">${esc(r.outcome)}</span></td><td>${esc(r.trigger)}</td><td class="num">${r.stats.stored}</td><td class="num">${r.stats.unchanged}</td><td class="num">${r.stats.failed}</td><td class="num">${r.stats.throttled}</td><td class="num">${esc(formatDuration(r.stats.durationMs))}</td><td class="mono small">${esc(r.runId)}</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th>started</th><th>vault</th><th>outcome</th><th>trigger</th><th class="num">stored</th><th class="num">unchanged</th><th class="num">failed</th><th class="num">429s</th><th class="num">took</th><th>run id</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function outcomeRag(outcome: RunHeader['outcome']): Rag {
  return outcome === 'succeeded' ? 'green' : outcome === 'failed' ? 'red' : 'amber';
}

function alertTable(items: readonly AlertHistoryItem[], now: Date): string {
  if (items.length === 0) return '<p class="muted">No alerts.</p>';
  const rag = (s: AlertHistoryItem['status']): Rag => (s === 'delivered' ? 'green' : s === 'parked' ? 'red' : 'amber');
  const rows = items
    .map((a) => {
      const sinks = Object.entries(a.deliveries)
        .map(([sink, d]) => `${esc(sink)}: ${esc(d.status)}${d.status === 'failed' ? ` ×${d.attempts}` : ''}`)
        .join(', ');
      const detail = a.parkedReason ? `<div class="small bad">${esc(a.parkedReason)}</div>` : '';
      return `<tr><td>${esc(ageOf(a.recordedAt, now))} ago</td><td><span class="badge ${rag(a.status)}">${esc(a.status)}</span></td><td><div class="sev-${esc(a.severity)}">${esc(a.type.replace(/^kvguard\./, ''))}</div><div class="small muted">${esc(a.subject)}</div></td><td class="small">${esc(a.summary)}${detail}<div class="muted">${sinks || 'no sink'}</div></td></tr>`;
    })
    .join('');
  return `<table><thead><tr><th>when</th><th>delivery</th><th>alert</th><th>what</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function restoreTable(items: readonly RestoreHistoryItem[], now: Date): string {
  if (items.length === 0) return '<p class="muted">No restore requests.</p>';
  const rows = items
    .map((r) => {
      const counts = Object.entries(r.counts)
        .map(([outcome, n]) => `${n} ${esc(outcome)}`)
        .join(', ');
      return `<tr><td>${esc(ageOf(r.at, now))} ago</td><td>${esc(r.source.vault)} → ${esc(r.target.vault)}${r.dryRun ? ' <span class="muted">(dry run)</span>' : ''}</td><td class="small">${esc(r.outcome)}${counts ? `<div class="muted">${counts}</div>` : ''}</td><td class="small">${esc(r.principal)}</td></tr>`;
    })
    .join('');
  return `<table><thead><tr><th>when</th><th>source → target</th><th>outcome</th><th>by</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function drill(last: RestoreHistoryItem | undefined, now: Date): string {
  if (!last) return '<p class="muted">No drill has run (set KVGUARD_SCRATCH_VAULT for the weekly drill).</p>';
  const rag: Rag = last.outcome === 'passed' ? 'green' : last.outcome === 'failed' ? 'red' : 'amber';
  return `<p><span class="badge ${rag}">${esc(last.outcome)}</span> ${esc(ageOf(last.at, now))} ago into ${esc(last.target.vault)}: ${last.objects} object(s) sampled</p>`;
}

function nearLimit(data: DashboardData): string {
  if (data.nearLimit.length === 0) return '<p class="muted">No object has 400 or more versions.</p>';
  const rows = data.nearLimit
    .map(
      (o) =>
        `<tr><td>${esc(o.vault)}</td><td>${esc(o.type)}</td><td>${esc(o.name)}</td><td class="num ${o.versionCount >= 480 ? 'bad' : ''}">${o.versionCount} / 500</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th>vault</th><th>type</th><th>name</th><th class="num">versions</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const STYLE = `
:root { --green:#1a7f37; --amber:#bf8700; --red:#cf222e; --ink:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 40px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header h1 { margin: 0; font-size: 22px; display: flex; align-items: center; gap: 10px; }
h2 { font-size: 15px; margin: 22px 0 10px; }
section { max-width: 1400px; }
.muted { color: var(--muted); } .small { font-size: 12px; } .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid var(--line); border-left: 5px solid var(--line); border-radius: 8px; padding: 12px 14px; display: grid; gap: 6px; }
.card.green { border-left-color: var(--green); } .card.amber { border-left-color: var(--amber); } .card.red { border-left-color: var(--red); background: #fff8f8; }
.card-head { display: flex; align-items: center; gap: 8px; font-size: 15px; } .card-head .badge { margin-left: auto; }
.dot { width: 12px; height: 12px; border-radius: 50%; display: inline-block; flex: none; }
.dot.green, .fill.green, .key.stored, rect.stored { background: var(--green); fill: var(--green); }
.dot.amber, .fill.amber { background: var(--amber); fill: var(--amber); }
.dot.red, .fill.red, .key.failed, rect.failed { background: var(--red); fill: var(--red); }
rect.unchanged, .key.unchanged { fill: #8c959f; background: #8c959f; }
rect.outcome-failed, .key.outcome-failed { fill: var(--red); background: var(--red); }
rect.outcome-incomplete, rect.outcome-partial, .key.outcome-incomplete { fill: var(--amber); background: var(--amber); }
.gauge { width: 100%; height: 14px; } .track { fill: #eaeef2; } .rpo { stroke: var(--ink); stroke-width: 2; }
.badge { font-size: 11px; font-weight: 600; padding: 1px 8px; border-radius: 10px; border: 1px solid; white-space: nowrap; }
.badge.green { color: var(--green); border-color: var(--green); background: #dafbe1; }
.badge.amber { color: #7d4e00; border-color: var(--amber); background: #fff8c5; }
.badge.red { color: var(--red); border-color: var(--red); background: #ffebe9; }
.timeline { width: 100%; max-width: 1000px; height: 130px; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 6px; }
.axis { stroke: var(--line); }
.legend { color: var(--muted); margin: 6px 0 10px; } .key { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; vertical-align: -1px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
td:first-child { white-space: nowrap; }
th { background: #f6f8fa; font-size: 12px; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.two { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 24px; }
@media (max-width: 1000px) { .two { grid-template-columns: 1fr; } }
.bad, .sev-critical { color: var(--red); font-weight: 600; } .sev-warning { color: #7d4e00; font-weight: 600; }
.problem { background: #fff8c5; border: 1px solid var(--amber); padding: 8px 12px; border-radius: 6px; }
`;
