// The rules of the extras' parts (extras.ts), added to the widget's stylesheet when they arrive
// (lazy.ts); the legend of the class names is in styles.ts. A chosen star is `button.on`: a rule
// as specific as the stars' own, and after it.
export const CSS = `
.pl{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:12px;display:flex;flex-direction:column;gap:10px}
.ps,.pv{display:contents}
.p .ps~*,.pv button{display:none}
.pl .x{text-align:start}
.c{width:240px;border:1px solid #d0d7de;border-radius:12px;overflow:hidden}
.c img{display:block;width:100%;height:140px;object-fit:cover}
.c div{padding:8px 12px}
.pr{font-weight:600}
.im img{display:block;max-width:100%;max-height:240px;border-radius:14px}
.r button:not(.k){font-size:24px;color:#6e7781;padding:0 2px}
.r button.on{color:#9a6700}
`;
