import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI_BIN } from '../support/cli';

const run = promisify(execFile);
const FAKE_EXECVE = join(__dirname, '..', 'support', 'fake-execve.cjs');
const V8_FLAGS = JSON.parse(readFileSync(join(__dirname, '..', '..', 'bin', 'v8-flags.json'), 'utf8')) as string[];

describe('the CLI entry point', () => {
  it('replaces itself with a node process that has its V8 flags, keeping node options and arguments', async () => {
    const { stdout } = await run(process.execPath, ['--require', FAKE_EXECVE, CLI_BIN, 'backup', '--json']);
    expect(JSON.parse(stdout)).toEqual({
      file: process.execPath,
      args: [process.execPath, ...V8_FLAGS, '--require', FAKE_EXECVE, CLI_BIN, 'backup', '--json'],
    });
  });

  it('runs as it is once the flags are there, so it replaces itself at most once', async () => {
    const { stdout } = await run(process.execPath, [...V8_FLAGS, '--require', FAKE_EXECVE, CLI_BIN, '--version']);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('runs as it is, with the defaults of V8, when the system refuses to replace the process', async () => {
    const { stdout } = await run(process.execPath, ['--require', FAKE_EXECVE, CLI_BIN, '--version'], {
      env: { ...process.env, FAKE_EXECVE_REFUSES: '1' },
    });
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
