import { describe, expect, it } from 'vitest';
import { createSharedBudget } from '../../../src/adapters/key-vault/shared-budget';
import { InMemoryStateStore, ManualClock } from '../../support/in-memory';

describe('createSharedBudget', () => {
  it('lets two instances sharing one state store start no more than the budget in any window together', async () => {
    const clock = new ManualClock();
    const state = new InMemoryStateStore();
    const options = { state, key: 'budget/subscription', perSecond: 50, clock };
    const instances = [createSharedBudget(options), createSharedBudget(options)];
    const starts: number[] = [];
    await Promise.all(
      instances.map(async (budget) => {
        for (let i = 0; i < 150; i++) {
          await budget.take();
          starts.push(clock.now().getTime());
        }
      }),
    );
    const perWindow = new Map<number, number>();
    for (const at of starts) perWindow.set(Math.floor(at / 1000), (perWindow.get(Math.floor(at / 1000)) ?? 0) + 1);
    expect(Math.max(...perWindow.values())).toBeLessThanOrEqual(50);
    expect(perWindow.size).toBeGreaterThanOrEqual(6);
  });

  it('hands a lone instance its tokens in leases, not one store write per call', async () => {
    const clock = new ManualClock();
    const state = new InMemoryStateStore();
    let writes = 0;
    const write = state.write.bind(state);
    state.write = async (...args: Parameters<typeof state.write>) => {
      writes += 1;
      return write(...args);
    };
    const budget = createSharedBudget({ state, key: 'budget/subscription', perSecond: 1_000, clock });
    for (let i = 0; i < 500; i++) {
      await budget.take();
      clock.advance(2);
    }
    expect(writes).toBeLessThan(150);
  });
});
