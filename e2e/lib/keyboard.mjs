// Keyboard-only driving: Tab to an element (found by role and name), then
// Enter or typing. No clicks.

// focused tells whether the element is the one with the keyboard focus.
export function focused(locator) {
  return locator.evaluate((el) => el === document.activeElement);
}

// tabTo presses Tab until the locator has the focus, and fails if it is not
// reached within max presses (not in the tab order, or hidden).
export async function tabTo(page, locator, { max = 25, what } = {}) {
  await locator.waitFor();
  for (let i = 0; i < max; i++) {
    if (await focused(locator)) return i;
    await page.keyboard.press('Tab');
  }
  if (await focused(locator)) return max;
  const active = await page.evaluate(() => document.activeElement?.outerHTML?.slice(0, 200));
  throw new Error(`${what ?? locator} was not reached with ${max} presses of Tab (focus is on ${active})`);
}

// press tabs to a button or link and presses Enter on it.
export async function press(page, locator, opts) {
  await tabTo(page, locator, opts);
  await page.keyboard.press('Enter');
}

// type tabs to a field (unless it already has the focus) and types text.
export async function type(page, locator, text, opts) {
  await tabTo(page, locator, opts);
  await page.keyboard.type(text, { delay: 10 });
}
