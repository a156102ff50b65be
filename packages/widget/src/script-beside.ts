// How the script-tag bundle loads the code it does not carry (attachments, proactive triggers):
// a file from beside the bundle itself, so a page's `script-src` that allows the bundle allows it.

// Read while the bundle runs: `currentScript` is the bundle's <script> only then.
const bundle = (document.currentScript as HTMLScriptElement).src;

/** Load `parley-<name>.js` from beside the bundle; resolves with the global it sets, `Parley<Name>`. */
export const loadBeside = <T>(name: string): Promise<T> =>
  new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = new URL(`parley-${name.toLowerCase()}.js`, bundle).href;
    s.onload = () => resolve((window as unknown as Record<string, T>)['Parley' + name]!);
    s.onerror = reject;
    document.head.append(s);
  });
