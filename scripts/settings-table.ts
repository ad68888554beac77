// Prints the README's configuration table from the one settings schema (src/config.ts): `npm run settings-table`.
import { settingsTable } from '../src/config';

const rows = settingsTable().map(
  (row) =>
    `| \`${row.name}\` | ${row.default ? `\`${row.default}\`` : ''} | ${row.description.replace(/\|/g, '\\|')} |`,
);
process.stdout.write(['| Setting | Default | What it is for |', '| --- | --- | --- |', ...rows].join('\n') + '\n');
