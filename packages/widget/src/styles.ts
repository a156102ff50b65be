// The widget's only stylesheet, adopted into the shadow root (no <style>, no style=),
// so a Content-Security-Policy of `style-src 'self'` is enough. `all: initial` on the widget
// root keeps out what the page's styles give <parley-chat> to inherit, `!important` ones too
// (a `* { text-transform: uppercase !important }`); the shadow boundary keeps these in. The
// host itself keeps the page's rules, so `parley-chat { display: none }` still hides it.
// Theme hooks: --parley-primary, --parley-offset (-x, -y), --parley-z-index on <parley-chat>,
// and the `position="left"` attribute.
// Class names are one or two letters because every byte ships to every shopper. Legend:
//   w  the widget root (theme variables)      l   launcher button       b   unread badge
//   p  the chat panel                         h   header                av  avatar
//   bd bot/AI/human badge                     hu  "talk to a human"     cl  close button
//   n  offline notice                         m   message list (log)    e   timeline notice (joined, left)
//   g  one message group (g v: the visitor's) t   sender line / time    x   message text bubble
//   q  quick-reply or card buttons            c   card                  pr  card price
//   fl failed status                          rt  retry button          y   status: typing, queue, connecting, ended
//   d  typing dots                            o   form (offline, rating, closed) with k its button
//   r  rating form                            on  a chosen rating star  f   composer form
//   ct character count                        s   send button           u   panel's opening animation
//   lg the live log inside m (drafts follow it) z   an answer being written (caret)
//   fb 👍/👎 button (its comment form is a q)
//   a  attach button (a label around its file input)                im  an attached image
//   bb the bubble over the closed launcher     bt  its text (a button that opens the panel)
//   ps past conversations, in place of the chat (what follows it hides): pl their list, pv one of them
// The rules of the extras' parts (c, pr, r, on, im, ps, pl, pv) come with them: extras-styles.ts.
import { DEFAULT_PRIMARY } from './contrast.js';

export const CSS = `
.w{all:initial;--p:var(--parley-primary,${DEFAULT_PRIMARY});--o:var(--parley-offset,20px);--x:var(--parley-offset-x,var(--o));--y:var(--parley-offset-y,var(--o));font:14px/1.45 system-ui,sans-serif;color:#1f2328}
*{box-sizing:border-box}
p{margin:0}
button,input,textarea{font:inherit;color:inherit;margin:0}
button{cursor:pointer;border:0;background:none;padding:0}
button:disabled{cursor:default;opacity:.5}
:focus-visible{outline:2px solid var(--p);outline-offset:2px}
.h :focus-visible,.v .x :focus-visible{outline-color:#fff}
.l,.p,.bb{position:fixed;bottom:var(--y);right:var(--x);z-index:var(--parley-z-index,2147483647)}
:host([position=left]) .l,:host([position=left]) .p,:host([position=left]) .bb{right:auto;left:var(--x)}
.l{padding:16px;border-radius:50%;background:var(--p);color:#fff;display:grid;place-items:center;box-shadow:0 4px 12px #0003}
svg{width:24px;height:24px;fill:currentColor}
.b{position:absolute;top:-4px;right:-4px;min-width:20px;padding:0 6px;border-radius:10px;background:#b42318;color:#fff;font-size:12px;line-height:20px}
.p{display:flex;flex-direction:column;width:370px;height:min(600px,calc(100vh - 2*var(--y)));background:#fff;border-radius:12px;box-shadow:0 8px 32px #0004;overflow:hidden;overscroll-behavior:contain;animation:u .2s}
@keyframes u{from{opacity:0}}
.h{display:flex;align-items:center;gap:8px;padding:12px;background:var(--p);color:#fff}
.h div{flex:1;min-width:0;display:flex;flex-direction:column;align-items:flex-start}
.av{width:32px;height:32px;border-radius:50%}
.bd{padding:0 6px;border-radius:8px;background:var(--p);color:#fff;font-size:12px}
.h .bd,.hu{background:#fff;color:var(--p)}
.hu{padding:4px 10px;border-radius:16px;font-weight:600}
.cl{font-size:24px;line-height:1;padding:0 4px}
.bb{bottom:calc(var(--y) + 68px);max-width:300px;padding:12px;padding-inline-end:32px;background:#fff;border-radius:12px;box-shadow:0 4px 12px #0003}
.bt{text-align:start}
.bb .cl{position:absolute;top:4px;inset-inline-end:4px;color:#57606a}
.n{padding:8px 12px;background:#fff4e5;color:#5c3b00;font-size:13px}
.m{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:12px}
.m,.lg{display:flex;flex-direction:column;gap:10px}
.g{max-width:85%;display:flex;flex-direction:column;align-items:flex-start;gap:2px}
.g.v{align-self:flex-end;align-items:flex-end}
.g .x{padding:8px 12px;border-radius:14px;background:#f1f3f5;white-space:pre-wrap;overflow-wrap:anywhere}
.v .x{background:var(--p);color:#fff}
a{color:inherit}
.t,.e,.y,.ct{font-size:12px;color:#57606a}
.e{align-self:center;text-align:center}
.fl{color:#b42318}
.rt{margin-inline-start:6px;text-decoration:underline;color:#b42318}
.fb{font-size:16px;padding:2px 4px;border-radius:8px}
.fb[aria-pressed=true]{background:#d0d7de}
.q{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}
.q button,.q a,.k{padding:4px 12px;border:1px solid var(--p);border-radius:16px;color:var(--p);background:#fff;text-decoration:none}
.y{padding:0 12px;min-height:18px}
.d:after{content:"•••";animation:b 1s infinite alternate}
.z .x:after{content:"▍";animation:b 1s infinite alternate}
@keyframes b{to{opacity:.2}}
.f,.o{display:flex;gap:8px;padding:8px 12px;border-top:1px solid #d0d7de;position:relative}
.f{align-items:flex-end}
.o{flex-direction:column;align-items:flex-start;padding:12px}
textarea,input{width:100%;flex:1;resize:none;border:1px solid #8c959f;border-radius:8px;padding:8px;background:#fff}
.f textarea{max-height:120px;min-height:40px}
:placeholder-shown{direction:inherit}
.s{width:40px;height:40px;flex:none;border-radius:50%;background:var(--p);color:#fff;display:grid;place-items:center}
.a{height:40px;display:grid;place-items:center;color:#57606a;cursor:pointer}
.a input{position:absolute;width:1px;opacity:0}
.a:focus-within{outline:2px solid var(--p)}
.ct{position:absolute;top:-18px;inset-inline-end:12px}
@media (max-width:640px){.w{--o:var(--parley-offset,12px)}.l{padding:12px}.w .p,:host([position]) .p{inset:var(--parley-vt,0) 0 auto;width:100%;height:var(--parley-vh,100%);border-radius:0}}
@media (prefers-reduced-motion:reduce){*,:after{animation:none!important;transition:none!important}}
`;
