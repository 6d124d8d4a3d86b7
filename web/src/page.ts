// What both pages share: the language switch, the words fixed in the HTML (`data-i18n`),
// and one ticker for every countdown on the page (`data-until` + `data-text`).

import { byId } from './dom';
import { countdown, currentLang, setLang, t, type Key } from './i18n';

/** Wires the switch; `rerender` draws the page again in the new language. */
export function mountLangSwitch(rerender: () => void): void {
  const button = byId<HTMLButtonElement>('lang');
  const apply = () => {
    document.documentElement.lang = currentLang();
    for (const el of document.querySelectorAll<HTMLElement>('[data-i18n]')) {
      el.textContent = t(el.dataset.i18n as Key);
    }
    if (button) {
      button.textContent = t('lang.switch');
      button.title = t('lang.switchLabel');
      button.lang = currentLang() === 'en' ? 'ko' : 'en';
    }
  };
  button?.addEventListener('click', () => {
    setLang(currentLang() === 'en' ? 'ko' : 'en');
    apply();
    rerender();
  });
  apply();
}

/** Every half second, each countdown shows its time left; one that reaches zero with a
 * `data-expire` name calls `onExpire(name)` once. */
export function startTicker(onExpire: (name: string) => void): void {
  window.setInterval(() => {
    for (const el of document.querySelectorAll<HTMLElement>('[data-until]')) {
      const left = (Date.parse(el.dataset.until ?? '') - Date.now()) / 1000;
      if (Number.isNaN(left)) continue;
      el.textContent = t(el.dataset.text as Key, { t: countdown(left) });
      if (left <= 0 && el.dataset.expire && !el.dataset.fired) {
        el.dataset.fired = '1';
        onExpire(el.dataset.expire);
      }
    }
  }, 500);
}
