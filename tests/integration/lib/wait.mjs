// Waiting helpers shared by the integration tests.

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn (may be async) every 25 ms until it returns something truthy,
// which is returned; throws "timed out waiting for <what>" after ms.
export async function until(fn, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(25);
  }
}
